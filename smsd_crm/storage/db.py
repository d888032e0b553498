"""The SQLite database: WAL, foreign keys, serialised write transactions.

One aiosqlite connection. ``transaction()`` takes an asyncio lock and runs
``BEGIN IMMEDIATE``; a nested ``transaction()`` in the same task becomes a
SAVEPOINT, so a plugin can open one inside the router's transaction. Tasks started
inside a transaction (a plugin's hook, run as a task of its own so that one that
never ends can be left behind) write in it while it is open, and not at all after.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable, Sequence

import aiosqlite

from ..errors import StorageError
from ..files import private_database
from ..shop_time import ShopTime, for_zone

LOGGER = logging.getLogger(__name__)
Params = Sequence[Any] | dict[str, Any]
BUSY_TIMEOUT_MS = 15000  # how long a connection waits for another's write lock


class _NoStatements(logging.Filter):
    """aiosqlite logs every call at DEBUG with its arguments: SQL and its values (session and CSRF
    tokens, customers' texts). Such records are dropped however logging is set up."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def _quiet_driver() -> None:
    driver = logging.getLogger("aiosqlite")
    if not any(isinstance(f, _NoStatements) for f in driver.filters):
        driver.addFilter(_NoStatements())


@dataclass(eq=False)
class _Ticket:
    """An open transaction, as the tasks of its context see it: the task that opened it and every task
    started inside it (``asyncio.gather`` of writes in a plugin's hook) write in it while it is open;
    once it has ended, a task still holding its ticket (a hook left behind) may not write at all."""

    database: int  # id() of the Database
    open: bool = True


_owner: contextvars.ContextVar[_Ticket | None] = contextvars.ContextVar("smsd_crm_tx_owner", default=None)


class Database:
    """A connection plus the write lock. Open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self._savepoints = 0
        self._after_commit: list[Callable[[], None]] = []  # run after the outer COMMIT (see after_commit)

    @classmethod
    async def open(cls, path: str | Path, shop: ShopTime | None = None) -> "Database":
        """Open (creating the folder), switch on WAL and foreign keys, check integrity. ``shop`` (the
        store's zone; Asia/Jakarta when not given) answers the SQL of ``shop_time.sql_day``."""
        path = Path(path)
        _quiet_driver()
        try:
            private_database(path)  # 0600 in a 0700 folder, whatever the umask
            conn = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open database {path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        db = cls(conn, path)
        db.shop = shop or for_zone()
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed message survives a power cut, which shop PCs see.
            await conn.execute("PRAGMA synchronous=FULL")
            await conn.execute("PRAGMA foreign_keys=ON")
            # Longer than a plugin's hook may hold the daemon's write transaction (plugins.PLUGIN_TIMEOUT
            # plus its grace): a staff command in another process waits rather than fails.
            await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            for name, arguments, function in db.shop.sql_functions():
                await conn.create_function(name, arguments, function, deterministic=True)
            row = await db.fetchone("PRAGMA quick_check")
            if row is None or row[0] != "ok":
                raise StorageError(f"database {path} failed its integrity check: {row and row[0]}")
        except sqlite3.Error as exc:
            await conn.close()
            raise StorageError(f"cannot use database {path}: {exc}") from None
        return db

    async def close(self) -> None:
        """Close the connection."""
        await self._conn.close()

    def _in_transaction(self) -> bool:
        ticket = _owner.get()
        return ticket is not None and ticket.database == id(self) and ticket.open

    def _refuse_ended(self) -> None:
        ticket = _owner.get()
        if ticket is not None and ticket.database == id(self) and not ticket.open:
            raise StorageError("a write from a task started inside a transaction that has ended (a plugin's hook "
                               "left behind after its timeout, or a task it created: use ctx.spawn for work that "
                               "outlives the hook)")

    async def _control(self, sql: str) -> None:
        """BEGIN/COMMIT/ROLLBACK/SAVEPOINT run to the end even if the caller is cancelled.

        Otherwise a cancellation while awaiting BEGIN would leave the connection
        inside a transaction with the lock released.
        """
        task = asyncio.ensure_future(self._conn.execute(sql))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await task
            raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["Database"]:
        """Commit on success, roll back on any exception. Nested use makes a savepoint."""
        if self._in_transaction():
            ticket = _owner.get()
            self._savepoints += 1
            name = f"sp{self._savepoints}"
            pending = len(self._after_commit)
            await self._control(f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException as exc:
                if ticket is not None and ticket.open:  # else the transaction is gone: nothing of it to undo
                    del self._after_commit[pending:]  # what the rolled-back part asked for is dropped
                    if not isinstance(exc, GeneratorExit):  # being closed, it may not wait: the outer rolls back
                        await self._control(f"ROLLBACK TO {name}")
                        await self._control(f"RELEASE {name}")
                raise
            self._refuse_ended()  # the block outlived its transaction: its writes went with it
            await self._control(f"RELEASE {name}")
            return
        self._refuse_ended()
        async with self._lock:
            ticket = _Ticket(id(self))
            token = _owner.set(ticket)
            try:
                await self._control("BEGIN IMMEDIATE")
                yield self
                ticket.open = False  # before COMMIT: a write queued after it would commit on its own
                await self._control("COMMIT")
            except BaseException as exc:
                ticket.open = False  # before ROLLBACK, likewise (a task left behind still holds the ticket)
                self._after_commit.clear()
                if self._conn.in_transaction:
                    if isinstance(exc, GeneratorExit):
                        # Closed (a plugin's hook that ignored its cancellation): it may not wait. The ROLLBACK
                        # is queued on the connection before the lock, released next, lets anyone BEGIN.
                        asyncio.ensure_future(self._conn.execute("ROLLBACK"))
                    else:
                        await self._control("ROLLBACK")
                raise
            finally:
                ticket.open = False
                _owner.reset(token)
            callbacks, self._after_commit = self._after_commit, []
            for callback in callbacks:
                callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once the current transaction commits (never if it rolls back); at once
        outside a transaction. For wake-ups that must not run before the row they announce is visible."""
        if self._in_transaction():
            self._after_commit.append(callback)
        else:
            callback()

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one parameterised write; return lastrowid. Outside a transaction it is its own."""
        if self._in_transaction():
            cur = await self._conn.execute(sql, params)
            return cur.lastrowid or 0
        async with self.transaction():
            cur = await self._conn.execute(sql, params)
            return cur.lastrowid or 0

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one parameterised write for each row (in the caller's transaction, or one of its own)."""
        if self._in_transaction():
            await self._conn.executemany(sql, rows)
            return
        async with self.transaction():
            await self._conn.executemany(sql, rows)

    async def execute_changes(self, sql: str, params: Params = ()) -> int:
        """Run one parameterised write; return the number of rows it changed."""
        async with self.transaction():
            cur = await self._conn.execute(sql, params)
            return cur.rowcount

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row of a parameterised query, or None."""
        async with self._conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Every row of a parameterised query."""
        async with self._conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def execute_script(self, statements: Iterable[str]) -> None:
        """Run several statements inside the current transaction (never an implicit COMMIT)."""
        for statement in statements:
            await self._conn.execute(statement)
