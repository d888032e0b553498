"""Keys the daemon keeps across restarts (never logged, never shown)."""

from __future__ import annotations

import secrets
from datetime import datetime

from .db import Database


async def get_or_create(db: Database, name: str, now: datetime, nbytes: int = 48) -> str:
    """The secret called ``name``, made on first use."""
    row = await db.fetchone("SELECT value FROM app_secrets WHERE name = ?", (name,))
    if row:
        return row[0]
    value = secrets.token_urlsafe(nbytes)
    await db.execute("INSERT INTO app_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                     (name, value, now.isoformat()))
    return (await db.fetchone("SELECT value FROM app_secrets WHERE name = ?", (name,)))[0]
