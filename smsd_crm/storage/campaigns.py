"""Campaigns and their recipients (core tables).

A campaign's recipients are frozen when it starts, one row per number (the primary key: nobody
twice). A recipient goes ``pending`` -> ``queued`` (its outbox row is written in the same
transaction, so a crash can never queue it twice) or ``skipped`` (with the reason: opted out,
weekly cap, cancelled). Pausing, quiet hours and cancelling *withdraw* outbox rows no modem has
claimed yet: the row is cancelled and the recipient goes back to ``pending`` (or ``skipped``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from .db import Database

ACTIVE = ("scheduled", "running", "paused")
FINAL = ("done", "cancelled")


@dataclass(frozen=True)
class Campaign:
    """One campaign as stored."""

    id: int
    name: str
    kind: str  # promo | greeting | winback
    text: dict[str, str]  # language -> template
    audience: dict
    state: str
    start_at: datetime | None
    promo_code: str | None
    notify_phone: str | None
    occasion: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _campaign(row) -> Campaign:
    def when(value):
        return datetime.fromisoformat(value) if value else None
    return Campaign(row["id"], row["name"], row["kind"], json.loads(row["text"]), json.loads(row["audience"]),
                    row["state"], when(row["start_at"]), row["promo_code"], row["notify_phone"], row["occasion"],
                    datetime.fromisoformat(row["created_at"]), when(row["started_at"]), when(row["finished_at"]))


async def create(db: Database, *, name: str, text: dict[str, str], audience: dict, now: datetime,
                 kind: str = "promo", start_at: datetime | None = None, promo_code: str | None = None,
                 notify_phone: str | None = None, occasion: str | None = None, created_by: str = "") -> int:
    """A new campaign in ``draft``; return its id. ``occasion`` is unique (a greeting is made once)."""
    stamp = now.isoformat()
    return int(await db.fetchval(
        """INSERT INTO campaigns (name, kind, text, audience, state, start_at, promo_code, notify_phone, occasion,
               created_by, created_at, updated_at, store_id)
           VALUES (?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
        (name, kind, json.dumps(text, ensure_ascii=False), json.dumps(audience), start_at.isoformat() if start_at
         else None, promo_code, notify_phone, occasion, created_by, stamp, stamp, db.store)))


async def get(db: Database, campaign_id: int) -> Campaign | None:
    """One of this store's campaigns (another store's id is None: a chain's ids are shared)."""
    row = await db.fetchone("SELECT * FROM campaigns WHERE id = ? AND store_id = ?", (campaign_id, db.store))
    return _campaign(row) if row else None


async def by_occasion(db: Database, occasion: str) -> Campaign | None:
    """The campaign made for an occasion (a greeting), if any."""
    row = await db.fetchone("SELECT * FROM campaigns WHERE occasion = ?", (occasion,))
    return _campaign(row) if row else None


async def listing(db: Database, limit: int = 100) -> list[Campaign]:
    """The newest campaigns first."""
    return [_campaign(r) for r in await db.fetchall("SELECT * FROM campaigns WHERE store_id = ? ORDER BY id DESC "
                                                    "LIMIT ?", (db.store, limit))]


async def start(db: Database, campaign_id: int, phones: list[str], now: datetime) -> int:
    """Freeze the recipients and start (or schedule, when ``start_at`` is later); return how many
    recipients. Only a draft starts."""
    stamp = now.isoformat()
    async with db.transaction():
        row = await db.fetchone("SELECT state, start_at FROM campaigns WHERE id = ? AND store_id = ?",
                                (campaign_id, db.store))
        if row is None or row["state"] != "draft":
            return 0
        await db.executemany("INSERT INTO campaign_recipients (campaign_id, phone, state) "
                             "VALUES (?, ?, 'pending') ON CONFLICT DO NOTHING", [(campaign_id, p) for p in phones])
        later = row["start_at"] is not None and row["start_at"] > stamp
        await db.execute("UPDATE campaigns SET state = ?, started_at = ?, updated_at = ? WHERE id = ?",
                         ("scheduled" if later else "running", None if later else stamp, stamp, campaign_id))
        count = await db.fetchone("SELECT COUNT(*) FROM campaign_recipients WHERE campaign_id = ?", (campaign_id,))
    return count[0]


async def activate_due(db: Database, now: datetime) -> list[int]:
    """Scheduled campaigns whose time has come become running; return their ids."""
    stamp = now.isoformat()
    rows = await db.fetchall("UPDATE campaigns SET state = 'running', started_at = ?, updated_at = ? "
                             "WHERE state = 'scheduled' AND start_at <= ? AND store_id = ? RETURNING id",
                             (stamp, stamp, stamp, db.store))
    return [r[0] for r in rows]


async def running(db: Database) -> list[Campaign]:
    """Running campaigns, oldest first (the first is fed first)."""
    return [_campaign(r) for r in await db.fetchall("SELECT * FROM campaigns WHERE state = 'running' AND store_id = ? "
                                                    "ORDER BY id", (db.store,))]


async def _withdraw(db: Database, where: str, params: tuple, now: datetime, why: str, back_to: str) -> int:
    """Cancel unclaimed outbox rows of campaigns (``where`` on messages) and set their recipients
    ``back_to`` (pending, or skipped). A row a modem already claimed is left to finish."""
    rows = await db.fetchall(
        f"UPDATE messages SET state = 'cancelled', last_error = ?, updated_at = ? "
        f"WHERE direction = 'out' AND state = 'queued' AND campaign_id IS NOT NULL AND {where} RETURNING id",
        (why, now.isoformat(), *params))  # ``where`` is fixed text from this module
    ids = [r[0] for r in rows]
    if ids:
        await db.execute(
            "UPDATE campaign_recipients SET state = ?, message_id = CASE WHEN ? = 'pending' THEN NULL "
            f"ELSE message_id END, reason = ? WHERE message_id IN (SELECT CAST(value AS BIGINT) "
            f"FROM {db.json_values('?')})",
            (back_to, back_to, None if back_to == "pending" else why, json.dumps(ids)))
    return len(ids)


async def withdraw_all(db: Database, now: datetime, why: str) -> int:
    """Quiet hours: every campaign's unclaimed rows back to pending."""
    async with db.transaction():
        return await _withdraw(db, "store_id = ?", (db.store,), now, why, "pending")


async def pause(db: Database, campaign_id: int, now: datetime) -> bool:
    """Stop feeding a running or scheduled campaign; its unclaimed rows go back to pending."""
    async with db.transaction():
        changed = await db.execute_changes(
            "UPDATE campaigns SET state = 'paused', updated_at = ? WHERE id = ? AND store_id = ? "
            "AND state IN ('running', 'scheduled')", (now.isoformat(), campaign_id, db.store))
        if changed:
            await _withdraw(db, "campaign_id = ?", (campaign_id,), now, "campaign paused", "pending")
    return bool(changed)


async def resume(db: Database, campaign_id: int, now: datetime) -> bool:
    """A paused campaign runs again (from the recipients still pending)."""
    return bool(await db.execute_changes(
        "UPDATE campaigns SET state = 'running', started_at = COALESCE(started_at, ?), updated_at = ? "
        "WHERE id = ? AND store_id = ? AND state = 'paused'", (now.isoformat(), now.isoformat(), campaign_id, db.store)))


async def cancel(db: Database, campaign_id: int, now: datetime) -> bool:
    """End a campaign for good: unclaimed rows cancelled, pending recipients skipped."""
    stamp = now.isoformat()
    async with db.transaction():
        changed = await db.execute_changes(
            "UPDATE campaigns SET state = 'cancelled', finished_at = ?, updated_at = ? "
            "WHERE id = ? AND store_id = ? AND state NOT IN ('done', 'cancelled')", (stamp, stamp, campaign_id, db.store))
        if changed:
            await _withdraw(db, "campaign_id = ?", (campaign_id,), now, "campaign cancelled", "skipped")
            await db.execute("UPDATE campaign_recipients SET state = 'skipped', reason = 'campaign cancelled' "
                             "WHERE campaign_id = ? AND state = 'pending'", (campaign_id,))
    return bool(changed)


async def in_flight(db: Database) -> int:
    """This store's campaign messages in the outbox not yet sent (queued or being sent): its window."""
    row = await db.fetchone("SELECT COUNT(*) FROM messages WHERE campaign_id IS NOT NULL AND direction = 'out' "
                            "AND state IN ('queued', 'sending') AND store_id = ?", (db.store,))
    return row[0]


async def next_pending(db: Database, campaign_id: int, limit: int) -> list[str]:
    """The next recipients to queue."""
    rows = await db.fetchall("SELECT phone FROM campaign_recipients WHERE campaign_id = ? AND state = 'pending' "
                             "ORDER BY phone LIMIT ?", (campaign_id, limit))
    return [r[0] for r in rows]


async def still_pending(db: Database, campaign_id: int, phone: str) -> bool:
    """The recipient waits to be queued and the campaign runs (not paused or cancelled meanwhile)."""
    row = await db.fetchone("SELECT c.state FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id "
                            "WHERE r.campaign_id = ? AND r.phone = ? AND r.state = 'pending'", (campaign_id, phone))
    return row is not None and row[0] == "running"


async def mark_queued(db: Database, campaign_id: int, phone: str, message_id: int) -> None:
    """The recipient's message is in the outbox (in the transaction that queued it)."""
    await db.execute("UPDATE campaign_recipients SET state = 'queued', message_id = ?, reason = NULL "
                     "WHERE campaign_id = ? AND phone = ?", (message_id, campaign_id, phone))


async def skip(db: Database, campaign_id: int, phone: str, reason: str) -> None:
    """A recipient who will get nothing, and why."""
    await db.execute("UPDATE campaign_recipients SET state = 'skipped', reason = ? "
                     "WHERE campaign_id = ? AND phone = ? AND state = 'pending'", (reason, campaign_id, phone))


async def promotions_since(db: Database, phone: str, since: datetime) -> int:
    """Promotions (campaign messages other than greetings) queued or sent to ``phone`` since ``since``."""
    row = await db.fetchone(
        "SELECT COUNT(*) FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE m.phone = ? "
        "AND m.direction = 'out' AND m.state IN ('queued', 'sending', 'sent', 'delivered') AND m.created_at >= ? "
        "AND c.kind != 'greeting'", (phone, since.isoformat()))
    return row[0]


async def progress(db: Database, campaign_id: int) -> dict[str, int]:
    """Recipients by where they are: pending, queued, sending, sent, delivered, failed, skipped
    (withdrawn rows are not counted: their recipient is pending again)."""
    out = {k: 0 for k in ("recipients", "pending", "queued", "sending", "sent", "delivered", "failed", "skipped")}
    rows = await db.fetchall(
        """SELECT CASE WHEN r.state = 'queued' THEN COALESCE(m.state, 'queued') ELSE r.state END AS s, COUNT(*)
           FROM campaign_recipients r LEFT JOIN messages m ON m.id = r.message_id
           WHERE r.campaign_id = ? GROUP BY s""", (campaign_id,))
    for state, count in rows:
        key = "failed" if state == "cancelled" else state
        out[key] = out.get(key, 0) + count
        out["recipients"] += count
    return out


async def finish_if_complete(db: Database, campaign_id: int, now: datetime) -> bool:
    """Mark a running campaign done once nobody is pending and nothing is in the outbox."""
    stamp = now.isoformat()
    return bool(await db.execute_changes(
        """UPDATE campaigns SET state = 'done', finished_at = ?, updated_at = ? WHERE id = ? AND state = 'running'
           AND NOT EXISTS (SELECT 1 FROM campaign_recipients WHERE campaign_id = ? AND state = 'pending')
           AND NOT EXISTS (SELECT 1 FROM messages WHERE campaign_id = ? AND direction = 'out'
                           AND state IN ('queued', 'sending'))""", (stamp, stamp, campaign_id, campaign_id, campaign_id)))


async def drop_opted_out(db: Database, message_id: int, now: datetime) -> None:
    """The last check before sending found the number opted out: the message is cancelled and its
    recipient skipped."""
    async with db.transaction():
        await db.execute("UPDATE messages SET state = 'cancelled', last_error = 'opted out', updated_at = ? "
                         "WHERE id = ?", (now.isoformat(), message_id))
        await db.execute("UPDATE campaign_recipients SET state = 'skipped', reason = 'opted out' "
                         "WHERE message_id = ?", (message_id,))


async def sent_by_modem_since(db: Database, modem_id: str, since: datetime) -> int:
    """Campaign messages ``modem_id`` sent since ``since`` (its daily allowance)."""
    row = await db.fetchone("SELECT COUNT(*) FROM messages WHERE campaign_id IS NOT NULL AND direction = 'out' "
                            "AND modem_id = ? AND store_id = ? AND state IN ('sent', 'delivered', 'failed') "
                            "AND updated_at >= ?", (modem_id, db.store, since.isoformat()))
    return row[0]


async def promo_code_exists(db: Database, code: str) -> bool:
    """Whether a campaign carries this promo code (any case)."""
    return await db.fetchone("SELECT 1 FROM campaigns WHERE promo_code = ?", (code.upper(),)) is not None
