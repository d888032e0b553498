"""The embedded engine: one SQLite file through one aiosqlite connection (WAL, foreign keys, FULL sync)."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable

import aiosqlite

from ..errors import StorageConflict, StorageError
from ..files import private_database
from ..shop_time import ShopTime
from .db import Database, Params, Row
from .sqlite_backup import hold_daemon_lock

BUSY_TIMEOUT_MS = 15000  # how long a connection waits for another's write lock
CHANGE_CHECK = 1.0  # seconds between two looks at data_version (SQLite cannot tell other processes' commits)


class _NoStatements(logging.Filter):
    """aiosqlite logs every call at DEBUG with its arguments: SQL and its values (session and CSRF
    tokens, customers' texts). Such records are dropped however logging is set up."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def _quiet_driver() -> None:
    driver = logging.getLogger("aiosqlite")
    if not any(isinstance(f, _NoStatements) for f in driver.filters):
        driver.addFilter(_NoStatements())


def _neutral(exc: sqlite3.Error) -> StorageError:
    """The driver-neutral error for a driver's (constraint or trigger: StorageConflict)."""
    kind = StorageConflict if isinstance(exc, sqlite3.IntegrityError) else StorageError
    return kind(str(exc))


def _access_hint(path: Path) -> str:
    """Why a database may not open: the file or its folder is another user's (made or restored by root)."""
    for where, mode in ((path, os.R_OK | os.W_OK), (path.parent, os.W_OK | os.X_OK)):
        if where.exists() and not os.access(where, mode):
            import pwd
            owner = pwd.getpwuid(where.stat().st_uid).pw_name
            return (f" ({where} belongs to {owner}: run smsd-crm as {owner}, or chown it to the user that runs "
                    "it; smsd-crm doctor checks this)")
    return ""


class SqliteDatabase(Database):
    """A SQLite file. Reads outside a transaction share the one connection (SQLite serialises them)."""

    engine = "sqlite"
    _BEGIN = "BEGIN IMMEDIATE"

    def __init__(self, conn: aiosqlite.Connection, path: Path, shop: ShopTime) -> None:
        super().__init__(shop)
        self._conn = conn
        self.path = path
        self._daemon_lock: int | None = None

    @classmethod
    async def connect(cls, path: Path, shop: ShopTime) -> "SqliteDatabase":
        """Open (creating the folder), switch on WAL and foreign keys, check integrity."""
        _quiet_driver()
        try:
            private_database(path)  # 0600 in a 0700 folder, whatever the umask
            # opened once here first: a file that cannot be opened fails in this thread, not in
            # aiosqlite's, which then outlives the event loop and prints tracebacks at exit
            probe = sqlite3.connect(path)
            try:
                probe.execute("PRAGMA schema_version")
            finally:
                probe.close()
            conn = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open database {path}: {exc}{_access_hint(path)}") from None
        conn.row_factory = sqlite3.Row
        db = cls(conn, path, shop)
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed message survives a power cut, which shop PCs see.
            await conn.execute("PRAGMA synchronous=FULL")
            await conn.execute("PRAGMA foreign_keys=ON")
            # Longer than a plugin's hook may hold the daemon's write transaction (plugins.PLUGIN_TIMEOUT
            # plus its grace): a staff command in another process waits rather than fails.
            await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            for name, arguments, function in shop.sql_functions():
                await conn.create_function(name, arguments, function, deterministic=True)
            async with conn.execute("PRAGMA quick_check") as cur:
                row = await cur.fetchone()
            if row is None or row[0] != "ok":
                raise StorageError(f"database {path} failed its integrity check: {row and row[0]}")
        except sqlite3.Error as exc:
            await conn.close()
            raise StorageError(f"cannot use database {path}: {exc}") from None
        return db

    async def claim_store(self) -> None:
        # One daemon per file: two would both drive the modems' replies from one outbox. The same lock
        # keeps `smsd-crm restore` from replacing the data under a running daemon (sqlite_backup).
        if self._daemon_lock is None:
            self._daemon_lock = hold_daemon_lock(self.path)

    async def close(self) -> None:
        try:
            await self._conn.close()
        finally:
            if self._daemon_lock is not None:
                os.close(self._daemon_lock)
                self._daemon_lock = None

    async def watch_changes(self, callback: Callable[[], None], interval: float = CHANGE_CHECK) -> None:
        last = None
        while True:
            row = await self.fetchone("PRAGMA data_version")  # other connections' commits move it
            value = row[0] if row else None
            if last is not None and value != last:
                callback()
            last = value
            await asyncio.sleep(interval)

    async def table_names(self) -> set[str]:
        rows = await self.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return {r[0] for r in rows}

    async def _acquire(self) -> Any:
        return self._conn

    async def _release(self, connection: Any) -> None:
        return None

    def _open_on(self, connection: Any) -> bool:
        return bool(self._conn.in_transaction)

    def _abandon(self, connection: Any) -> None:
        asyncio.ensure_future(self._conn.execute("ROLLBACK"))

    async def _statement(self, connection: Any, sql: str) -> None:
        try:
            await self._conn.execute(sql)
        except sqlite3.Error as exc:
            raise _neutral(exc) from exc

    async def _write(self, connection: Any, sql: str, params: Params) -> int:
        try:
            cur = await self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise _neutral(exc) from exc
        return cur.rowcount

    async def _write_many(self, connection: Any, sql: str, rows: Iterable[Params]) -> None:
        try:
            await self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise _neutral(exc) from exc

    async def _fetch(self, connection: Any, sql: str, params: Params, one: bool) -> list[Row]:
        try:
            async with self._conn.execute(sql, params) as cur:
                if one:
                    row = await cur.fetchone()
                    return [] if row is None else [row]
                return list(await cur.fetchall())
        except sqlite3.Error as exc:
            raise _neutral(exc) from exc
