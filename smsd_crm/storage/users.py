"""Web users, their lockout state, and server-side sessions."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime

from .db import Database


def token_hash(token: str) -> str:
    """What is stored for a session cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


async def add_user(db: Database, username: str, password_hash: str, role: str, now: datetime) -> int:
    """Create a user; ValueError if the name is taken."""
    try:
        return await db.execute(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
            (username, password_hash, role, now.isoformat()))
    except sqlite3.IntegrityError:
        raise ValueError(f"user {username!r} already exists") from None


async def get_user(db: Database, username: str) -> sqlite3.Row | None:
    """The user row by name."""
    return await db.fetchone("SELECT * FROM users WHERE username = ?", (username,))


async def record_failure(db: Database, user_id: int, attempts: int, lock_until: datetime) -> bool:
    """Count a wrong password; lock the account at ``attempts``. True if it is now locked."""
    async with db.transaction():
        await db.execute("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = ?", (user_id,))
        row = await db.fetchone("SELECT failed_logins FROM users WHERE id = ?", (user_id,))
        if row["failed_logins"] >= attempts:
            await db.execute("UPDATE users SET locked_until = ?, failed_logins = 0 WHERE id = ?",
                             (lock_until.isoformat(), user_id))
            return True
    return False


async def record_success(db: Database, user_id: int) -> None:
    """A right password clears the count."""
    await db.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?", (user_id,))


async def create_session(db: Database, token: str, user_id: int, csrf: str, now: datetime,
                         expires: datetime) -> None:
    """Store a new session (a new id at every login)."""
    await db.execute(
        "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (token_hash(token), user_id, csrf, now.isoformat(), expires.isoformat()))


async def get_session(db: Database, token: str, now: datetime) -> sqlite3.Row | None:
    """The live session for a cookie, with its user's name and role."""
    return await db.fetchone(
        "SELECT s.*, u.username, u.role FROM web_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = ? AND s.expires_at > ?", (token_hash(token), now.isoformat()))


async def touch_session(db: Database, token: str, expires: datetime) -> None:
    """Slide the expiry of a session in use."""
    await db.execute("UPDATE web_sessions SET expires_at = ? WHERE token_hash = ?",
                     (expires.isoformat(), token_hash(token)))


async def end_session(db: Database, token: str) -> None:
    """Log out."""
    await db.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash(token),))
