"""The database, whichever engine holds it: one storage API over SQLite (the embedded default) and
PostgreSQL (a shop that outgrows one PC; docs/deployment.md).

:class:`Database` is what every module and plugin sees. Writes are serialised per process:
``transaction()`` takes an asyncio lock and begins (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a
transaction on one pooled connection); a nested ``transaction()`` in the same task becomes a
SAVEPOINT, so a plugin can open one inside the router's transaction. Tasks started inside a
transaction (a plugin's hook, run as a task of its own so that one that never ends can be left
behind) write in it while it is open, and not at all after. Driver errors reach callers as
:class:`~smsd_crm.errors.StorageError` (a broken constraint: :class:`~smsd_crm.errors.StorageConflict`).

``Database.open(target)`` picks the engine: a path is a SQLite file (:mod:`.sqlite_engine`), a
``postgresql://`` URL a server (:mod:`.postgres_engine`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from abc import ABC, abstractmethod
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable, Iterator, Protocol, Sequence

from ..errors import StorageError, StorageUnavailable
from ..shop_time import ShopTime

LOGGER = logging.getLogger(__name__)
Params = Sequence[Any] | dict[str, Any]


class Row(Protocol):
    """One result row, by position or column name (``sqlite3.Row``, ``asyncpg.Record``)."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...

    def keys(self) -> Any: ...


@dataclass(eq=False)
class _Ticket:
    """An open transaction, as the tasks of its context see it: the task that opened it and every task
    started inside it (``asyncio.gather`` of writes in a plugin's hook) write in it while it is open;
    once it has ended, a task still holding its ticket (a hook left behind) may not write at all."""

    database: int  # id() of the Database
    open: bool = True
    connection: Any = None  # the engine's connection the transaction runs on


_owner: contextvars.ContextVar[_Ticket | None] = contextvars.ContextVar("smsd_crm_tx_owner", default=None)


class Database(ABC):
    """The storage API. Open with :meth:`open`, close with :meth:`close`.

    ``engine`` is ``"sqlite"`` or ``"postgresql"``; ``shop`` the store's zone, which the SQL of
    ``shop_time.sql_day`` counts days in; ``path`` the SQLite file (None on PostgreSQL).
    """

    engine: str
    path: Path | None = None

    def __init__(self, shop: ShopTime) -> None:
        self.shop = shop
        self.store = "main"  # store.id: the rows of messages, orders, sales, campaigns and modems it keeps
        # A server's link (PostgreSQL): when it was found down (time.time(); None while it answers) and
        # the last outage's (start, end), for the log and `smsd-crm status`. SQLite never goes away.
        self.down_since: float | None = None
        self.last_outage: tuple[float, float] | None = None
        self._lock = asyncio.Lock()
        self._savepoints = 0
        self._after_commit: list[Callable[[], None]] = []  # run after the outer COMMIT (see after_commit)

    @staticmethod
    async def open(target: str | Path, shop: ShopTime | None = None, store: str = "main") -> "Database":
        """Open the database ``target`` names: a ``postgresql://`` URL or a SQLite file path (created
        with its folder). ``shop`` is the store's zone (Asia/Jakarta when not given); ``store`` its
        ``store.id``. Raises StorageError when it cannot be opened or fails its integrity check."""
        from ..shop_time import for_zone
        shop = shop or for_zone()
        db: Database
        if is_postgresql(target):
            from .postgres_engine import PostgresDatabase
            db = await PostgresDatabase.connect(str(target), shop, store)
        else:
            from .sqlite_engine import SqliteDatabase
            db = await SqliteDatabase.connect(Path(target), shop)
        db.store = store
        return db

    @abstractmethod
    async def close(self) -> None:
        """Close the connection(s)."""

    def _in_transaction(self) -> bool:
        ticket = _owner.get()
        return ticket is not None and ticket.database == id(self) and ticket.open

    def _refuse_ended(self) -> None:
        ticket = _owner.get()
        if ticket is not None and ticket.database == id(self) and not ticket.open:
            raise StorageError("a write from a task started inside a transaction that has ended (a plugin's hook "
                               "left behind after its timeout, or a task it created: use ctx.spawn for work that "
                               "outlives the hook)")

    async def _control(self, ticket: _Ticket, sql: str) -> None:
        """BEGIN/COMMIT/ROLLBACK/SAVEPOINT run to the end even if the caller is cancelled.

        Otherwise a cancellation while awaiting BEGIN would leave the connection
        inside a transaction with the lock released.
        """
        task = asyncio.ensure_future(self._statement(ticket.connection, sql))
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
            assert ticket is not None
            self._savepoints += 1
            name = f"sp{self._savepoints}"
            pending = len(self._after_commit)
            await self._control(ticket, f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException as exc:
                if ticket.open:  # else the transaction is gone: nothing of it to undo
                    del self._after_commit[pending:]  # what the rolled-back part asked for is dropped
                    if not isinstance(exc, GeneratorExit):  # being closed, it may not wait: the outer rolls back
                        await self._control(ticket, f"ROLLBACK TO SAVEPOINT {name}")
                        await self._control(ticket, f"RELEASE SAVEPOINT {name}")
                raise
            self._refuse_ended()  # the block outlived its transaction: its writes went with it
            await self._control(ticket, f"RELEASE SAVEPOINT {name}")
            return
        self._refuse_ended()
        async with self._lock:
            ticket = _Ticket(id(self))
            token = _owner.set(ticket)
            try:
                ticket.connection = await self._acquire()
                await self._control(ticket, self._BEGIN)
                yield self
                ticket.open = False  # before COMMIT: a write queued after it would commit on its own
                await self._control(ticket, "COMMIT")
            except BaseException as exc:
                ticket.open = False  # before ROLLBACK, likewise (a task left behind still holds the ticket)
                self._after_commit.clear()
                if ticket.connection is not None and self._open_on(ticket.connection):
                    if isinstance(exc, GeneratorExit):
                        # Closed (a plugin's hook that ignored its cancellation): it may not wait. The ROLLBACK
                        # is queued on the connection before the lock, released next, lets anyone BEGIN.
                        self._abandon(ticket.connection)
                        ticket.connection = None
                    else:
                        await self._control(ticket, "ROLLBACK")
                raise
            finally:
                ticket.open = False
                _owner.reset(token)
                if ticket.connection is not None:
                    await self._release(ticket.connection)
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

    def _current(self) -> Any:
        """The connection of the transaction this task writes in (None outside one)."""
        ticket = _owner.get()
        return ticket.connection if ticket is not None and ticket.database == id(self) and ticket.open else None

    async def execute(self, sql: str, params: Params = ()) -> None:
        """Run one parameterised write. Outside a transaction it is its own.

        An id made by the write is read with ``INSERT ... RETURNING id`` and :meth:`fetchval`."""
        await self.execute_changes(sql, params)

    async def execute_changes(self, sql: str, params: Params = ()) -> int:
        """Run one parameterised write; return the number of rows it changed."""
        if self._in_transaction():
            return await self._write(self._current(), sql, params)
        async with self.transaction():
            return await self._write(self._current(), sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one parameterised write for each row (in the caller's transaction, or one of its own)."""
        if self._in_transaction():
            await self._write_many(self._current(), sql, rows)
            return
        async with self.transaction():
            await self._write_many(self._current(), sql, rows)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row of a statement, or None. A write (``INSERT ... RETURNING id``)
        runs in the caller's transaction or one of its own."""
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a parameterised statement, or None. A statement that writes (``RETURNING``)
        runs in the caller's transaction or one of its own."""
        rows = await self._fetch_in_place(sql, params, one=True)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a parameterised statement (a write with ``RETURNING`` as in :meth:`fetchone`)."""
        return await self._fetch_in_place(sql, params, one=False)

    async def _fetch_in_place(self, sql: str, params: Params, one: bool) -> list[Row]:
        if self._in_transaction():
            return await self._fetch(self._current(), sql, params, one)
        if _writes(sql):
            async with self.transaction():
                return await self._fetch(self._current(), sql, params, one)
        return await self._fetch(None, sql, params, one)

    async def execute_script(self, statements: Iterable[str]) -> None:
        """Run several statements inside the current transaction (never an implicit COMMIT)."""
        connection = self._current()
        if connection is None:
            raise StorageError("execute_script runs inside a transaction")
        for statement in statements:
            await self._write(connection, statement, ())

    # ``SELECT ... LIMIT 1 {db.skip_locked}``: a row claimed by one connection is passed over by the
    # others (PostgreSQL); SQLite's single writer needs no such words.
    skip_locked = ""

    def json_values(self, param: str) -> str:
        """SQL for the rows (one column, ``value``) of a JSON array of strings passed as ``param``:
        ``x IN (SELECT value FROM ...)`` against a list of any length with one placeholder."""
        return f"json_each({param})"

    @abstractmethod
    async def watch_changes(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after a commit by another process of this store (a staff command in a
        terminal, a second connection); runs until cancelled. SQLite: its ``data_version`` read every
        second; PostgreSQL: LISTEN, told at once by every commit (NOTIFY), kept up across lost links."""

    async def lock(self, *key: str) -> None:
        """Hold ``key`` until the current transaction ends: every process of the chain that asks for the
        same key waits (a customer's points redeemed at two stores at once). SQLite: nothing to do, its
        one writer at a time already serialises. StorageError outside a transaction."""
        if not self._in_transaction():
            raise StorageError("Database.lock is taken inside a transaction")

    async def claim_store(self) -> None:
        """Claim this database's store for this process until :meth:`close`: a second daemon started
        with the same ``store.id`` on the same server (two shops both left as ``main``) would send each
        other's replies. StartupError when another process holds it. SQLite: a second daemon on the same
        file is refused the same way (a lock on ``<file>.daemon``, :mod:`.sqlite_backup`)."""

    async def keep_store_claim(self, interval: float = 5.0) -> None:
        """While the daemon runs (a task until cancelled): the claim of :meth:`claim_store` taken again
        after its link was lost (a server restart frees it), every ``interval`` seconds until it is.
        StartupError when another process took the store meanwhile. SQLite: the lock on the file
        cannot be lost; returns at once."""

    async def wait_reachable(self, first: float = 0.5, longest: float = 30.0) -> None:
        """Return once the database answers again, trying with a doubling pause (``first`` to
        ``longest`` seconds); at once when it answers. Cancel to give up."""
        pause = first
        while True:
            try:
                await self.fetchone("SELECT 1")
                return
            except StorageUnavailable:
                await asyncio.sleep(pause)
                pause = min(pause * 2, longest)

    async def has_table(self, name: str) -> bool:
        """Whether a table of that name exists (a plugin's, which may be switched off)."""
        return name in await self.table_names()

    @abstractmethod
    async def table_names(self) -> set[str]:
        """The names of the database's tables (not the engine's own)."""

    # What an engine provides. ``connection`` is the transaction's (None: any, outside a transaction).
    _BEGIN = "BEGIN"

    @abstractmethod
    async def _acquire(self) -> Any:
        """The connection a new outer transaction runs on."""

    @abstractmethod
    async def _release(self, connection: Any) -> None:
        """After the outer transaction has ended."""

    @abstractmethod
    def _open_on(self, connection: Any) -> bool:
        """Whether ``connection`` is inside a transaction."""

    @abstractmethod
    def _abandon(self, connection: Any) -> None:
        """Roll back without waiting (a closed generator may not await), and give the connection back."""

    @abstractmethod
    async def _statement(self, connection: Any, sql: str) -> None:
        """Run a control statement (BEGIN, COMMIT, SAVEPOINT ...) on ``connection``."""

    @abstractmethod
    async def _write(self, connection: Any, sql: str, params: Params) -> int:
        """Run one write on ``connection``; the number of rows it changed."""

    @abstractmethod
    async def _write_many(self, connection: Any, sql: str, rows: Iterable[Params]) -> None:
        """Run one write per row on ``connection``."""

    @abstractmethod
    async def _fetch(self, connection: Any, sql: str, params: Params, one: bool) -> list[Row]:
        """Rows of a statement, on ``connection`` or (None) any connection; ``one``: at most the first."""


def is_postgresql(target: str | Path) -> bool:
    """Whether a ``database`` target names a PostgreSQL server (``postgresql://`` or ``postgres://``)."""
    return isinstance(target, str) and target.split("://", 1)[0].lower() in ("postgresql", "postgres")


def _writes(sql: str) -> bool:
    """Whether a statement changes something (a write with RETURNING read through fetch*)."""
    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return head in ("INSERT", "UPDATE", "DELETE", "REPLACE") or (head == "WITH" and "RETURNING" in sql.upper())
