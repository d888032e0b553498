"""What each campaign brought: messages sent, delivered and failed, recipients who opted out
afterwards, and purchases by recipients in the days after their message (both channels), plus
SMS orders that cited the campaign's promo code."""

from __future__ import annotations

from dataclasses import dataclass

from .extract import SMS_PARTS

DAYS = 7  # purchases and opt-outs count this long after each recipient's message


@dataclass(frozen=True)
class CampaignResult:
    """One campaign's outcome; money in whole rupiah."""

    id: int
    name: str
    kind: str
    state: str
    started_at: str | None
    recipients: int
    sent: int
    delivered: int
    failed: int
    skipped: int
    parts: int
    opted_out_after: int
    buyers: int
    purchases: int
    revenue: int
    code_orders: int
    code_revenue: int


async def results(db, days: int = DAYS, limit: int = 20, campaign_id: int | None = None) -> list[CampaignResult]:
    """The newest campaigns' results (or one campaign's); purchases count within ``days`` after each
    recipient's message was sent."""
    window = int(days)
    bought = ("SELECT phone, created_at AS at, total FROM orders WHERE state != 'cancelled' UNION ALL "
              "SELECT phone, sold_at, total FROM sales WHERE phone IS NOT NULL")
    out = []
    chosen = ("SELECT id, name, kind, state, started_at, promo_code FROM campaigns WHERE id = ?", (campaign_id,)) \
        if campaign_id is not None else ("SELECT id, name, kind, state, started_at, promo_code FROM campaigns "
                                         "ORDER BY id DESC LIMIT ?", (limit,))
    for c in await db.fetchall(*chosen):
        m = await db.fetchone(
            f"""SELECT COUNT(*) AS recipients,
                       SUM(CASE WHEN r.state = 'skipped' THEN 1 ELSE 0 END) AS skipped,
                       SUM(CASE WHEN m.state IN ('sent', 'delivered') THEN 1 ELSE 0 END) AS sent, SUM(CASE WHEN m.state = 'delivered' THEN 1 ELSE 0 END) AS delivered,
                       SUM(CASE WHEN m.state = 'failed' THEN 1 ELSE 0 END) AS failed,
                       SUM(CASE WHEN m.state IN ('sent', 'delivered') THEN {SMS_PARTS.replace('text', 'm.text')}
                           ELSE 0 END) AS parts
                FROM campaign_recipients r LEFT JOIN messages m ON m.id = r.message_id
                WHERE r.campaign_id = ?""", (c["id"],))
        opted = await db.fetchone(
            """SELECT COUNT(DISTINCT e.phone) FROM consent_events e
               JOIN campaign_recipients r ON r.phone = e.phone AND r.campaign_id = ?
               JOIN messages m ON m.id = r.message_id AND m.state IN ('sent', 'delivered')
               WHERE e.promotions = 0 AND e.at >= m.updated_at AND e.at < plus_days(m.updated_at, ?)""",
            (c["id"], window))
        buys = await db.fetchone(
            f"""SELECT COUNT(DISTINCT b.phone), COUNT(*), COALESCE(SUM(b.total), 0)
                FROM campaign_recipients r JOIN messages m ON m.id = r.message_id AND m.state IN ('sent', 'delivered')
                JOIN ({bought}) b ON b.phone = r.phone AND b.at >= m.updated_at AND b.at < plus_days(m.updated_at, ?)
                WHERE r.campaign_id = ?""", (window, c["id"]))
        code = (0, 0)
        if c["promo_code"]:
            code = tuple(await db.fetchone("SELECT COUNT(*), COALESCE(SUM(total), 0) FROM orders "
                                           "WHERE promo_code = ? AND state != 'cancelled'", (c["promo_code"],)))
        out.append(CampaignResult(c["id"], c["name"], c["kind"], c["state"], c["started_at"], m["recipients"] or 0,
                                  m["sent"] or 0, m["delivered"] or 0, m["failed"] or 0, m["skipped"] or 0,
                                  m["parts"] or 0, opted[0], buys[0], buys[1], buys[2], code[0], code[1]))
    return out
