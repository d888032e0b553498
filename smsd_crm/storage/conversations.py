"""Open dialogues between a plugin and a number, with an expiry (stored: a restart keeps them)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from .db import Database


async def get(db: Database, phone: str, now: datetime) -> tuple[str, dict[str, Any]] | None:
    """(plugin, state) of the open, unexpired dialogue with ``phone``."""
    row = await db.fetchone("SELECT plugin, state FROM conversations WHERE phone = ? AND expires_at > ?",
                            (phone, now.isoformat()))
    return (row["plugin"], json.loads(row["state"])) if row else None


async def put(db: Database, phone: str, plugin: str, state: dict[str, Any], minutes: float, now: datetime) -> None:
    """Open or replace the dialogue with ``phone`` (one per number)."""
    await db.execute(
        "INSERT INTO conversations (phone, plugin, state, expires_at, updated_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (phone) DO UPDATE SET plugin = excluded.plugin, state = excluded.state, "
        "expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        (phone, plugin, json.dumps(state), (now + timedelta(minutes=minutes)).isoformat(), now.isoformat()))


async def close(db: Database, phone: str, plugin: str) -> None:
    """End ``plugin``'s dialogue with ``phone``."""
    await db.execute("DELETE FROM conversations WHERE phone = ? AND plugin = ?", (phone, plugin))
