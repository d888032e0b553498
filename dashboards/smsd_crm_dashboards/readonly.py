"""Read-only queries on connections of their own, in worker threads: for the dashboards' heavy reads,
which must never queue behind (or in front of) the daemon's one writing connection."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from smsd_crm.shop_time import ShopTime, for_zone
from smsd_crm.storage.db import Params


class ReadOnlyDatabase:
    """``fetchone`` / ``fetchall`` like :class:`Database`, on a read-only connection of its own (WAL
    lets it read beside the writer). Opened on first use, kept, used by one worker thread at a time;
    each statement runs in autocommit, so it always sees the latest commit."""

    def __init__(self, path: str | Path, shop: ShopTime | None = None) -> None:
        self.path = str(path)
        self.shop = shop or for_zone()  # the SQL functions of shop_time.sql_day
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _run(self, sql: str, params: Params, one: bool):
        with self._lock:
            if self._conn is None:
                self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10,
                                             check_same_thread=False)
                self._conn.row_factory = sqlite3.Row
                self.shop.install(self._conn)
            cursor = self._conn.execute(sql, params)
            try:
                return cursor.fetchone() if one else cursor.fetchall()
            finally:
                cursor.close()  # an unfinished statement would keep reading an old snapshot

    def close(self) -> None:
        """Close the connection (a later query opens a new one)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row of a parameterised query, or None."""
        return await asyncio.to_thread(self._run, sql, params, True)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Every row of a parameterised query."""
        return await asyncio.to_thread(self._run, sql, params, False)

    engine = "sqlite"

    async def has_table(self, name: str) -> bool:
        """Whether a table of that name exists (a plugin's, which may be switched off)."""
        return await self.fetchone("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None

    def json_values(self, param: str) -> str:
        """As :meth:`smsd_crm.storage.db.Database.json_values`."""
        return f"json_each({param})"
