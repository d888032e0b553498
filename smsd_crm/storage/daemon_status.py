"""The daemon's own health, one row per store, so another process (`smsd-crm status`, the pages) can read it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .db import Database


async def write(db: Database, loop_lag_max_ms: float, loop_lag_p99_ms: float, samples: int, now: datetime) -> None:
    """Replace this store's row: the event loop's lag over the last minute (milliseconds) and its sample
    count, and the database server's last outage as this daemon saw it (``Database.last_outage``)."""
    outage = [datetime.fromtimestamp(t, timezone.utc).isoformat() for t in db.last_outage or ()] or [None, None]
    await db.execute(
        """INSERT INTO daemon_status (store_id, loop_lag_max_ms, loop_lag_p99_ms, samples, db_outage_from,
               db_outage_to, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (store_id) DO UPDATE SET loop_lag_max_ms = excluded.loop_lag_max_ms,
               loop_lag_p99_ms = excluded.loop_lag_p99_ms, samples = excluded.samples,
               db_outage_from = excluded.db_outage_from, db_outage_to = excluded.db_outage_to,
               updated_at = excluded.updated_at""", (db.store, loop_lag_max_ms, loop_lag_p99_ms, samples, *outage, now.isoformat()))


async def read(db: Database) -> dict[str, Any] | None:
    """The row, or None when no daemon has written it yet.

    Also None on a database not yet migrated to have the table: `smsd-crm status` of a newer
    install still shows the modems while an older daemon runs.
    """
    if not await db.has_table("daemon_status"):
        return None
    row = await db.fetchone("SELECT * FROM daemon_status WHERE store_id = ?", (db.store,))
    return dict(row) if row else None
