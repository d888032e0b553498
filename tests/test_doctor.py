"""`smsd-crm doctor` on a broken set-up: a SIM that asks for a PIN nobody configured, a modem device the
service user may not open, a web port another program holds, no backup, a clock that lost its time.
Each problem is printed with its fix; a sound set-up prints none."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest

from smsd_crm.cli import doctor
from smsd_crm.config import parse_config
from smsd_crm.emulator.pty_modem import PtyModem

from .conftest import SMSD_CRM

pytestmark = pytest.mark.e2e


async def run_doctor(config: Path, *extra: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, "doctor", "-c", str(config), *extra,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode()


def _problem(out: str, what: str, seen: str, fix: str) -> None:
    lines = out.splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith(f"PROBLEM {what}")), None)
    assert at is not None, f"no problem for {what}:\n{out}"
    assert seen in lines[at], lines[at]
    assert lines[at + 1].strip().startswith("fix: ") and fix in lines[at + 1], lines[at + 1]


async def test_a_broken_set_up_gets_each_problem_and_its_fix(tmp_path):
    locked = PtyModem("sim1", link=tmp_path / "ttyUSB-sim1", pin="1234")  # a SIM with a PIN; none configured
    await locked.start()
    os.chmod(locked.device, 0o666)  # this one the service user may open (as udev's rule makes it)
    master, slave = os.openpty()  # a second "modem" whose device the service user may not open
    device = os.ttyname(slave)
    os.chmod(device, 0o600)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    config = tmp_path / "config.yaml"
    config.write_text(f"store:\n  name: Toko Uji\ndatabase:\n  path: data/shop.sqlite3\nmodems:\n"
                      f"  - id: sim1\n    port: {tmp_path / 'ttyUSB-sim1'}\n"
                      f"  - id: sim2\n    port: {device}\n"
                      f"  - id: sim3\n    port: /dev/ttyUSB-not-plugged-in\n"
                      f"web:\n  port: {port}\n")
    try:
        code, out = await run_doctor(config, "--user", "nobody")
    finally:
        taken.close()
        os.close(master)
        os.close(slave)
        await locked.stop()
    assert code == 1 and "Traceback" not in out
    _problem(out, "modem sim1: SIM", "asks for SIM PIN", "set modems[].pin")
    _problem(out, f"modem sim2: {device}", "nobody may not read and write it", "usermod -aG ")
    _problem(out, "modem sim3: /dev/ttyUSB-not-plugged-in", "no such device", "plug the modem in")
    _problem(out, f"web pages: 127.0.0.1:{port}", "cannot be taken", "change web.port")
    _problem(out, "backups:", "none yet", "smsd-crm backup")
    assert out.rstrip().endswith("5 problem(s)")
    assert "ok      modem sim1: " in out  # its device is fine; its SIM is the problem


async def test_a_sound_set_up_has_no_problem(tmp_path, emulator):
    config = tmp_path / "config.yaml"
    config.write_text(f"modems:\n  - id: sim1\n    port: {emulator.device}\nweb:\n  port: 0\n")
    code, out = await run_doctor(config, "--user", "root")
    assert "PROBLEM" in out and code == 1  # no backup yet ...
    (tmp_path / "var" / "backups").mkdir(parents=True)
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, "backup", "-c", str(config),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 1  # ... and no database to back up before the first start
    (tmp_path / "var" / "backups" / "smsd-crm-20261201-023000.sqlite3").write_bytes(b"")
    code, out = await run_doctor(config, "--user", "root")
    assert code == 0, out
    assert "ok      modem sim1: SIM: ready" in out and out.rstrip().endswith("no problems found")


def test_a_clock_that_lost_its_time_and_an_unreadable_config(tmp_path):
    settings = parse_config("store:\n  name: x\n", tmp_path / "config.yaml")
    lost = doctor.clock(settings, datetime(2010, 1, 1, tzinfo=timezone.utc))
    assert not lost.ok and "timedatectl" in lost.fix
    assert doctor.clock(settings, datetime(2026, 12, 1, tzinfo=timezone.utc)).ok


def test_the_service_user_has_the_unit_s_dialout_group(tmp_path):
    """The unit adds dialout (SupplementaryGroups=): a modem in that group is the service's to open."""
    import grp
    import pwd
    device = tmp_path / "ttyUSB0"
    device.write_text("")
    os.chown(device, 0, grp.getgrnam("dialout").gr_gid)
    os.chmod(device, 0o660)
    service = pwd.struct_passwd(("smsd-crm", "x", 64999, 64999, "", "/var/lib/smsd-crm", "/usr/sbin/nologin"))
    someone = pwd.struct_passwd(("kasir", "x", 64998, 64998, "", "/home/kasir", "/bin/sh"))
    assert doctor._can(device, service, 6)
    assert not doctor._can(device, someone, 6)
