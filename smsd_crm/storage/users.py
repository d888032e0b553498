"""Web users (logins) and server-side sessions (wrong logins are counted in memory: web/throttle.py).

The shop's rules for logins live here, so the CLI (``smsd-crm user ...``) and the users page share
them: a name is taken once, a disabled login has no session, and the shop always keeps an active
owner. A refusal is a :class:`UserRefused` naming its text in the catalogue.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from ..errors import StorageConflict
from ..i18n import catalogue
from .db import Database, Row

ROLES = ("owner", "staff")
MAX_NAME = 64  # the login form reads no more than this


class UserRefused(ValueError):
    """A change to the logins that the shop's rules refuse. ``name`` and ``values`` name its text in
    the catalogue (texts.yaml), so a page says it in its language; ``str()`` is the English (the CLI)."""

    def __init__(self, name: str, /, **values: object) -> None:
        super().__init__(catalogue().text(name, "en", **values))
        self.name = name
        self.values = values


def token_hash(token: str) -> str:
    """What is stored for a session cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def valid_name(username: str) -> bool:
    """A login name: 1 to 64 of ``a-z A-Z 0-9 . _ -`` (typed on any phone's keyboard; no look-alike
    letter from another script, such as a Cyrillic а in "kasir")."""
    return 0 < len(username) <= MAX_NAME and set(username) <= NAME_CHARACTERS


async def add_user(db: Database, username: str, password_hash: str, role: str, now: datetime) -> int:
    """Create a user; UserRefused if the name is not valid or taken, or the role unknown."""
    if not valid_name(username):
        raise UserRefused("users.refused.bad_name", max=MAX_NAME)
    if role not in ROLES:
        raise UserRefused("users.refused.bad_role")
    if await db.fetchone("SELECT 1 FROM users WHERE lower(username) = lower(?)", (username,)):
        raise UserRefused("users.refused.exists", name=username)  # "Kasir" beside "kasir" is the same person's name
    try:
        return int(await db.fetchval(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?) RETURNING id",
            (username, password_hash, role, now.isoformat())))
    except StorageConflict:
        raise UserRefused("users.refused.exists", name=username) from None


async def get_user(db: Database, username: str) -> Row | None:
    """The user row by name."""
    return await db.fetchone("SELECT * FROM users WHERE username = ?", (username,))


async def list_users(db: Database) -> list[Row]:
    """Every login by name (no password hashes)."""
    return await db.fetchall("SELECT id, username, role, created_at, disabled_at FROM users "
                             "ORDER BY username")


async def _existing(db: Database, username: str) -> Row:
    user = await get_user(db, username)
    if user is None:
        raise UserRefused("users.refused.unknown", name=username)
    return user


async def _keep_an_owner(db: Database, user: Row) -> None:
    """Refuse to take ``user`` away from the active owners when no other is left."""
    if user["role"] != "owner" or user["disabled_at"] is not None:
        return
    others = await db.fetchone("SELECT COUNT(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL "
                               "AND id != ?", (user["id"],))
    if others[0] == 0:
        raise UserRefused("users.refused.last_owner")


async def set_role(db: Database, username: str, role: str) -> int:
    """Make a login owner or staff (never the last active owner staff); return its id."""
    if role not in ROLES:
        raise UserRefused("users.refused.bad_role")
    async with db.transaction():
        user = await _existing(db, username)
        if role != "owner":
            await _keep_an_owner(db, user)
        await db.execute("UPDATE users SET role = ? WHERE id = ?", (role, user["id"]))
    return user["id"]


async def disable(db: Database, username: str, now: datetime) -> int:
    """Switch a login off and end its sessions (never the last active owner); return its id."""
    async with db.transaction():
        user = await _existing(db, username)
        if user["disabled_at"] is None:
            await _keep_an_owner(db, user)
            await db.execute("UPDATE users SET disabled_at = ? WHERE id = ?", (now.isoformat(), user["id"]))
        await end_sessions(db, user["id"])
    return user["id"]


async def enable(db: Database, username: str) -> int:
    """Let a disabled login log in again; return its id."""
    async with db.transaction():
        user = await _existing(db, username)
        await db.execute("UPDATE users SET disabled_at = NULL WHERE id = ?", (user["id"],))
    return user["id"]


async def set_password(db: Database, username: str, password_hash: str, keep_token: str | None = None) -> int:
    """A new password (its hash) for a login: every session it has ends,
    except ``keep_token``'s (the person changing their own password stays logged in); return its id."""
    async with db.transaction():
        user = await _existing(db, username)
        await db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user["id"]))
        await end_sessions(db, user["id"], keep_token)
    return user["id"]


async def end_sessions(db: Database, user_id: int, keep_token: str | None = None) -> None:
    """End every session of a user (but ``keep_token``'s)."""
    keep = token_hash(keep_token) if keep_token else ""
    await db.execute("DELETE FROM web_sessions WHERE user_id = ? AND token_hash != ?", (user_id, keep))


async def rehash(db: Database, user_id: int, old_hash: str, new_hash: str) -> None:
    """The same password hashed again at today's cost (at a right login); its sessions stay. Nothing
    happens if the password changed meanwhile."""
    await db.execute("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
                     (new_hash, user_id, old_hash))


async def create_session(db: Database, token: str, user_id: int, csrf: str, now: datetime,
                         expires: datetime) -> None:
    """Store a new session (a new id at every login)."""
    await db.execute(
        "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (token_hash(token), user_id, csrf, now.isoformat(), expires.isoformat()))


async def get_session(db: Database, token: str, now: datetime) -> Row | None:
    """The live session for a cookie, with its user's name and role (none for a disabled login)."""
    return await db.fetchone(
        "SELECT s.*, u.username, u.role FROM web_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL", (token_hash(token), now.isoformat()))


async def touch_session(db: Database, token: str, expires: datetime) -> None:
    """Slide the expiry of a session in use."""
    await db.execute("UPDATE web_sessions SET expires_at = ? WHERE token_hash = ?",
                     (expires.isoformat(), token_hash(token)))


async def end_session(db: Database, token: str) -> None:
    """Log out."""
    await db.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash(token),))
