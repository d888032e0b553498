"""Reading the shop's records for the analytics (SQL only; the computations live beside it).

Purchases come from both channels: SMS orders that were not cancelled (the order plugin's tables)
and till sales that carry a phone number. A purchase counts as a promo purchase when it had a
discount or cited a promo code.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from ..shop_time import for_zone, sql_day
from ..storage.db import Database
from .rfm import CustomerActivity

# ``day`` is the shop's calendar day (shop_time.sql_day), never the UTC date.
# promo is 0 or 1, not a comparison's truth value: PostgreSQL has no SUM of booleans.
TILL_ONLY = f"""SELECT phone, {sql_day('sold_at')}, total, CASE WHEN discount > 0 THEN 1 ELSE 0 END, 'till', discount FROM sales
WHERE phone IS NOT NULL"""
PURCHASES = f"""
SELECT phone, {sql_day('created_at')} AS day, total AS amount,
       CASE WHEN discount > 0 OR promo_code IS NOT NULL THEN 1 ELSE 0 END AS promo, 'sms' AS channel, discount
FROM orders WHERE state != 'cancelled'
UNION ALL
{TILL_ONLY}
"""
# SMS parts of a message text: GSM-7 sizes (160, then 153 per part); an estimate for UCS-2 texts.
SMS_PARTS = "CASE WHEN length(text) <= 160 THEN 1 ELSE (length(text) + 152) / 153 END"


async def purchases_sql(db: Database) -> str:
    """The purchases query: SMS orders and till sales. (Orders are core storage, there whether the
    order plugin is on or off: ``storage/commerce_schema.py``.)"""
    return PURCHASES


async def activity(db: Database, as_of: date, window_days: int = 365) -> list[CustomerActivity]:
    """Per customer: last purchase (ever, up to ``as_of``); purchase days, spend, orders and promo
    orders within the window (as_of - window, as_of]."""
    start = (as_of - timedelta(days=window_days)).isoformat()
    rows = await db.fetchall(
        f"""SELECT phone, MAX(day) AS last,
                   COUNT(DISTINCT CASE WHEN day > ? THEN day END) AS occasions,
                   SUM(CASE WHEN day > ? THEN amount ELSE 0 END) AS spend,
                   SUM(CASE WHEN day > ? THEN 1 ELSE 0 END) AS orders, SUM(CASE WHEN day > ? THEN promo ELSE 0 END) AS promo_orders
            FROM ({await purchases_sql(db)}) AS p WHERE day <= ? GROUP BY phone""",
        (start, start, start, start, as_of.isoformat()))
    return [CustomerActivity(r["phone"], date.fromisoformat(r["last"]), r["occasions"], r["spend"], r["orders"],
                             r["promo_orders"]) for r in rows]


async def purchase_days(db: Database, as_of: date) -> dict[str, list[date]]:
    """Every customer's purchase days up to ``as_of`` (for retention)."""
    rows = await db.fetchall(f"SELECT DISTINCT phone, day FROM ({await purchases_sql(db)}) AS p WHERE day <= ?",
                             (as_of.isoformat(),))
    out: dict[str, list[date]] = defaultdict(list)
    for r in rows:
        out[r["phone"]].append(date.fromisoformat(r["day"]))
    return out


async def complaint_times(db: Database, since: date) -> tuple[list[float], list[float], int]:
    """Hours from opening to first answer, and to closing, of complaints opened since ``since``; and
    how many were opened."""
    rows = await db.fetchall("SELECT opened_at, first_answer_at, closed_at FROM complaints WHERE opened_at >= shop_start(?)",
                             (since.isoformat(),))

    def hours(a: str, b: str | None) -> float | None:
        return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 3600 if b else None
    answer = [h for r in rows if (h := hours(r["opened_at"], r["first_answer_at"])) is not None]
    close = [h for r in rows if (h := hours(r["opened_at"], r["closed_at"])) is not None]
    return answer, close, len(rows)


async def _line_pairs(db: Database, since: date, order_key: str, sale_key: str, *, known_only: bool = False,
                      outer: str = "{}", limit: int | None = None) -> list[set[str]]:
    """Product codes of both channels' lines since ``since``, grouped by a key (a purchase, a customer);
    ``known_only`` leaves out till sales without a customer's number."""
    parts = [f"SELECT {sale_key}, sl.code FROM sales s JOIN sale_lines sl ON sl.sale_id = s.id "
             "WHERE s.sold_at >= shop_start(?)" + (" AND s.phone IS NOT NULL" if known_only else "")]
    parts.insert(0, f"SELECT {order_key}, ol.code FROM orders o JOIN order_lines ol ON ol.order_id = o.id "
                    "WHERE o.state != 'cancelled' AND o.created_at >= shop_start(?)")
    params: list = [since.isoformat(), since.isoformat()]
    sql = outer.format(" UNION ALL ".join(parts))  # fixed SQL from this module; values are parameters
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    grouped: dict[str, set[str]] = defaultdict(set)
    for r in await db.fetchall(sql, params):
        grouped[r[0]].add(r[1])
    return list(grouped.values())


async def baskets(db: Database, since: date, limit: int = 200_000) -> list[set[str]]:
    """The products of each purchase (SMS orders and till sales) since ``since``."""
    return await _line_pairs(db, since, "'o' || o.id", "'s' || s.id", limit=limit)


async def closures(db: Database, since: date) -> list[tuple[str, date, float]]:
    """(customer, closing day, hours from opening to closing) of complaints closed since ``since``."""
    rows = await db.fetchall("SELECT phone, opened_at, closed_at FROM complaints WHERE closed_at >= shop_start(?)",
                             (since.isoformat(),))
    shop = getattr(db, "shop", None) or for_zone()
    return [(r["phone"], shop.day(r["closed_at"]),
             (datetime.fromisoformat(r["closed_at"]) - datetime.fromisoformat(r["opened_at"])).total_seconds() / 3600)
            for r in rows]


async def complaints_per_week(db: Database, since: date,
                              bought: dict[str, int] | None = None) -> list[tuple[str, int, int]]:
    """(week start, complaints opened, purchases) per ISO week since ``since``; ``bought`` gives the
    purchases per week start when the caller has them (``Purchases.per_week``)."""
    week = "week_start({col})"  # {col}: a day, YYYY-MM-DD (shop_time.sql_functions, sql_dialect)
    opened = {r[0]: r[1] for r in await db.fetchall(
        f"SELECT {week.format(col=sql_day('opened_at'))} AS w, COUNT(*) FROM complaints "
        "WHERE opened_at >= shop_start(?) GROUP BY w", (since.isoformat(),))}
    if bought is None:
        bought = {r[0]: r[1] for r in await db.fetchall(
            f"SELECT {week.format(col='day')} AS w, COUNT(*) FROM ({await purchases_sql(db)}) AS p WHERE day >= ? "
            "GROUP BY w", (since.isoformat(),))}
    return [(w, opened.get(w, 0), bought.get(w, 0)) for w in sorted(set(opened) | set(bought))]


def unindexed(column: str, db) -> str:
    """``column`` kept from choosing the index: SQLite's planner takes an index on a column it is asked
    to compare (``messages_state``) over the better one on the time; a unary ``+`` stops it. PostgreSQL
    plans by statistics and has no ``+`` for text."""
    return f"+{column}" if db.engine == "sqlite" else column


REPLY_WAIT_DAYS = 30  # a reply queued longer than this before it was sent is left out of the reply times


async def reply_latency_seconds(db: Database, since: datetime) -> list[float]:
    """Seconds from an SMS arriving to its reply leaving the modem, for replies sent since ``since``
    (those queued at most ``REPLY_WAIT_DAYS`` before it: the replies are found by when they were
    stored, through an index, not by reading every message the shop ever sent)."""
    rows = await db.fetchall(
        "SELECT i.created_at AS got, o.updated_at AS sent FROM messages o JOIN messages i ON i.id = o.in_reply_to "
        f"WHERE o.created_at >= ? AND o.direction = 'out' AND {unindexed('o.state', db)} IN ('sent', 'delivered') "
        "AND o.updated_at >= ?",
        ((since - timedelta(days=REPLY_WAIT_DAYS)).isoformat(), since.isoformat()))
    return [(datetime.fromisoformat(r["sent"]) - datetime.fromisoformat(r["got"])).total_seconds() for r in rows]


async def customer_baskets(db: Database, since: date) -> list[set[str]]:
    """Every product each known customer bought since ``since`` (both channels): the customer-level
    baskets, since SMS orders often hold a single item."""
    return await _line_pairs(db, since, "o.phone", "s.phone", known_only=True, outer="SELECT DISTINCT * FROM ({}) AS pairs")


async def transactions(db: Database, until: date) -> list[tuple[str, date, float]]:
    """(customer, day, amount) of every known customer's purchase up to ``until`` (the CLV input)."""
    rows = await db.fetchall(f"SELECT phone, day, SUM(amount) FROM ({await purchases_sql(db)}) AS p WHERE day <= ? "
                             "GROUP BY phone, day", (until.isoformat(),))
    return [(r[0], date.fromisoformat(r[1]), float(r[2])) for r in rows]


async def customer_costs(db: Database, since: date) -> list:
    """Per known customer since ``since``: revenue, cost of goods, promo discounts, SMS parts sent to
    them, complaints (the profitability inputs; points redeemed are valued by the caller)."""
    from .metrics import CustomerCosts

    parts = ["SELECT s.phone, SUM(sl.quantity * sl.price), SUM(sl.quantity * sl.cost), 0 FROM sales s "
             "JOIN sale_lines sl ON sl.sale_id = s.id WHERE s.phone IS NOT NULL AND s.sold_at >= shop_start(?) GROUP BY s.phone",
             "SELECT phone, 0, 0, SUM(discount) FROM sales WHERE phone IS NOT NULL AND sold_at >= shop_start(?) GROUP BY phone",
             "SELECT o.phone, SUM(ol.quantity * ol.price), SUM(ol.quantity * ol.cost), 0 FROM orders o "
             "JOIN order_lines ol ON ol.order_id = o.id WHERE o.state != 'cancelled' AND o.created_at >= shop_start(?) "
             "GROUP BY o.phone",
             "SELECT phone, 0, 0, SUM(discount) FROM orders WHERE state != 'cancelled' AND created_at >= shop_start(?) "
             "GROUP BY phone"]
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for sql in parts:
        for phone, revenue, cost, discount in await db.fetchall(sql, (since.isoformat(),)):
            t = totals[phone]
            t[0] += revenue or 0
            t[1] += cost or 0
            t[2] += discount or 0
    sms = await sms_parts_per_customer(db, since)
    complaints = await complaints_per_customer(db, since)
    points = await points_redeemed_per_customer(db, since)
    return [CustomerCosts(phone, t[0], t[1], t[2], points.get(phone, 0), sms.get(phone, 0), complaints.get(phone, 0))
            for phone, t in totals.items()]


async def points_redeemed_per_customer(db: Database, since: date) -> dict[str, int]:
    """Rupiah value of the rewards each number redeemed since ``since``."""
    return {r[0]: r[1] for r in await db.fetchall(
        "SELECT phone, SUM(value) FROM vouchers WHERE created_at >= shop_start(?) GROUP BY phone", (since.isoformat(),))}


async def sms_parts_per_customer(db: Database, since: date, after_id: int = 0,
                                 upto_id: int | None = None) -> dict[str, int]:
    """SMS parts sent to each number since ``since`` (messages with after_id < id <= upto_id)."""
    sql = (f"SELECT phone, SUM({SMS_PARTS}) FROM messages WHERE direction = 'out' AND created_at >= shop_start(?) "
           "AND phone IS NOT NULL AND id > ?")
    params: list = [since.isoformat(), after_id]
    if upto_id is not None:
        sql += " AND id <= ?"
        params.append(upto_id)
    return {r[0]: r[1] for r in await db.fetchall(sql + " GROUP BY phone", params)}


async def complaints_per_customer(db: Database, since: date) -> dict[str, int]:
    """Complaints each number opened since ``since``."""
    return {r[0]: r[1] for r in await db.fetchall(
        "SELECT phone, COUNT(*) FROM complaints WHERE opened_at >= shop_start(?) GROUP BY phone", (since.isoformat(),))}
