"""The durable progress of outbox messages being sent (table ``outbox_pdus``) and modem facts.

A message's parts are encoded once and kept here until every part is sent, so a restart
resumes with the same PDUs (the same concatenation reference) and only the parts not on the air.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from ..models import SENT, OutgoingPart
from . import messages
from .db import Database

_COLUMNS = "part, total, pdu, tpdu_length, state, modem_id, sim_id, storage_index, via, reference"
_REPLACED = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", ")[1:])


async def load_parts(db: Database, message_id: int) -> list[OutgoingPart]:
    """The message's parts in order; empty when it was never encoded."""
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM outbox_pdus WHERE message_id = ? ORDER BY part",
                             (message_id,))
    return [OutgoingPart(**dict(row)) for row in rows]


async def save_parts(db: Database, message_id: int, parts: list[OutgoingPart], now: datetime) -> None:
    """Keep freshly encoded parts (one transaction)."""
    async with db.transaction():
        for p in parts:
            await db.execute(
                f"""INSERT INTO outbox_pdus (message_id, {_COLUMNS}, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (message_id, part) DO UPDATE SET {_REPLACED}, updated_at = excluded.updated_at""",
                (message_id, p.part, p.total, p.pdu, p.tpdu_length, p.state, p.modem_id, p.sim_id,
                 p.storage_index, p.via, p.reference, now.isoformat()))


async def record_part(db: Database, message_id: int, p: OutgoingPart, now: datetime) -> None:
    """Commit one part's new state."""
    await db.execute(
        """UPDATE outbox_pdus SET state = ?, modem_id = ?, sim_id = ?, storage_index = ?, via = ?,
               reference = ?, updated_at = ? WHERE message_id = ? AND part = ?""",
        (p.state, p.modem_id, p.sim_id, p.storage_index, p.via, p.reference, now.isoformat(), message_id,
         p.part))


async def kept_slots(db: Database, sim_id: str, modem_id: str | None = None) -> set[int]:
    """Slots on SIM ``sim_id`` holding a part of a row still to be sent that is not known to be on
    the air (never to be tidied away); also those stored through ``modem_id`` while its SIM's
    identity could not be read (recorded under the modem id)."""
    rows = await db.fetchall(
        """SELECT p.storage_index FROM outbox_pdus p JOIN messages m ON m.id = p.message_id
           WHERE (p.sim_id = ? OR (p.modem_id = ? AND p.sim_id = p.modem_id))
             AND p.storage_index IS NOT NULL AND p.state != ? AND m.state IN ('queued', 'sending')""",
        (sim_id, modem_id, SENT))
    return {r["storage_index"] for r in rows}


class DbJournal:
    """The :class:`~smsd_crm.models.SendJournal` of one outbox row to ``phone``."""

    def __init__(self, db: Database, message_id: int, phone: str, clock: Callable[[], datetime]) -> None:
        self._db, self._id, self._phone, self._clock = db, message_id, phone, clock
        self.what = f"message {message_id} to {phone}"  # how logs name it

    async def record(self, part: OutgoingPart) -> None:
        now = self._clock()
        if part.state != SENT:
            await record_part(self._db, self._id, part, now)
            return
        async with self._db.transaction():
            await record_part(self._db, self._id, part, now)
            await messages.record_sent_part(self._db, self._id, part, self._phone, now)


class DbFacts:
    """Modem facts (``modem_facts``) by IMEI: what a model was seen to do."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db, self._clock = db, clock
        self._cache: dict[tuple[str, str], str | None] = {}

    async def get(self, imei: str, fact: str) -> str | None:
        if (imei, fact) not in self._cache:
            row = await self._db.fetchone("SELECT value FROM modem_facts WHERE imei = ? AND fact = ?",
                                          (imei, fact))
            self._cache[(imei, fact)] = row["value"] if row else None
        return self._cache[(imei, fact)]

    async def put(self, imei: str, fact: str, value: str) -> None:
        await self._db.execute(
            """INSERT INTO modem_facts (imei, fact, value, learned_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (imei, fact) DO UPDATE SET value = excluded.value, learned_at = excluded.learned_at""",
            (imei, fact, value, self._clock().isoformat()))
        self._cache[(imei, fact)] = value
