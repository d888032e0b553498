"""Files private: the database, its side files and the log are 0600 in 0700 folders after `smsd-crm run`
(also when the shell's umask is the usual 022, and when an older version left them 0644); what the CLI
writes is the user's alone; an existing folder open to others is named in a warning, not changed."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from smsd_crm.storage.db import Database

from .conftest import SMSD_CRM, wait_until, write_config


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def usual_umask():
    """The shell's usual umask (022) while the test runs; daemons started meanwhile inherit it."""
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_database_and_log_are_private_after_run(tmp_path, emulator, daemons, usual_umask):
    config = write_config(tmp_path, emulator.device, extra="""
        logging: {level: INFO, file: logs/daily/smsd.log}
        plugins_dir: null
        """)
    data = tmp_path / "data"
    data.mkdir(mode=0o755)  # an existing folder, as an older version (or the operator) made it
    subprocess.run([SMSD_CRM, "migrate", "-c", str(config)], check=True, capture_output=True, timeout=60)
    db = data / "test.sqlite3"
    os.chmod(db, 0o644)  # left world-readable by an older version
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    await wait_until(lambda: (data / "test.sqlite3-wal").exists(), 30, "the WAL file")
    assert mode(db) == 0o600
    assert mode(data / "test.sqlite3-wal") == 0o600 and mode(data / "test.sqlite3-shm") == 0o600
    assert mode(tmp_path / "logs") == 0o700 and mode(tmp_path / "logs" / "daily") == 0o700
    assert mode(tmp_path / "logs" / "daily" / "smsd.log") == 0o600
    text = log.read_text()
    assert f"{db} was open to others (0644); it is now 0600" in text
    assert mode(data) == 0o755 and f"folder {data} is open to others (0755)" in text  # named, not changed


def test_what_the_cli_writes_is_private(tmp_path, usual_umask):
    config = tmp_path / "c.yaml"
    config.write_text("database: {path: var/new/shop.sqlite3}\n")
    out = tmp_path / "catalogue.csv"
    subprocess.run([SMSD_CRM, "catalog", "export", "-o", str(out), "-c", str(config)], check=True,
                   capture_output=True, timeout=60)
    assert mode(out) == 0o600  # the umask of 077 covers every file the CLI creates
    assert mode(tmp_path / "var") == 0o700 and mode(tmp_path / "var" / "new") == 0o700
    assert mode(tmp_path / "var" / "new" / "shop.sqlite3") == 0o600


async def test_a_program_embedding_the_database_gets_private_files_too(tmp_path, usual_umask):
    path = tmp_path / "a" / "b" / "shop.sqlite3"
    db = await Database.open(path)
    try:
        await db.execute("CREATE TABLE t (x)")
        assert [mode(p) for p in (path, path.with_name("shop.sqlite3-wal"), path.with_name("shop.sqlite3-shm"))] \
            == [0o600] * 3
        assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
    finally:
        await db.close()
