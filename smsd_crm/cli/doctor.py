"""``smsd-crm doctor``: what is wrong with this set-up, and what to do about it.

Each check gives :class:`Finding`s: ``ok`` or a problem, one line saying what was seen and, for a
problem, one saying what to do. The checks look, they never change anything: the config; each modem's
device (present, readable and writable by the user the service runs as, not held by another program)
and, when the daemon is not running, the modem itself (answers AT, SIM PIN state, network, signal, SIM
storage); when the daemon runs, what it last published instead (it holds the ports); the database and
the disk; the web port; the clock and the time zone; the last backup.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import shutil
import socket
import stat
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from ..config import ModemConfig, Settings
from ..errors import ModemError, SmsdError, StorageError
from ..modem import commands
from ..modem.at import AtChannel
from ..modem.serial import open_port
from ..storage import sqlite_backup

DISK_LOW = 500 * 1024 * 1024  # bytes free under which the database's disk is a problem
BACKUP_OLD = timedelta(days=2)
EARLIEST_CLOCK = date(2026, 1, 1)  # a PC whose clock says earlier lost its time (a flat CMOS battery)
SERVICE_USER = "smsd-crm"
UNIT_GROUPS = ("dialout",)  # the shipped unit's SupplementaryGroups=


@dataclass(frozen=True)
class Finding:
    """One check's result: ``what`` was looked at, ``seen`` what was found, ``fix`` what to do (None: ok)."""

    what: str
    seen: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.fix is None


def _groups(user: pwd.struct_passwd) -> set[int]:
    """``user``'s groups; for the service's user also those its unit adds (SupplementaryGroups=dialout)."""
    groups = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem}
    if user.pw_name == SERVICE_USER:
        for name in UNIT_GROUPS:
            try:
                groups.add(grp.getgrnam(name).gr_gid)
            except KeyError:
                pass
    return groups


def _can(path: Path, user: pwd.struct_passwd, want: int) -> bool:
    """Whether ``user`` may read and write ``path`` by its mode bits (root may always)."""
    if user.pw_uid == 0:
        return True
    st = path.stat()
    groups = _groups(user)
    if st.st_uid == user.pw_uid:
        bits = (st.st_mode >> 6) & 7
    elif st.st_gid in groups:
        bits = (st.st_mode >> 3) & 7
    else:
        bits = st.st_mode & 7
    return bits & want == want


def device(modem: ModemConfig, user: pwd.struct_passwd) -> Finding:
    """The modem's device path: there, a character device, and usable by ``user``."""
    what = f"modem {modem.id}: {modem.port}"
    if modem.port == "emulator" or modem.port.startswith("socket://"):
        return Finding(what, "not a device (emulated or over the network)")
    path = Path(modem.port)
    if not path.exists():
        return Finding(what, "no such device", "plug the modem in, or name it by its stable path "
                       "(ls -l /dev/serial/by-id/; docs/operations.md, Modems)")
    if not (stat.S_ISCHR(path.stat().st_mode) or path.resolve().name.startswith("pts")):
        return Finding(what, "not a serial device", "modems[].port names the modem's tty, e.g. /dev/ttyUSB2")
    if not _can(path, user, 6):
        group = grp.getgrgid(path.stat().st_gid).gr_name
        return Finding(what, f"{user.pw_name} may not read and write it (owner "
                       f"{pwd.getpwuid(path.stat().st_uid).pw_name}, group {group}, mode "
                       f"{stat.filemode(path.stat().st_mode)})",
                       f"usermod -aG {group} {user.pw_name}, then log in again (or restart the service)")
    return Finding(what, f"present, usable by {user.pw_name}")


async def modem_answers(modem: ModemConfig, timeout: float = 5.0) -> list[Finding]:
    """Open the modem for a moment and ask it what the daemon asks at start (the daemon must not run)."""
    what = f"modem {modem.id}"
    try:
        transport, channel = await open_port(modem.id, modem.port, lambda: AtChannel(
            modem.id, lambda *a: None, lambda e: None), modem.baudrate, timeout)
    except ModemError as exc:
        busy = "busy" in str(exc).lower() or "lock" in str(exc).lower()
        return [Finding(what, str(exc).removeprefix(f"modem {modem.id}: "),
                        "another program holds it: stop it (systemctl disable --now ModemManager)" if busy else
                        "check the cable and the port; a modem that shows as a CD-ROM needs usb_modeswitch")]
    out = []
    try:
        async with asyncio.timeout(timeout):
            await channel.opened.wait()
        channel.abort_input()

        async def ask(command: str) -> list[str]:
            return await channel.command(command, timeout)
        try:
            await ask("AT")
        except (ModemError, TimeoutError):
            return [Finding(what, "does not answer AT", "is it the modem's AT port? sticks have several "
                            "(try the other /dev/ttyUSB*); unplug and plug it in")]
        cpin = commands.parse_cpin(await _tolerant(ask, "AT+CPIN?"))
        if cpin and cpin != "READY":
            fix = ("set modems[].pin (pin: {$env: SIM1_PIN})" if cpin == "SIM PIN" and modem.pin is None else
                   "the PIN in modems[].pin is wrong or the SIM is blocked: unlock it in a phone (PUK)"
                   if cpin in ("SIM PIN", "SIM PUK") else "check the SIM card")
            out.append(Finding(f"{what}: SIM", f"asks for {cpin}", fix))
        else:
            out.append(Finding(f"{what}: SIM", "ready" if cpin else "PIN state not told"))
        creg = await _tolerant(ask, "AT+CREG?")
        state = commands.parse_creg(creg[0], unsolicited=False) if creg else None
        if state is not None and state not in commands.REGISTERED:
            out.append(Finding(f"{what}: network", f"not registered (+CREG state {state})",
                               "an active SIM, the antenna, a place with signal; a new SIM may need a call first"))
        signal = commands.parse_csq(await _tolerant(ask, "AT+CSQ"))
        if signal is not None and (signal == 99 or signal < 8):
            out.append(Finding(f"{what}: signal", f"{signal}/31", "move the modem (a USB extension cable helps)"))
        storage = commands.parse_cpms(await _tolerant(ask, "AT+CPMS?"))
        if storage and storage[0] >= storage[1]:
            out.append(Finding(f"{what}: SIM storage", f"full ({storage[0]}/{storage[1]})",
                               "start the daemon: it reads and empties it"))
        return out
    except TimeoutError:
        return [Finding(what, "opened but never ready", "unplug and plug it in")]
    finally:
        transport.close()
        await asyncio.sleep(0)


async def _tolerant(ask: Callable, command: str) -> list[str]:
    try:
        return await ask(command)
    except (ModemError, TimeoutError):
        return []


def web_port(settings: Settings, daemon_running: bool) -> Finding:
    what = f"web pages: {settings.web.host}:{settings.web.port}"
    if settings.web.port == 0 or daemon_running:
        return Finding(what, "in use by the daemon" if daemon_running else "any free port")
    with socket.socket(socket.AF_INET6 if ":" in settings.web.host else socket.AF_INET) as probe:
        try:
            probe.bind((settings.web.host, settings.web.port))
        except OSError as exc:
            return Finding(what, f"cannot be taken: {exc.strerror}",
                           f"another program listens there (ss -ltnp 'sport = :{settings.web.port}'): "
                           "stop it or change web.port")
    return Finding(what, "free")


def disk(settings: Settings) -> Finding:
    folder = settings.database.path.parent if settings.database.engine == "sqlite" else Path(".")
    where = folder if folder.exists() else Path(folder.anchor or ".")
    free = shutil.disk_usage(where).free
    what = f"disk: {where}"
    if free < DISK_LOW:
        return Finding(what, f"{free / 1e6:.0f} MB free", "free some space: the database and its backups grow")
    return Finding(what, f"{free / 1e9:.1f} GB free")


def clock(settings: Settings, now: datetime) -> Finding:
    local = now.astimezone(settings.store.time.zone)
    what = f"clock: {local:%Y-%m-%d %H:%M} {settings.store.timezone}"
    if local.date() < EARLIEST_CLOCK:
        return Finding(what, "the PC's clock is wrong (a flat CMOS battery?)",
                       "set it: timedatectl set-time 'YYYY-MM-DD HH:MM:SS' (days, reports and quiet hours use it)")
    return Finding(what, "plausible")


def backups(settings: Settings, now: datetime, user: pwd.struct_passwd) -> Finding:
    if settings.database.engine != "sqlite":
        return Finding("backups", "PostgreSQL: pg_dump's (docs/deployment.md)")
    folder = settings.backup.folder
    assert folder is not None
    what = f"backups: {folder}"
    if folder.exists() and not _can(folder, user, 3):
        return Finding(what, f"{user.pw_name} may not write in it (made by another user?): its backups, the "
                       "daily one too, fail", f"chown -R {user.pw_name}: {folder}")
    try:
        newest = sqlite_backup.latest(folder)
    except PermissionError:
        return Finding(what, "cannot be read by this user", "run the doctor as root, or as the service's user")
    if newest is None:
        return Finding(what, "none yet", "smsd-crm backup, and backup.daily_at: \"02:30\" for one every day")
    age = now - datetime.fromtimestamp(newest.stat().st_mtime, timezone.utc)
    if age > BACKUP_OLD:
        return Finding(what, f"the newest is {age.days} days old ({newest.name})",
                       "smsd-crm backup; backup.daily_at makes one every day")
    return Finding(what, f"newest {newest.name}")


def database(settings: Settings, user: pwd.struct_passwd) -> Finding:
    if settings.database.engine != "sqlite":
        return Finding("database", settings.database.shown())
    path = settings.database.path
    if not path.exists():
        return Finding(f"database: {path}", "not made yet (the daemon makes it at its first start)")
    if not _can(path, user, 6) or not _can(path.parent, user, 3):
        return Finding(f"database: {path}", f"{user.pw_name} may not read and write it or its folder (owner "
                       f"{pwd.getpwuid(path.stat().st_uid).pw_name}; restored or made by root?)",
                       f"chown {user.pw_name}: {path.parent} {path}*")
    try:
        sqlite_backup.check(path)
    except StorageError as exc:
        return Finding(f"database: {path}", str(exc), "restore the last backup (smsd-crm restore latest)")
    return Finding(f"database: {path}", "integrity ok")


async def examine(settings: Settings, user: pwd.struct_passwd, now: datetime) -> list[Finding]:
    """Every check, in the order an operator fixes things."""
    running = settings.database.engine == "sqlite" and sqlite_backup.daemon_running(settings.database.path)
    out = [Finding("config", str(settings.source))]
    if running is None:
        out.append(Finding("daemon", "this user cannot tell whether it runs (no access to its files)",
                           "run the doctor as root, or as the service's user"))
        running = True  # do not touch the modems: it may hold them
    for modem in settings.modems:
        found = device(modem, user)
        out.append(found)
        if found.ok and not running and modem.port != "emulator":
            out += await modem_answers(modem)
    if running:
        out.append(Finding("daemon", "running: it holds the modems (smsd-crm status shows them)"))
    out += [database(settings, user), disk(settings), web_port(settings, bool(running)), clock(settings, now),
            backups(settings, now, user)]
    return out


def service_user(name: str | None) -> pwd.struct_passwd:
    """The user whose access is checked: ``name``, else the service's when run as root and it exists,
    else the one running this. SmsdError for an unknown name."""
    if name:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            raise SmsdError(f"no such user: {name}") from None
    if os.geteuid() == 0:
        try:
            return pwd.getpwnam(SERVICE_USER)
        except KeyError:
            pass
    return pwd.getpwuid(os.geteuid())


def report(findings: list[Finding]) -> str:
    """The findings as the doctor prints them: ``ok``/``PROBLEM`` lines, each problem's fix under it."""
    lines = []
    for f in findings:
        lines.append(f"{'ok     ' if f.ok else 'PROBLEM'} {f.what}: {f.seen}")
        if f.fix:
            lines.append(f"        fix: {f.fix}")
    problems = sum(1 for f in findings if not f.ok)
    lines.append(f"{problems} problem(s)" if problems else "no problems found")
    return "\n".join(lines)


def cmd_doctor(args) -> int:
    """Check this set-up (config, modems, database, disk, web port, clock, backups); say what to fix."""
    import sys

    from ..config import load_config
    from ..errors import ConfigError
    from ..tasks import run_loop

    try:
        settings = load_config(args.config, secrets=False)
    except ConfigError as exc:
        print(report([Finding("config", str(exc), "fix the line named (docs/configuration.md), then "
                              "smsd-crm check-config")]))
        return 1
    findings = run_loop(examine(settings, service_user(args.user), datetime.now(timezone.utc)))
    print(report(findings))
    sys.stdout.flush()
    return 1 if any(not f.ok for f in findings) else 0


def add_parsers(sub, default_config: str) -> None:
    """``doctor``."""
    p = sub.add_parser("doctor", help="check the set-up and say what to fix", description=cmd_doctor.__doc__)
    p.add_argument("-c", "--config", default=default_config, help="config file")
    p.add_argument("--user", help="check the devices for this user (default: smsd-crm when run as root and "
                   "it exists, else you)")
    p.set_defaults(func=cmd_doctor, verbose=False)
