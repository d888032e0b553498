"""The server engine: PostgreSQL through asyncpg (docs/deployment.md says why asyncpg).

A pool of connections. A write transaction runs on one of them and, as on SQLite, one at a time per
process (the asyncio lock of :class:`~.db.Database`) and per store across processes (an advisory
lock taken at BEGIN: a staff command in a terminal waits for the daemon's transaction as it waits
for SQLite's write lock). Reads outside a transaction take any connection and see what is committed.

Values come back as SQLite gives them: integers as ``int`` (PostgreSQL's ``numeric``, what ``SUM``
of integers makes, is decoded to ``int`` when whole, else ``float``), text as ``str``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Sequence

import asyncpg
from asyncpg.exceptions._base import InternalClientError

from ..errors import StartupError, StorageConflict, StorageError, StorageUnavailable
from ..shop_time import ShopTime
from .database_url import redacted
from .db import Database, Params, Row
from .sql_dialect import functions_schema, numbered, postgresql_functions

LOGGER = logging.getLogger(__name__)
POOL_SIZE = 6               # connections: one writer at a time, the rest for pages and reports
CONNECT_TIMEOUT = 10.0      # seconds to reach the server
CLAIM_CHECK = 5.0           # seconds between two looks at the store claim's link
WRITE_LOCK = 0x736D7377     # "smsw": the advisory lock a write transaction takes at BEGIN
SETUP_LOCK = 0x736D7364     # "smsd": schema and functions are made by one process at a time
KEY_LOCK = 0x736D6B79       # "smky": Database.lock's keys (with the key's hash)
STORE_LOCK = 0x736D7374     # "smst": held by the daemon that runs a store (with the store id's CRC-32)
CHANGES = "smsd_changes"    # the channel every commit notifies: "<store id> <connection token>"
RECONNECT_MIN, RECONNECT_MAX = 0.5, 30.0  # seconds between tries to get the listener back

_STATUS_COUNT = re.compile(r"(\d+)$")


def _neutral(exc: BaseException) -> StorageError:
    """The driver-neutral error for asyncpg's (or the socket's)."""
    if isinstance(exc, (asyncpg.IntegrityConstraintViolationError, asyncpg.RaiseError)):
        return StorageConflict(str(exc))
    if isinstance(exc, (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError,
                        asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
                        InternalClientError)) or (
            # "connection is closed", "connection was closed in the middle of operation", "connection has
            # been released back to the pool" (the pool took back a connection whose link broke): the link
            # went mid-statement. Other interface errors are the code's (a wrong argument count).
            isinstance(exc, asyncpg.InterfaceError) and ("closed" in str(exc) or "released back" in str(exc))):
        return StorageUnavailable(f"the database server cannot be reached: {exc or type(exc).__name__}")
    return StorageError(str(exc))


# InternalClientError: the protocol's state broken by a server that went away mid-statement.
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, InternalClientError, OSError, asyncio.TimeoutError)


def _number(text: str) -> int | float:
    """``numeric`` as SQLite would give it: whole numbers as int."""
    return int(text) if text.lstrip("-").isdigit() else float(text)


@lru_cache(maxsize=2048)
def _sequence_sql(sql: str, count: int) -> str:
    return numbered(sql, (None,) * count)[0]


def _no_nul(value: Any) -> Any:
    """PostgreSQL's text cannot hold U+0000 (SQLite's can): an SMS, a form or an API call carrying one
    (operators' configuration SMS do) is stored with U+FFFD in its place instead of failing, which
    left such an SMS on the SIM for ever."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


def _wire_sql(sql: str, params: Params) -> tuple[str, Sequence[Any]]:
    """``sql`` with numbered placeholders and its arguments (cached for ``?`` statements)."""
    if isinstance(params, Mapping):
        text, args = numbered(sql, params)
        return text, [_no_nul(a) for a in args]
    return _sequence_sql(sql, len(params)), [_no_nul(a) for a in params]


def _changed(status: str) -> int:
    found = _STATUS_COUNT.search(status or "")
    return int(found.group(1)) if found else 0


@dataclass(eq=False)
class _Wire:
    """A pooled connection lent to one transaction; ``lock`` lets the tasks of that transaction take
    turns (asyncpg runs one statement at a time per connection, aiosqlite queued them)."""

    conn: asyncpg.Connection
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class PostgresDatabase(Database):
    """A PostgreSQL database reached by a ``postgresql://`` URL (a Unix socket: ``?host=/run/postgresql``)."""

    engine = "postgresql"
    skip_locked = "FOR UPDATE SKIP LOCKED"

    def __init__(self, pool: asyncpg.Pool, url: str, shop: ShopTime, store: str) -> None:
        super().__init__(shop)
        self._pool = pool
        self.url = url
        # Per store: the stores of a chain write side by side; one store's writers (its daemon, a staff
        # command) take turns as SQLite's do. Two int4 keys: (WRITE_LOCK, the store id's CRC-32).
        self._begin = f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK}, {zlib.crc32(store.encode()) - 2**31})"
        # Every commit tells the store's other processes (their live pages, their outbox) at once. The
        # store id is a plain identifier (config pattern) and the token hex: safe in a literal.
        self._token = f"{store} {uuid.uuid4().hex[:12]}"
        self._commit = f"SELECT pg_notify('{CHANGES}', '{self._token}'); COMMIT"
        self._store = store
        self._claim: asyncpg.Connection | None = None

    @classmethod
    async def connect(cls, url: str, shop: ShopTime, store: str = "main") -> "PostgresDatabase":
        """Reach the server, make the shop-day functions of this store's offset, return the database.
        Raises StorageUnavailable when the server cannot be reached, StorageError for the rest."""
        offset = int(shop.offset.total_seconds() // 60)
        schema = functions_schema(offset)

        async def init(conn: asyncpg.Connection) -> None:
            await conn.set_type_codec("numeric", encoder=str, decoder=_number, schema="pg_catalog", format="text")

        try:
            setup = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
            try:
                async with setup.transaction():
                    await setup.execute(f"SELECT pg_advisory_xact_lock({SETUP_LOCK})")
                    for statement in postgresql_functions(offset):
                        await setup.execute(statement)
                collation = await setup.fetchval(
                    "SELECT datcollate FROM pg_database WHERE datname = current_database()")
            finally:
                await setup.close()
            # min_size 0: no connections kept open for their own sake, so a server away is not retried
            # (and logged with a traceback) by the pool in the background; the callers say it once.
            pool = await asyncpg.create_pool(
                url, min_size=0, max_size=POOL_SIZE, timeout=CONNECT_TIMEOUT, init=init,
                server_settings={"search_path": f"public, {schema}", "application_name": "smsd-crm",
                                 "TimeZone": "UTC"})
        except _DRIVER_ERRORS as exc:
            error = _neutral(exc)
            raise type(error)(f"cannot open database {redacted(url)}: {error}") from None
        except ValueError as exc:  # a malformed URL
            raise StorageError(f"cannot open database {redacted(url)}: {exc}") from None
        if collation not in ("C", "POSIX"):
            # Stored instants are ISO text compared as text: byte order is their time order.
            LOGGER.warning("database %s sorts text by %r; create it with --locale=C (docs/deployment.md)",
                           redacted(url), collation)
        return cls(pool, url, shop, store)

    async def claim_store(self) -> None:
        # A session advisory lock on a connection of its own, held while the daemon runs; a lost link
        # frees it, keep_store_claim takes it again.
        key = zlib.crc32(self._store.encode()) - 2**31
        try:
            conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT)
            held = await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", STORE_LOCK, key)
        except _DRIVER_ERRORS as exc:
            raise self._failed(exc) from exc
        if not held:
            await conn.close()
            raise StartupError(f"another smsd-crm daemon already runs store {self._store!r} on database "
                               f"{redacted(self.url)}; give each store its own store.id")
        self._claim = conn

    async def keep_store_claim(self, interval: float = CLAIM_CHECK) -> None:
        while True:
            await asyncio.sleep(interval)
            conn = self._claim
            if conn is not None:
                try:
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), CONNECT_TIMEOUT)
                    continue
                except _DRIVER_ERRORS:
                    conn.terminate()  # the server restarted, or the link broke: the lock went with it
                    self._claim = None
                    LOGGER.warning("store %r: the claim on %s was lost with its link; taking it again",
                                   self._store, redacted(self.url))
            try:
                await self.claim_store()  # StartupError: another daemon took the store meanwhile
            except StorageError:
                continue  # the server is not back yet
            LOGGER.warning("store %r: claimed again", self._store)

    async def close(self) -> None:
        if self._claim is not None:
            self._claim.terminate()
            self._claim = None
        try:
            await asyncio.wait_for(self._pool.close(), CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            self._pool.terminate()

    async def lock(self, *key: str) -> None:
        await super().lock(*key)
        await self.fetchone("SELECT pg_advisory_xact_lock(?, hashtext(?))", (KEY_LOCK, "\x1f".join(key)))

    def json_values(self, param: str) -> str:
        return f"jsonb_array_elements_text(CAST({param} AS jsonb)) AS value"

    async def watch_changes(self, callback: Callable[[], None]) -> None:
        mine = f"{self._store} "

        def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            if payload.startswith(mine) and payload != self._token:
                callback()

        wait = RECONNECT_MIN
        while True:
            try:
                conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT)
            except _DRIVER_ERRORS as exc:
                LOGGER.info("database: change listener cannot connect (%s); again in %.0f s", _neutral(exc), wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, RECONNECT_MAX)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn: lost.set())
            try:
                await conn.add_listener(CHANGES, heard)
                if wait > RECONNECT_MIN:
                    LOGGER.info("database: change listener back")
                    callback()  # what was committed while it was away was not heard
                wait = RECONNECT_MIN
                await lost.wait()
                LOGGER.info("database: change listener lost its connection; reconnecting")
            except _DRIVER_ERRORS as exc:
                LOGGER.info("database: change listener failed (%s)", _neutral(exc))
            finally:
                conn.terminate()
            await asyncio.sleep(wait)
            wait = min(wait * 2, RECONNECT_MAX)

    async def table_names(self) -> set[str]:
        rows = await self.fetchall("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {r[0] for r in rows}

    def _failed(self, exc: BaseException) -> StorageError:
        """The neutral error; a lost link is logged once, when it goes (and once when it is back)."""
        error = _neutral(exc)
        if isinstance(error, StorageUnavailable) and self.down_since is None:
            self.down_since = time.time()
            LOGGER.warning("database %s unreachable (%s): received SMS stay on the SIMs and replies wait "
                           "until it is back", redacted(self.url), error)
        return error

    def _reached(self) -> None:
        if self.down_since is not None:
            self.last_outage = (self.down_since, time.time())
            LOGGER.warning("database %s reachable again after %.0f s", redacted(self.url),
                           self.last_outage[1] - self.last_outage[0])
            self.down_since = None

    async def _acquire(self) -> Any:
        try:
            wire = _Wire(await self._pool.acquire(timeout=CONNECT_TIMEOUT))
        except _DRIVER_ERRORS as exc:
            raise self._failed(exc) from exc
        return wire

    async def _release(self, connection: Any) -> None:
        try:
            await self._pool.release(connection.conn)
        except _DRIVER_ERRORS:
            pass  # the link broke: the pool closes the connection (its reset failed) or has it back already

    def _open_on(self, connection: Any) -> bool:
        try:
            return not connection.conn.is_closed() and connection.conn.is_in_transaction()
        except asyncpg.InterfaceError:  # a broken link's connection, already back in the pool
            return False

    def _abandon(self, connection: Any) -> None:
        async def rollback() -> None:
            try:
                await connection.conn.execute("ROLLBACK")
            except _DRIVER_ERRORS:
                pass  # the link is gone, and the transaction with it
            finally:
                await self._release(connection)
        asyncio.ensure_future(rollback())

    async def _statement(self, connection: Any, sql: str) -> None:
        if sql == "BEGIN":
            sql = self._begin
        elif sql == "COMMIT":
            sql = self._commit
        async with connection.lock:
            try:
                await connection.conn.execute(sql)
            except _DRIVER_ERRORS as exc:
                raise self._failed(exc) from exc
        self._reached()

    async def _write(self, connection: Any, sql: str, params: Params) -> int:
        async with connection.lock:
            try:
                if not params:
                    return _changed(await connection.conn.execute(sql))
                text, args = _wire_sql(sql, params)
                return _changed(await connection.conn.execute(text, *args))
            except _DRIVER_ERRORS as exc:
                raise self._failed(exc) from exc

    async def _write_many(self, connection: Any, sql: str, rows: Iterable[Params]) -> None:
        batch = [_wire_sql(sql, row) for row in rows]
        if not batch:
            return
        async with connection.lock:
            try:
                await connection.conn.executemany(batch[0][0], [args for _, args in batch])
            except _DRIVER_ERRORS as exc:
                raise self._failed(exc) from exc

    async def _fetch(self, connection: Any, sql: str, params: Params, one: bool) -> list[Row]:
        text, args = _wire_sql(sql, params)
        try:
            if connection is not None:
                async with connection.lock:
                    return await self._rows(connection.conn, text, args, one)
            async with self._pool.acquire(timeout=CONNECT_TIMEOUT) as conn:
                rows = await self._rows(conn, text, args, one)
        except _DRIVER_ERRORS as exc:
            raise self._failed(exc) from exc
        self._reached()
        return rows

    @staticmethod
    async def _rows(conn: asyncpg.Connection, sql: str, args: Sequence[Any], one: bool) -> list[Row]:
        if one:
            row = await conn.fetchrow(sql, *args)
            return [] if row is None else [row]
        return list(await conn.fetch(sql, *args))
