"""Queries on complaint tickets and their notes (core storage: ``commerce_schema.py``).

A chain's tickets are the chain's (one desk for every store; docs/deployment.md says so).
"""

from __future__ import annotations

from datetime import datetime

from ..models import Complaint
from .db import Database, Row


def _complaint(row: Row) -> Complaint:
    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None
    return Complaint(row["id"], row["phone"], row["state"], row["language"], datetime.fromisoformat(row["opened_at"]),
                     when(row["first_answer_at"]), when(row["closed_at"]), row["close_note"])


async def get(db: Database, number: int) -> Complaint | None:
    """One ticket, or None."""
    row = await db.fetchone("SELECT * FROM complaints WHERE id = ?", (number,))
    return _complaint(row) if row else None


async def latest_open(db: Database, phone: str) -> Complaint | None:
    """The customer's newest ticket that is not closed, or None."""
    row = await db.fetchone("SELECT * FROM complaints WHERE phone = ? AND state != 'closed' ORDER BY id DESC LIMIT 1",
                            (phone,))
    return _complaint(row) if row else None


async def open_ticket(db: Database, phone: str, language: str, now: datetime) -> int:
    """A new ticket, waiting for staff; returns its number."""
    return int(await db.fetchval("INSERT INTO complaints (phone, state, language, opened_at) VALUES (?, 'open', ?, ?) "
                                 "RETURNING id", (phone, language, now.isoformat())))


async def add_note(db: Database, number: int, author: str, text: str, now: datetime,
                   message_id: int | None = None) -> None:
    """A note on a ticket by ``author``: ``customer`` (their words, with their SMS), ``note`` (an
    internal note), else the staff member who answered (``staff``, ``web:name``). A customer's note
    puts the ticket back in ``open``: it waits for staff again."""
    async with db.transaction():
        await db.execute("INSERT INTO complaint_notes (complaint_id, at, author, text, message_id) VALUES (?, ?, ?, ?, ?)",
                         (number, now.isoformat(), author, text, message_id))
        if author == "customer":
            await db.execute("UPDATE complaints SET state = 'open' WHERE id = ? AND state = 'answered'", (number,))


async def mark_answered(db: Database, number: int, now: datetime) -> None:
    """Staff answered: ``answered``; the first answer's time is kept (the service analytics)."""
    await db.execute("UPDATE complaints SET state = 'answered', first_answer_at = COALESCE(first_answer_at, ?) "
                     "WHERE id = ?", (now.isoformat(), number))


async def mark_closed(db: Database, number: int, now: datetime, note: str | None = None) -> None:
    """Closed, with the staff's closing note (None: none)."""
    await db.execute("UPDATE complaints SET state = 'closed', closed_at = ?, close_note = ? WHERE id = ?",
                     (now.isoformat(), note or None, number))


async def open_count(db: Database) -> int:
    """Tickets not closed."""
    return int(await db.fetchval("SELECT COUNT(*) FROM complaints WHERE state != 'closed'"))
