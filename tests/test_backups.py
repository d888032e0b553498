"""`smsd-crm backup` while the daemon writes, `smsd-crm restore`, one daemon per SQLite file, the daily
backup's schedule and its retention."""

from __future__ import annotations

import asyncio
import os
import pwd
import signal
import sqlite3
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smsd_crm.daily_backup import next_run
from smsd_crm.storage import sqlite_backup

from .conftest import SMSD_CRM, query, wait_until, write_config

pytestmark = pytest.mark.e2e
JAKARTA = ZoneInfo("Asia/Jakarta")


async def smsd(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


def counts(path: Path) -> dict[str, int]:
    """Each table's rows, counted here (not by the code under test)."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()


async def test_a_backup_taken_while_the_daemon_answers_restores_to_the_same_database(tmp_path, emulator, daemons):
    config = write_config(tmp_path, emulator.device)
    db = tmp_path / "data" / "test.sqlite3"
    daemon = await daemons(config, tmp_path / "daemon.log")
    numbers = [f"+62812555{i:05d}" for i in range(40)]
    for i, number in enumerate(numbers):
        emulator.deliver(number, f"DAFTAR Pelanggan {i}#Jl. Uji {i}")
    # mid-stream: some registrations committed, others still arriving
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM customers")[0][0] >= 5, 60, "first registrations")
    code, out, err = await smsd("backup", "-c", str(config))
    assert code == 0, err
    made = Path(out.split(":")[0])
    assert made.parent == tmp_path / "data" / "backups" and "integrity ok" in out
    taken = counts(made)
    # one transaction each: a customer and the handled SMS that registered them are in it together
    conn = sqlite3.connect(made)
    customers, handled = conn.execute(
        "SELECT (SELECT COUNT(*) FROM customers), "
        "(SELECT COUNT(*) FROM messages WHERE direction = 'in' AND state = 'handled')").fetchone()
    conn.close()
    assert customers == handled >= 5
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM customers") == [(40,)], 90, "all registered")

    # the daemon is running: a restore is refused and changes nothing
    code, out, err = await smsd("restore", "-c", str(config), str(made))
    assert code == 1 and "is running" in err and "Traceback" not in err
    assert query(db, "SELECT COUNT(*) FROM customers") == [(40,)]

    assert await daemon.stop(signal.SIGTERM) == 0
    code, out, err = await smsd("restore", "-c", str(config), "latest")
    assert code == 0, err
    assert counts(db) == taken
    kept = next((tmp_path / "data").glob("before-restore-*-test.sqlite3"))
    assert counts(kept)["customers"] == 40  # what the restore replaced is not lost
    # and the daemon starts on the restored database
    await daemons(config, tmp_path / "daemon2.log")


async def test_a_second_daemon_on_the_same_file_is_refused(tmp_path, emulator, daemons):
    config = write_config(tmp_path, emulator.device)
    await daemons(config, tmp_path / "daemon.log")
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, "run", "-c", str(config), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 1
    assert "an smsd-crm daemon is running on" in out.decode() and "Traceback" not in out.decode()


def test_a_broken_or_foreign_file_is_not_restored(tmp_path):
    database = tmp_path / "shop.sqlite3"
    sqlite3.connect(database).execute("CREATE TABLE schema_migrations (owner TEXT)").connection.commit()
    before = database.read_bytes()
    (tmp_path / "garbage.sqlite3").write_bytes(b"not a database at all" * 100)
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    now = datetime(2026, 12, 1, 9, 0, tzinfo=JAKARTA)
    for bad, said in ((tmp_path / "garbage.sqlite3", "not a SQLite database"),
                      (other, "not an smsd-crm database"), (tmp_path / "missing.sqlite3", "no such file")):
        with pytest.raises(sqlite_backup.StorageError, match=said):
            sqlite_backup.restore(bad, database, now)
    assert database.read_bytes() == before


def test_the_daily_backup_runs_at_its_shop_time_and_keeps_the_newest(tmp_path):
    at = time(2, 30)
    assert next_run(datetime(2026, 12, 1, 1, 0, tzinfo=JAKARTA), at) == datetime(2026, 12, 1, 2, 30, tzinfo=JAKARTA)
    assert next_run(datetime(2026, 12, 1, 2, 30, tzinfo=JAKARTA), at) == datetime(2026, 12, 2, 2, 30, tzinfo=JAKARTA)
    assert next_run(datetime(2026, 12, 31, 23, 0, tzinfo=JAKARTA), at) == datetime(2027, 1, 1, 2, 30, tzinfo=JAKARTA)
    names = [sqlite_backup.backup_name(datetime(2026, 12, d, 2, 30, tzinfo=JAKARTA)) for d in range(1, 6)]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("the owner's")
    assert sorted(p.name for p in sqlite_backup.prune(tmp_path, 2)) == names[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[3:] + ["notes.txt"])
    assert sqlite_backup.latest(tmp_path).name == names[-1]


async def test_on_postgresql_the_command_says_how_to_back_up(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("database:\n  url: 'postgresql://shop@/smsd?host=/run/postgresql'\n")
    code, out, err = await smsd("backup", "-c", str(config))
    assert code == 2 and "pg_dump" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() != 0, reason="root making files for the service's user")
def test_root_s_backup_and_restore_stay_the_service_user_s(tmp_path):
    """The docs run `smsd-crm backup` and `restore` as root beside systemctl: files made for the service's
    database belong to its user, or its next backup, its daily backup and its start fail."""
    nobody = pwd.getpwnam("nobody")
    state = tmp_path / "state"
    state.mkdir()
    database = state / "smsd-crm.sqlite3"
    conn = sqlite3.connect(database)
    conn.execute("CREATE TABLE schema_migrations (owner TEXT)")
    conn.commit()
    conn.close()
    for path in (state, database):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=JAKARTA)
    made = sqlite_backup.backup(database, state / "backups" / sqlite_backup.backup_name(now))
    assert {p.stat().st_uid for p in (made.path, made.path.parent)} == {nobody.pw_uid}
    database.unlink()  # a new disk: restored from the USB stick
    restored, kept = sqlite_backup.restore(made.path, database, now)
    assert kept is None and restored.tables == made.tables
    assert {p.stat().st_uid for p in (database, sqlite_backup.daemon_lock_path(database))} == {nobody.pw_uid}


def test_the_copy_a_restore_keeps_is_never_taken_for_a_backup(tmp_path):
    """With backup.folder the database's own folder, `restore latest` restored the before-restore copy
    (it sorted after the dated backups) and pruning kept it instead of fresh backups."""
    database = tmp_path / "smsd-crm.sqlite3"
    conn = sqlite3.connect(database)
    conn.execute("CREATE TABLE schema_migrations (owner TEXT)")
    conn.commit()
    conn.close()
    first = sqlite_backup.backup(database, tmp_path / sqlite_backup.backup_name(datetime(2026, 12, 1, 2, 30)))
    _, kept = sqlite_backup.restore(first.path, database, datetime(2026, 12, 1, 9, 0))
    second = sqlite_backup.backup(database, tmp_path / sqlite_backup.backup_name(datetime(2026, 12, 2, 2, 30)))
    assert sqlite_backup.latest(tmp_path) == second.path
    assert sqlite_backup.prune(tmp_path, 1) == [first.path]
    assert kept.exists() and database.exists()
