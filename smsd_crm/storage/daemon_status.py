"""The daemon's own health, one row, so another process (`smsd-crm status`, the pages) can read it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .db import Database


async def write(db: Database, loop_lag_max_ms: float, loop_lag_p99_ms: float, samples: int, now: datetime) -> None:
    """Replace the row: the event loop's lag over the last minute (milliseconds) and its sample count."""
    await db.execute(
        """INSERT INTO daemon_status (id, loop_lag_max_ms, loop_lag_p99_ms, samples, updated_at)
           VALUES (1, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET loop_lag_max_ms = excluded.loop_lag_max_ms,
               loop_lag_p99_ms = excluded.loop_lag_p99_ms, samples = excluded.samples,
               updated_at = excluded.updated_at""", (loop_lag_max_ms, loop_lag_p99_ms, samples, now.isoformat()))


async def read(db: Database) -> dict[str, Any] | None:
    """The row, or None when no daemon has written it yet.

    Also None on a database not yet migrated to have the table: `smsd-crm status` of a newer
    install still shows the modems while an older daemon runs.
    """
    if not await db.has_table("daemon_status"):
        return None
    row = await db.fetchone("SELECT * FROM daemon_status WHERE id = 1")
    return dict(row) if row else None
