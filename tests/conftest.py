"""Shared helpers: an emulated modem on a real pty, config files, a daemon process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import signal
import sqlite3
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Callable

import pytest

from smsd_crm.emulator.pty_modem import PtyModem

from .postgres_server import PostgresServer

# The editable install maps smsd_crm_dashboards to the checkout it was installed from; run from
# another worktree (PYTHONPATH=<worktree>), the tests and the daemons they start would draw with
# that checkout's dashboards. Put this checkout's dashboards/ first, here and in child processes.
_DASHBOARDS = str(Path(__file__).resolve().parent.parent / "dashboards")
if _DASHBOARDS not in sys.path:
    sys.path.insert(0, _DASHBOARDS)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_DASHBOARDS, os.environ.get("PYTHONPATH")) if p)

BIN = Path(sys.executable).parent
SMSD_CRM = str(BIN / "smsd-crm")


async def wait_until(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition"):
    """Poll ``predicate`` until it is truthy (an awaited condition, not a fixed sleep); an async
    predicate's result is awaited."""
    async with asyncio.timeout(timeout):
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            await asyncio.sleep(0.05)
    raise AssertionError(what)  # pragma: no cover


def quiet_outbox(db, clock: Callable[[], datetime]):
    """An outbox that queues rows and never sends (no modem pool runs it): for router-level tests."""
    from smsd_crm.config import OutboxConfig
    from smsd_crm.outbox import Outbox

    return Outbox(db, OutboxConfig(), clock)


@pytest.fixture
async def emulator(tmp_path):
    emu = PtyModem("sim1", link=tmp_path / "ttyUSB-sim1")
    await emu.start()
    yield emu
    await emu.stop()


def write_config(tmp_path: Path, port: str, extra: str = "", name: str = "config.yaml",
                 database: str | Path = "data/test.sqlite3") -> Path:
    """A config for one modem on ``port`` with fast retries and the test plugin dir; ``database`` a
    SQLite path (relative to ``tmp_path``) or a PostgreSQL URL (``shop_database``)."""
    path = tmp_path / name
    where = f"url: '{database}'" if isinstance(database, str) and database.startswith("postgresql") else \
        f"path: {database}"
    path.write_text(textwrap.dedent(f"""\
        store:
          name: Toko Uji
        database:
          {where}
        modems:
          - id: sim1
            port: {port}
            sweep_interval: 5
        outbox:
          retry_min: 0.2
          retry_max: 1
          max_attempts: 100
        logging:
          level: INFO
        web:
          port: 0
        """) + textwrap.dedent(extra))
    return path


def query(db_path: Path | str, sql: str, params=()) -> list[tuple]:
    """Read the daemon's database from the test (WAL lets readers in beside the writer); a
    PostgreSQL URL is read with a connection of its own."""
    if isinstance(db_path, str):
        return _pg_query(db_path, sql, params)
    if not db_path.exists():
        return []
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # not migrated yet
    finally:
        conn.close()


def _pg_query(url: str, sql: str, params=()) -> list[tuple]:
    """``query`` on PostgreSQL: the same placeholders, integers back as int (as SQLite gives them)."""
    import asyncpg

    from smsd_crm.storage.sql_dialect import numbered

    async def run() -> list[tuple]:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            await conn.set_type_codec("numeric", encoder=str, schema="pg_catalog", format="text",
                                      decoder=lambda t: int(t) if t.lstrip("-").isdigit() else float(t))
            text, args = numbered(sql, params)
            return [tuple(r) for r in await conn.fetch(text, *args)]
        except asyncpg.UndefinedTableError:
            return []  # not migrated yet
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the test's own loop is running
        return pool.submit(asyncio.run, run()).result(30)


def write_rows(target: Path | str, sql: str, rows: list[tuple]) -> None:
    """Write rows beside the running daemon (SQLite: WAL; PostgreSQL: a connection of its own)."""
    if isinstance(target, str):
        import asyncpg

        from smsd_crm.storage.sql_dialect import numbered

        async def run() -> None:
            conn = await asyncpg.connect(target, timeout=10)
            try:
                await conn.executemany(numbered(sql, rows[0])[0], rows)
            finally:
                await conn.close()

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run()).result(30)
        return
    with sqlite3.connect(target) as conn:
        conn.executemany(sql, rows)
    conn.close()


class DaemonProcess:
    """``smsd-crm run -c CONFIG`` as a separate process, the way a user starts it."""

    def __init__(self, config: Path, log: Path, command: str = "run") -> None:
        self.config = config
        self.log = log
        self.command = command
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> "DaemonProcess":
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log, "ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                SMSD_CRM, self.command, "-c", str(self.config), stdout=log, stderr=log,
                stdin=asyncio.subprocess.DEVNULL, env=env)
        # A bound, not a duration: a loaded 2-core machine takes seconds to import and migrate.
        await wait_until(lambda: "ready on" in self.log.read_text(errors="replace")
                         or self.proc.returncode is not None, 90, "daemon start")
        assert self.proc.returncode is None, self.log.read_text()
        return self

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        async with asyncio.timeout(timeout):
            return await self.proc.wait()


async def sim_send(config: Path, number: str, text: str) -> tuple[int, str, str]:
    """``smsd-crm sim send`` as a user runs it: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        SMSD_CRM, "sim", "send", "-c", str(config), number, text,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def daemons():
    """Start daemons with ``await daemons(config, log)``; all are killed at the end."""
    started: list[DaemonProcess] = []

    async def start(config: Path, log: Path, command: str = "run") -> DaemonProcess:
        d = DaemonProcess(config, log, command)
        started.append(d)  # before it starts: a start that times out is still killed at the end
        return await d.start()

    yield start
    for d in started:
        if d.proc and d.proc.returncode is None:
            d.proc.kill()
            await d.proc.wait()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (tests/postgres_server.py), on a Unix socket."""
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_target(request, tmp_path) -> str | Path:
    """What ``Database.open`` takes, once per engine: a new SQLite file, a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "shop.sqlite3"
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def shop_database(request, tmp_path) -> tuple[str | Path, str | Path]:
    """For a daemon test on each engine: (what ``write_config(database=...)`` takes, what ``query`` reads)."""
    if request.param == "sqlite":
        return "data/test.sqlite3", tmp_path / "data" / "test.sqlite3"
    url = request.getfixturevalue("postgres_server").new_database()
    return url, url


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    """TESTS ONLY: new password hashes at scrypt N=2^10 instead of OWASP's 2^17 (0.5 s and 128 MiB each),
    so the many logins the tests make stay fast. Only this process: a daemon a test starts as its own
    process hashes at the real cost. test_passwords.py checks the real cost and a hash made at it."""
    from smsd_crm.web import passwords
    monkeypatch.setattr(passwords, "COST", passwords.Cost(2 ** 10, 8, 1))
