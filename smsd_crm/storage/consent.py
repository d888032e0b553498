"""Promotion consent (core): who may receive promotions, and every change with its reason."""

from __future__ import annotations

from datetime import datetime

from .db import Database


async def set_promotions(db: Database, phone: str, allowed: bool, now: datetime, *,
                         message_id: int | None, source: str) -> bool:
    """Record a change; return True if it changed anything (an event row is written either way)."""
    stamp = now.isoformat()
    async with db.transaction():
        row = await db.fetchone("SELECT promotions FROM consent WHERE phone = ?", (phone,))
        changed = row is None or bool(row["promotions"]) != allowed
        await db.execute(
            "INSERT INTO consent (phone, promotions, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (phone) DO UPDATE SET promotions = excluded.promotions, updated_at = excluded.updated_at",
            (phone, int(allowed), stamp))
        await db.execute(
            "INSERT INTO consent_events (phone, promotions, at, message_id, source) VALUES (?, ?, ?, ?, ?)",
            (phone, int(allowed), stamp, message_id, source))
    return changed


async def may_promote(db: Database, phone: str) -> bool:
    """The check made when each promotion is sent: False once the number opted out."""
    row = await db.fetchone("SELECT promotions FROM consent WHERE phone = ?", (phone,))
    return row is None or bool(row["promotions"])


async def history(db: Database, phone: str) -> list:
    """Every consent change of ``phone``, newest first."""
    return await db.fetchall(
        "SELECT promotions, at, source, message_id FROM consent_events WHERE phone = ? ORDER BY id DESC", (phone,))
