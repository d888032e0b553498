"""The daemon's own daily backup (``backup.daily_at``): at that time of day in store.timezone, the SQLite
database into ``backup.folder`` through the online backup API (in a thread: the loop keeps answering
SMS meanwhile), keeping the ``backup.keep`` newest. A failure is one warning; the next day tries again."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from typing import Callable

from .config import Settings
from .errors import SmsdError
from .storage import sqlite_backup

LOGGER = logging.getLogger(__name__)


def next_run(now: datetime, at: time) -> datetime:
    """The first instant after ``now`` (aware, in the shop's zone) whose wall-clock time is ``at``."""
    candidate = now.replace(hour=at.hour, minute=at.minute, second=at.second, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


async def run(settings: Settings, clock: Callable[[], datetime]) -> None:
    """Back up once a day until cancelled. ``clock``: now, aware (UTC)."""
    at = settings.backup.daily_at
    if at is None or settings.database.engine != "sqlite":
        return
    zone = settings.store.time.zone
    while True:
        now = clock().astimezone(zone)
        # bounded: at most a day; recomputed after the sleep in case the clock was set meanwhile
        await asyncio.sleep((next_run(now, at) - now).total_seconds())
        when = clock().astimezone(zone)
        try:
            made = await asyncio.to_thread(
                sqlite_backup.backup, settings.database.path,
                settings.backup.folder / sqlite_backup.backup_name(when))
            gone = await asyncio.to_thread(sqlite_backup.prune, settings.backup.folder, settings.backup.keep)
        except (SmsdError, OSError) as exc:
            LOGGER.warning("daily backup failed: %s (the next try is tomorrow at %s)", exc, at.strftime("%H:%M"))
            continue
        LOGGER.info("daily backup %s: %d rows, %.1f MB%s", made.path, made.rows, made.size / 1e6,
                    f"; removed {len(gone)} older" if gone else "")
