"""Forms acted on once: a double tap, a resent form or racing requests never text a customer twice.

A page puts a random token in each form that texts a customer (``web.base.once_field``); the first
POST carrying it claims it here and acts, any later one with the same token is a repeat. A claim is
given back when the action was refused (an empty reply), so the corrected form may act.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .db import Database

KEEP = timedelta(days=2)  # a page left open longer than this gets a fresh token when it reloads anyway


async def claim(db: Database, token: str, now: datetime) -> bool:
    """True the first time ``token`` is seen (it is recorded), False for a repeat. An empty token
    (a client without one) always acts."""
    if not token:
        return True
    changed = await db.execute_changes("INSERT INTO form_uses (token, at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                       (token[:64], now.isoformat()))
    if changed and token[-1] == "0":  # now and then, forget old tokens
        await db.execute("DELETE FROM form_uses WHERE at < ?", ((now - KEEP).isoformat(),))
    return bool(changed)


async def give_back(db: Database, token: str) -> None:
    """Forget ``token``: the action it claimed did not happen."""
    if token:
        await db.execute("DELETE FROM form_uses WHERE token = ?", (token[:64],))
