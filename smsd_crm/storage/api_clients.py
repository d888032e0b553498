"""JSON API clients and their tokens (only a SHA-256 of each token is stored), each with its scopes:
``read`` (GET routes) and ``send`` (routes that send SMS or change something)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Iterable

from ..errors import StorageConflict
from .db import Database, Row
from .users import token_hash

TOKEN_PREFIX = "smsd_"
SCOPES = ("read", "send")


def scope_text(scopes: Iterable[str]) -> str:
    """Scopes as stored (``read send``); ValueError naming an unknown one or none at all."""
    chosen = set(scopes)
    unknown = chosen - set(SCOPES)
    if unknown or not chosen:
        raise ValueError(f"scopes are {' and '.join(SCOPES)}; got {', '.join(sorted(unknown)) or 'none'}")
    return " ".join(s for s in SCOPES if s in chosen)


async def add_client(db: Database, name: str, now: datetime, scopes: Iterable[str] = ("read",)) -> str:
    """Create a client allowed ``scopes`` (only ``read`` unless told) and return its token (shown
    once); ValueError if the name is taken or a scope is unknown."""
    stored = scope_text(scopes)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        await db.execute("INSERT INTO api_clients (name, token_hash, created_at, scopes) VALUES (?, ?, ?, ?)",
                         (name, token_hash(token), now.isoformat(), stored))
    except StorageConflict:
        raise ValueError(f"API client {name!r} already exists") from None
    return token


async def client_for(db: Database, token: str, now: datetime) -> str | None:
    """The name of the active client holding ``token``, or None."""
    row = await db.fetchone("SELECT id, name FROM api_clients WHERE token_hash = ? AND revoked_at IS NULL",
                            (token_hash(token),))
    if row is None:
        return None
    await db.execute("UPDATE api_clients SET last_used_at = ? WHERE id = ?", (now.isoformat(), row["id"]))
    return row["name"]


async def scopes_of(db: Database, name: str) -> frozenset[str]:
    """What the active client ``name`` may do (empty when it is revoked or unknown)."""
    row = await db.fetchone("SELECT scopes FROM api_clients WHERE name = ? AND revoked_at IS NULL", (name,))
    return frozenset(row["scopes"].split()) if row else frozenset()


async def revoke(db: Database, name: str, now: datetime) -> bool:
    """Stop a client's token working; False if there is no such active client."""
    return await db.execute_changes(
        "UPDATE api_clients SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now.isoformat(), name)) > 0


async def list_clients(db: Database) -> list[Row]:
    """Every client, newest first."""
    return await db.fetchall("SELECT name, scopes, created_at, last_used_at, revoked_at FROM api_clients "
                             "ORDER BY id DESC")
