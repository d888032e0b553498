"""Read-only queries on connections of their own, in worker threads: for the dashboards' heavy reads,
which must never queue behind (or in front of) the daemon's one writing connection."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from .db import Params


class ReadOnlyDatabase:
    """``fetchone`` / ``fetchall`` like :class:`Database`, each on a fresh read-only connection (WAL lets
    readers in beside the writer)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def _run(self, sql: str, params: Params, one: bool):
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            cursor = conn.execute(sql, params)
            return cursor.fetchone() if one else cursor.fetchall()
        finally:
            conn.close()

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """The first row of a parameterised query, or None."""
        return await asyncio.to_thread(self._run, sql, params, True)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Every row of a parameterised query."""
        return await asyncio.to_thread(self._run, sql, params, False)
