"""Backups of the SQLite database, consistent while the daemon writes, and their restore.

A copy of the file is not a backup: with WAL, committed transactions may still be in the ``-wal``
file, and a copy taken during a checkpoint is torn. SQLite's online backup API
(https://www.sqlite.org/backup.html, Python's :meth:`sqlite3.Connection.backup`) copies the
database as of one read transaction, so a backup holds every transaction committed before it
started and none half done, while the daemon goes on writing (WAL lets the daemon write meanwhile).

The daemon holds an exclusive ``flock`` on ``<database>.daemon`` while it runs
(:func:`hold_daemon_lock`): a second daemon on the same file is refused, and a restore is refused
while the daemon runs (replacing the data under a running daemon would lose what it writes next).
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import StartupError, StorageError
from ..files import private_database, private_dir

BACKUP_PAGES = 1024  # pages per step: the daemon's writes interleave between steps (WAL)
SUFFIX = ".sqlite3"
PREFIX = "smsd-crm-"


@dataclass(frozen=True)
class BackupFile:
    """One backup: its path, size in bytes and row count per table (name -> rows)."""

    path: Path
    size: int
    tables: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _owner_of(database: Path) -> tuple[int, int] | None:
    """(uid, gid) the files made for ``database`` belong to when root makes them: the database's own
    owner (the service's user), else its folder's; None when not root (files are the maker's)."""
    if os.geteuid() != 0:
        return None
    for where in (database, database.parent):
        if where.exists():
            st = where.stat()
            return (st.st_uid, st.st_gid) if st.st_uid != 0 else None
    return None


def _give(paths: list[Path], owner: tuple[int, int] | None) -> None:
    """Hand ``paths`` to ``owner`` (a backup made by root in the service's folder stays the service's)."""
    if owner is not None:
        for path in paths:
            if path.exists():
                os.chown(path, *owner)


def daemon_lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".daemon")


def hold_daemon_lock(database: Path) -> int:
    """Take the daemon's lock on ``database`` for the life of the process (or until the returned file
    descriptor is closed); StartupError when another process holds it."""
    path = daemon_lock_path(database)
    owner = _owner_of(database)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except PermissionError:
        raise StartupError(f"{path}: permission denied: run as the user that owns {database.parent} "
                           "(runuser -u smsd-crm -- ...)") from None
    _give([path], owner)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StartupError(f"an smsd-crm daemon is running on {database}: stop it first "
                           "(systemctl stop smsd-crm; two daemons on one file are refused)") from None
    return fd


def daemon_running(database: Path) -> bool | None:
    """Whether a daemon holds ``database``'s lock now; None when this user cannot tell (no access)."""
    path = daemon_lock_path(database)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except PermissionError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def check(path: Path) -> dict[str, int]:
    """The row count of each table of the SQLite file ``path`` after ``PRAGMA integrity_check``;
    StorageError naming the file when it is not a sound SQLite database."""
    if not path.is_file():
        raise StorageError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: cannot open: {exc}") from None
    try:
        result = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if result != ["ok"]:
            raise StorageError(f"{path} failed its integrity check: {'; '.join(result[:3])}")
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        if "schema_migrations" not in names:
            raise StorageError(f"{path} is a SQLite file but not an smsd-crm database")
        return {name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"{path} is not a SQLite database ({exc})") from None
    finally:
        conn.close()


def _copy(source: Path, target: Path) -> None:
    """The online backup of ``source`` into a new file ``target`` (removed again on failure)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=15)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=BACKUP_PAGES)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            dst.close()
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise StorageError(f"cannot back up {source}: {exc}") from None
    finally:
        src.close()


def backup_name(now: datetime) -> str:
    """``smsd-crm-YYYYmmdd-HHMMSS.sqlite3`` in the zone of ``now`` (the shop's: what the owner reads)."""
    return f"{PREFIX}{now:%Y%m%d-%H%M%S}{SUFFIX}"


def backup(database: Path, target: Path) -> BackupFile:
    """Back ``database`` up into the new file ``target`` (0600; written beside it first and renamed, so
    a backup cut short by a power cut never looks whole), checked after it is written."""
    if not database.is_file():
        raise StorageError(f"{database}: no such database")
    if target.exists():
        raise StorageError(f"{target} already exists")
    owner = _owner_of(database)
    folder_made = not target.parent.exists()
    partial = target.with_name(target.name + ".partial")
    try:
        private_dir(target.parent)
        if folder_made:
            _give([target.parent], owner)
        partial.unlink(missing_ok=True)
        private_database(partial)
    except PermissionError as exc:
        raise StorageError(f"cannot write in {target.parent}: {exc.strerror} (run as the user that owns it: "
                           f"runuser -u smsd-crm -- smsd-crm backup; or chown it to that user)") from None
    _copy(database, partial)
    try:
        tables = check(partial)
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    _give([target], owner)
    return BackupFile(target, target.stat().st_size, tables)


def restore(backup_path: Path, database: Path, now: datetime) -> tuple[BackupFile, Path | None]:
    """Replace ``database`` by the backup ``backup_path``: checked first, refused while the daemon runs;
    the database it replaces is kept as a backup of its own (its path is returned, None when there was
    none). Written through SQLite (the backup API), so the old ``-wal`` is never replayed onto it."""
    tables = check(backup_path)
    owner = _owner_of(database)
    fd = hold_daemon_lock(database)  # StartupError while the daemon runs; no daemon starts meanwhile
    try:
        kept = None
        if database.exists():
            # not named like a backup: `restore latest` and pruning never take it for one
            kept = database.with_name(f"before-restore-{now:%Y%m%d-%H%M%S}-{database.name}")
            backup(database, kept)
        private_database(database)
        src = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(database, timeout=15)
            try:
                src.backup(dst)
            finally:
                dst.close()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot restore into {database}: {exc}") from None
        finally:
            src.close()
        _give([database, *(database.with_name(database.name + x) for x in ("-wal", "-shm"))], owner)
        if kept is not None:
            _give([kept], owner)
        restored = check(database)
        if restored != tables:
            raise StorageError(f"{database} differs from {backup_path} after the restore")
        return BackupFile(database, database.stat().st_size, restored), kept
    finally:
        os.close(fd)


def _backups(folder: Path) -> list[Path]:
    """The backups in ``folder`` (``smsd-crm-YYYYmmdd-HHMMSS.sqlite3``), oldest first; nothing else, even
    when the folder is the database's own (``smsd-crm.sqlite3``)."""
    pattern = re.compile(rf"{re.escape(PREFIX)}\d{{8}}-\d{{6}}(?:-\d+)?{re.escape(SUFFIX)}")
    return sorted((p for p in folder.glob(f"{PREFIX}*{SUFFIX}") if pattern.fullmatch(p.name)), key=lambda p: p.name)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest backups in ``folder``; the deleted."""
    found = _backups(folder)[::-1]
    gone = found[keep:]
    for path in gone:
        path.unlink(missing_ok=True)
    return gone


def latest(folder: Path) -> Path | None:
    """The newest backup in ``folder`` (by its name's time stamp), or None."""
    found = _backups(folder)
    return found[-1] if found else None
