"""Queries on the messages table: the inbox and the durable outbox."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from .. import phones
from ..models import InboundMessage, OutboundMessage, OutgoingPart
from .db import Database, Row

REPLY_PRIORITY = 10  # replies to customers first
STAFF_PRIORITY = 5  # staff, API and plugin messages after replies, before campaigns
CAMPAIGN_PRIORITY = 0


@dataclass(frozen=True, slots=True)
class StoredInbound:
    """An inbound row as the router needs it."""

    id: int
    phone: str | None
    address: str
    text: str
    modem_id: str
    state: str
    created_at: datetime


def dedupe_key(msg: InboundMessage, store: str = "main") -> str:
    """Same store, SIM, sender, SMSC time and text: the same SMS read twice. The store is part of it
    (except the default one's, whose keys stay as they were) because two stores' SIMs may share an id
    and a customer may send both the same text in the same second."""
    stamp = msg.smsc_time.isoformat() if msg.smsc_time else ""
    sim = msg.sim_id or msg.modem_id
    raw = "\x1f".join((sim if store == "main" else f"{store}/{sim}", msg.sender, stamp, msg.text, *msg.raw_pdus))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


async def insert_inbound(db: Database, msg: InboundMessage, phone: str | None, now: datetime) -> int | None:
    """Store an inbound SMS; return its id, or None when it was already stored."""
    stamp = now.isoformat()
    async with db.transaction():
        cur = await db.fetchone(
            """INSERT INTO messages (direction, state, phone, address, customer_id, text, modem_id,
                   sim_id, smsc_time, dedupe_key, incomplete, raw_pdu, last_error, created_at, updated_at, store_id)
               VALUES ('in', ?, ?, ?, (SELECT id FROM customers WHERE phone = ?), ?, ?, ?, ?, ?,
                       ?, ?, ?, ?, ?, ?)
               ON CONFLICT (dedupe_key) DO NOTHING
               RETURNING id""",
            ("failed" if msg.error else "handled" if msg.binary else "received", phone, msg.sender, phone,
             msg.text, msg.modem_id, msg.sim_id, msg.smsc_time.isoformat() if msg.smsc_time else None,
             dedupe_key(msg, db.store), int(msg.incomplete), ",".join(msg.raw_pdus) or None,
             msg.error or ("binary message (8-bit data), not answered" if msg.binary else None), stamp, stamp,
             db.store))
    return cur["id"] if cur else None


def _inbound(row: Row) -> StoredInbound:
    return StoredInbound(row["id"], row["phone"], row["address"], row["text"], row["modem_id"] or "",
                         row["state"], datetime.fromisoformat(row["created_at"]))


async def get_inbound(db: Database, message_id: int) -> StoredInbound | None:
    """One inbound row."""
    row = await db.fetchone("SELECT * FROM messages WHERE id = ? AND direction = 'in' AND store_id = ?",
                            (message_id, db.store))
    return _inbound(row) if row else None


async def pending_inbound(db: Database) -> list[int]:
    """Ids of inbound rows stored but not yet routed (e.g. after a crash), oldest first."""
    rows = await db.fetchall("SELECT id FROM messages WHERE direction = 'in' AND state = 'received' AND store_id = ? "
                             "ORDER BY id", (db.store,))
    return [r["id"] for r in rows]


async def finish_inbound(db: Database, message_id: int, state: str, now: datetime, *,
                         keyword: str | None = None, plugin: str | None = None,
                         error: str | None = None) -> None:
    """Mark an inbound row handled or failed, with who handled it."""
    await db.execute(
        """UPDATE messages SET state = ?, keyword = ?, plugin = ?, last_error = ?, updated_at = ?,
               customer_id = COALESCE(customer_id, (SELECT id FROM customers c WHERE c.phone = messages.phone))
           WHERE id = ?""",
        (state, keyword, plugin, error, now.isoformat(), message_id))


async def queue_outbound(db: Database, phone: str, text: str, now: datetime, *,
                         priority: int = REPLY_PRIORITY, in_reply_to: int | None = None,
                         plugin: str | None = None, modem_id: str | None = None,
                         campaign_id: int | None = None, fallback: bool = False) -> int:
    """Add an outbox row (committed before any modem sees it); return its id.

    ``fallback`` marks an automatic "not understood" reply, counted by :func:`fallbacks_since`.
    """
    stamp = now.isoformat()
    return int(await db.fetchval(
        """INSERT INTO messages (direction, state, phone, address, customer_id, text, modem_id, plugin,
               in_reply_to, priority, campaign_id, fallback, created_at, updated_at, store_id)
           VALUES ('out', 'queued', ?, ?, (SELECT id FROM customers WHERE phone = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           RETURNING id""",
        (phone, phone, phone, text, modem_id, plugin, in_reply_to, priority, campaign_id, int(fallback),
         stamp, stamp, db.store)))


async def claim_next(db: Database, now: datetime, modem_id: str, senders: list[str],
                     same_sim_until: datetime, campaigns: bool = True, connected: list[str] | None = None,
                     resume_until: datetime | None = None) -> OutboundMessage | None:
    """Take the most urgent due outbox row for ``modem_id`` and mark it ``sending``.

    Replies go before bulk (priority). A row that names a modem (the SIM the
    customer texted) waits for it until ``same_sim_until`` passes its creation,
    unless that modem cannot send (not in ``senders``); a row whose last send
    failed on this modem comes after the others while another modem can send, and keeps its
    place when this modem is the only one. A row with a part in flight from another modem's SIM
    (``submitting``: it may be on the air) waits for that modem (only it can tell whether the part went out) while it is
    ``connected`` (resting or not), and while the part's last step is newer than ``resume_until``
    (a modem re-enumerating after a power cut comes back).
    ``campaigns`` False: this modem has used its campaign messages for the day, so only other
    rows are taken.
    """
    stamp = now.isoformat()
    alone = not [s for s in senders if s != modem_id]
    async with db.transaction():
        row = await db.fetchone(
            f"""UPDATE messages SET state = 'sending', attempts = attempts + 1, modem_id = :me,
                   updated_at = :now
               WHERE id = (
                   SELECT id FROM messages
                   WHERE direction = 'out' AND state = 'queued' AND store_id = :store
                     AND (next_attempt_at IS NULL OR next_attempt_at <= :now)
                     AND (campaign_id IS NULL OR :campaigns)
                     AND (modem_id IS NULL OR modem_id = :me OR created_at <= :cutoff
                          OR modem_id NOT IN (SELECT value FROM {db.json_values(":senders")}))
                     AND NOT EXISTS (
                         SELECT 1 FROM outbox_pdus p WHERE p.message_id = messages.id
                           AND p.state = 'submitting' AND p.storage_index IS NOT NULL
                           AND p.modem_id != :me
                           AND (p.modem_id IN (SELECT value FROM {db.json_values(":connected")})
                                OR p.updated_at > :resume))
                   -- IS NOT NULL: a NULL sorts first in SQLite and last in PostgreSQL; false sorts first in both.
                   ORDER BY priority DESC, (modem_id IS NOT NULL AND modem_id = :me) DESC,
                            (failed_modem IS NOT NULL AND failed_modem = :me AND NOT :alone) ASC, id
                   LIMIT 1 {db.skip_locked})
               RETURNING id, phone, text, attempts, modem_id, campaign_id""",
            {"me": modem_id, "now": stamp, "store": db.store, "cutoff": same_sim_until.isoformat(),
             "senders": json.dumps(senders), "campaigns": bool(campaigns), "alone": bool(alone),
             "connected": json.dumps(senders if connected is None else connected),
             "resume": (resume_until or now).isoformat()})
    if row is None:
        return None
    return OutboundMessage(row["id"], row["phone"], row["text"], row["attempts"], row["modem_id"],
                           row["campaign_id"])


async def queue_state(db: Database) -> tuple[datetime | None, bool]:
    """(when the earliest deferred row becomes due, whether any row is queued and due now)."""
    row = await db.fetchone(
        """SELECT MIN(next_attempt_at) AS t, COUNT(*) FILTER (WHERE next_attempt_at IS NULL) AS now_
           FROM messages WHERE direction = 'out' AND state = 'queued' AND store_id = ?""", (db.store,))
    due = datetime.fromisoformat(row["t"]) if row and row["t"] else None
    return due, bool(row and row["now_"])


async def mark_sent(db: Database, message_id: int, parts: list[OutgoingPart], now: datetime,
                    phone: str = "") -> None:
    """Every part is on the air: record each part's SIM and reference for status reports and
    drop the send journal. A part found sent in storage has no known reference (-1, never matched)."""
    stamp = now.isoformat()
    last = parts[-1]
    async with db.transaction():
        await db.execute(
            """UPDATE messages SET state = 'sent', modem_id = ?, refs = ?, last_error = NULL, updated_at = ?
               WHERE id = ?""",
            (last.modem_id, ",".join(str(p.reference if p.reference is not None else -1) for p in parts), stamp,
             message_id))
        for p in parts:  # normally recorded as each part went out (record_sent_part)
            await db.execute(
                """INSERT INTO outbox_parts (message_id, part, modem_id, sim_id, reference, phone,
                       sent_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                (message_id, p.part, p.modem_id or "", p.sim_id or p.modem_id or "",
                 p.reference if p.reference is not None else -1, phone, stamp))
        await db.execute("DELETE FROM outbox_pdus WHERE message_id = ?", (message_id,))
        # A part's report can come back before the last part is sent.
        reported = await db.fetchall("SELECT status, final FROM outbox_parts WHERE message_id = ?", (message_id,))
        state = _state_from_reports(reported)
        if state != "sent":
            failed = next((p["status"] for p in reported if p["final"] and (p["status"] or 0) >= 0x40), None)
            await db.execute("UPDATE messages SET state = ?, last_error = ? WHERE id = ?",
                             (state, None if failed is None else f"status report {failed:#04x}", message_id))


async def record_sent_part(db: Database, message_id: int, part: OutgoingPart, phone: str, now: datetime) -> None:
    """One part is on the air: what its status report will be matched on, kept at once."""
    await db.execute(
        """INSERT INTO outbox_parts (message_id, part, modem_id, sim_id, reference, phone, sent_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (message_id, part) DO UPDATE SET modem_id = excluded.modem_id, sim_id = excluded.sim_id,
               reference = excluded.reference, phone = excluded.phone, sent_at = excluded.sent_at,
               status = NULL, final = 0, reported_at = NULL""",
        (message_id, part.part, part.modem_id or "", part.sim_id or part.modem_id or "",
         part.reference if part.reference is not None else -1, phone, now.isoformat()))


def _state_from_reports(parts) -> str:
    """failed once a part finally failed, delivered once every part is, else sent."""
    if any(p["final"] and p["status"] is not None and p["status"] >= 0x40 for p in parts):
        return "failed"
    if parts and all(p["final"] and p["status"] is not None and p["status"] < 0x20 for p in parts):
        return "delivered"
    return "sent"


async def apply_report(db: Database, sim_id: str, reference: int, phone: str, status: int, final: bool,
                       now: datetime, region: str = "ID") -> tuple[int, str] | None:
    """Record a status report on the newest matching part; return (message id, new state) or None.

    The recipient is compared as a normalised number: networks write it as sent (``+62812…``) or
    with type of number unknown (``62812…``, ``0812…``). A report that is not final is kept on the
    part and leaves the message ``sent``. The message becomes ``delivered`` once every part is
    delivered, ``failed`` as soon as one part finally failed.
    """
    stamp = now.isoformat()
    wanted = _number_key(phone, region)
    async with db.transaction():
        candidates = await db.fetchall(
            """SELECT message_id, part, phone FROM outbox_parts
               WHERE sim_id = ? AND reference = ? AND final = 0
               ORDER BY sent_at DESC""", (sim_id, reference))
        part = next((c for c in candidates if _number_key(c["phone"], region) == wanted), None)
        if part is None:
            return None
        await db.execute(
            "UPDATE outbox_parts SET status = ?, final = ?, reported_at = ? WHERE message_id = ? AND part = ?",
            (status, int(final), stamp, part["message_id"], part["part"]))
        parts = await db.fetchall("SELECT status, final FROM outbox_parts WHERE message_id = ?",
                                  (part["message_id"],))
        state = _state_from_reports(parts)
        await db.execute(
            """UPDATE messages SET state = ?, updated_at = ?,
                   last_error = CASE WHEN ? = 'failed' THEN ? ELSE last_error END
               WHERE id = ? AND state IN ('sent', 'delivered')""",
            (state, stamp, state, f"status report {status:#04x}", part["message_id"]))
    return part["message_id"], state


def _number_key(phone: str, region: str) -> str:
    """E.164 where the number allows it, else the text as written (a name, a short code)."""
    return phones.normalize(phone, region) or phone.strip()


async def mark_retry(db: Database, message_id: int, error: str, at: datetime, now: datetime,
                     failed_modem: str | None = None) -> None:
    """Back to the queue until ``at``, free for any modem, remembering which one failed."""
    await db.execute(
        """UPDATE messages SET state = 'queued', next_attempt_at = ?, last_error = ?, updated_at = ?,
               modem_id = NULL, failed_modem = ? WHERE id = ?""",
        (at.isoformat(), error, now.isoformat(), failed_modem, message_id))


async def mark_failed(db: Database, message_id: int, error: str, now: datetime) -> None:
    """Give up on an outbox row."""
    await db.execute("UPDATE messages SET state = 'failed', last_error = ?, updated_at = ? WHERE id = ?",
                     (error, now.isoformat(), message_id))


async def requeue_interrupted(db: Database, now: datetime) -> int:
    """Rows left ``sending`` by a crash go back to the queue; return how many."""
    return await db.execute_changes(
        """UPDATE messages SET state = 'queued', updated_at = ?, last_error = 'interrupted by a restart'
           WHERE direction = 'out' AND state = 'sending' AND store_id = ?""", (now.isoformat(), db.store))


async def requeue(db: Database, message_id: int, now: datetime) -> bool:
    """A row left ``sending`` when the database went away mid-send goes back to the queue (it resumes
    from its send journal, as after a crash); False when it was recorded meanwhile."""
    return await db.execute_changes(
        """UPDATE messages SET state = 'queued', updated_at = ?, last_error = 'database unreachable'
           WHERE id = ? AND direction = 'out' AND state = 'sending'""", (now.isoformat(), message_id)) > 0


# a row from a pool that checks no credit (tests' fakes, older callers): nothing known
_CREDIT_UNKNOWN = {"balance": None, "active_until": None, "sms_left": None, "sms_until": None,
                   "credit_checked_at": None, "credit_note": "", "credit_refusals": 0}


async def write_modem_status(db: Database, rows: list[dict], now: datetime) -> None:
    """Replace the stored view of each modem (one row per modem id)."""
    stamp = now.isoformat()
    async with db.transaction():
        for r in rows:
            await db.execute(
                """INSERT INTO modem_status (store_id, modem_id, port, state, imei, imsi, iccid, signal,
                       registration, operator, storage_used, storage_total, sent, received, last_error,
                       balance, active_until, sms_left, sms_until, credit_checked_at, credit_note, credit_refusals,
                       updated_at)
                   VALUES (:store, :id, :port, :state, :imei, :sim_id, :iccid, :signal, :registration, :operator,
                           :storage_used, :storage_total, :sent, :received, :last_error,
                           :balance, :active_until, :sms_left, :sms_until, :credit_checked_at, :credit_note,
                           :credit_refusals, :updated_at)
                   ON CONFLICT (store_id, modem_id) DO UPDATE SET port = excluded.port, state = excluded.state,
                       imei = excluded.imei, imsi = excluded.imsi, iccid = excluded.iccid,
                       signal = excluded.signal, registration = excluded.registration,
                       operator = excluded.operator, storage_used = excluded.storage_used,
                       storage_total = excluded.storage_total, sent = excluded.sent,
                       received = excluded.received, last_error = excluded.last_error,
                       balance = excluded.balance, active_until = excluded.active_until,
                       sms_left = excluded.sms_left, sms_until = excluded.sms_until,
                       credit_checked_at = excluded.credit_checked_at, credit_note = excluded.credit_note,
                       credit_refusals = excluded.credit_refusals, updated_at = excluded.updated_at""",
                {**_CREDIT_UNKNOWN, **r, "updated_at": stamp, "store": db.store})


async def modem_rows(db: Database) -> list[dict]:
    """This store's modems as the pool last published them (``modem_status`` rows), by modem id."""
    return [dict(r) for r in await db.fetchall("SELECT * FROM modem_status WHERE store_id = ? ORDER BY modem_id",
                                               (db.store,))]


async def outbox_counts(db: Database) -> dict[str, int]:
    """How many outbound rows are in each state."""
    rows = await db.fetchall("SELECT state, COUNT(*) AS n FROM messages WHERE direction = 'out' AND store_id = ? "
                             "GROUP BY state", (db.store,))
    return {r["state"]: r["n"] for r in rows}


async def recent_from(db: Database, phone: str, up_to_id: int, since: datetime) -> int:
    """Inbound messages from ``phone`` received since ``since``, up to and including ``up_to_id``."""
    row = await db.fetchone(
        "SELECT COUNT(*) AS n FROM messages WHERE direction = 'in' AND phone = ? AND id <= ? AND created_at >= ? "
        "AND store_id = ?", (phone, up_to_id, since.isoformat(), db.store))
    return row["n"] if row else 0


async def sent_by_since(db: Database, phone: str, plugin: str, since: datetime) -> bool:
    """Whether ``plugin`` queued a message to ``phone`` since ``since``."""
    row = await db.fetchone(
        "SELECT 1 FROM messages WHERE direction = 'out' AND phone = ? AND plugin = ? AND created_at >= ? "
        "AND store_id = ? LIMIT 1", (phone, plugin, since.isoformat(), db.store))
    return row is not None


async def fallbacks_since(db: Database, phone: str, since: datetime) -> int:
    """How many automatic "not understood" replies were queued to ``phone`` since ``since``."""
    row = await db.fetchone(
        """SELECT COUNT(*) AS n FROM messages
           WHERE direction = 'out' AND phone = ? AND fallback = 1 AND created_at >= ? AND store_id = ?""",
        (phone, since.isoformat(), db.store))
    return row["n"] if row else 0


async def answered_texts(db: Database, phone: str, before_id: int, since: datetime,
                         notice_plugin: str) -> list[str]:
    """The text of the latest inbound message from ``phone`` received since ``since`` (before
    ``before_id``) that got an answer (a list of at most one); a notice from ``notice_plugin`` (the
    flood guard's) is not one. Only the latest: PESAN, BATAL, PESAN again is a new order."""
    rows = await db.fetchall(
        """SELECT m.text FROM messages m
           WHERE m.direction = 'in' AND m.phone = ? AND m.id < ? AND m.created_at >= ? AND m.state = 'handled'
             AND m.store_id = ?
             AND EXISTS (SELECT 1 FROM messages r  -- a reply goes to the same phone, later: messages_phone
                         WHERE r.phone = m.phone AND r.id > m.id AND r.in_reply_to = m.id
                           AND r.direction = 'out' AND r.plugin IS DISTINCT FROM ?)
           ORDER BY m.id DESC LIMIT 1""",
        (phone, before_id, since.isoformat(), db.store, notice_plugin))
    return [r["text"] for r in rows]


async def replies_since(db: Database, phone: str, since: datetime) -> int:
    """How many replies (rows answering an inbound message) were queued to ``phone`` since ``since``."""
    row = await db.fetchone(
        """SELECT COUNT(*) AS n FROM messages
           WHERE direction = 'out' AND phone = ? AND in_reply_to IS NOT NULL AND created_at >= ? AND store_id = ?""",
        (phone, since.isoformat(), db.store))
    return row["n"] if row else 0


async def sent_texts_since(db: Database, phone: str, since: datetime) -> list[str]:
    """Texts queued to ``phone`` since ``since`` (to recognise a machine echoing them back)."""
    rows = await db.fetchall(
        "SELECT text FROM messages WHERE direction = 'out' AND phone = ? AND created_at >= ? AND store_id = ? "
        "ORDER BY id DESC LIMIT 50", (phone, since.isoformat(), db.store))
    return [r["text"] for r in rows]


async def list_messages(db: Database, *, direction: str | None = None, state: str | None = None,
                        phone: str | None = None, before: int | None = None, limit: int = 100) -> list[Row]:
    """Messages newest first, filtered by direction, state and number; ``before`` pages by id."""
    clauses, params = ["store_id = ?"], [db.store]
    for column, value in (("direction", direction), ("state", state), ("phone", phone)):
        if value is not None:
            clauses.append(f"{column} = ?")  # column names are fixed here; values are parameters
            params.append(value)
    if before is not None:
        clauses.append("id < ?")
        params.append(before)
    where = "WHERE " + " AND ".join(clauses)
    return await db.fetchall(
        f"""SELECT id, direction, state, phone, address, text, modem_id, keyword, plugin, attempts,
                   last_error, incomplete, created_at, updated_at
            FROM messages {where} ORDER BY id DESC LIMIT ?""", (*params, limit))


async def retry(db: Database, message_id: int, now: datetime) -> bool:
    """Send a failed (or cancelled) outbound message again; False if it is not one."""
    return await db.execute_changes(
        """UPDATE messages SET state = 'queued', attempts = 0, next_attempt_at = NULL, last_error = NULL,
               failed_modem = NULL, updated_at = ?
           WHERE id = ? AND direction = 'out' AND state IN ('failed', 'cancelled') AND store_id = ?""",
        (now.isoformat(), message_id, db.store)) > 0


async def cancel(db: Database, message_id: int, now: datetime) -> bool:
    """Stop a queued or failed outbound message; False if it is already sending or sent."""
    return await db.execute_changes(
        """UPDATE messages SET state = 'cancelled', updated_at = ?
           WHERE id = ? AND direction = 'out' AND state IN ('queued', 'failed') AND store_id = ?""",
        (now.isoformat(), message_id, db.store)) > 0
