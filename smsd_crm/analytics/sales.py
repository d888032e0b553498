"""The sales drill-down: revenue and units per year -> month and category -> product, SMS vs till.

Both channels are read: SMS orders (the order plugin's tables, cancelled orders left out) and till
sales (core). Revenue is quantity x price of each line as sold, before order-level promo discounts
(those are a cost in the profitability view), so a year is exactly the sum of its months and of its
categories.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..storage.db import Database
from .extract import has_table

# Rows of both channels with the same columns; {where_o} / {where_s} narrow each side by date first,
# so the indexes on orders.created_at and sales.sold_at are used.
LINES = """
SELECT substr(o.created_at, 1, 10) AS day, 'sms' AS channel, COALESCE(p.category, 'Lainnya') AS category,
       ol.code AS code, ol.name AS name, ol.quantity AS units, ol.quantity * ol.price AS revenue
FROM orders o JOIN order_lines ol ON ol.order_id = o.id LEFT JOIN products p ON p.id = ol.product_id
WHERE o.state != 'cancelled' {where_o}
UNION ALL
SELECT substr(s.sold_at, 1, 10), 'till', COALESCE(p.category, 'Lainnya'), sl.code, sl.name, sl.quantity,
       sl.quantity * sl.price
FROM sales s JOIN sale_lines sl ON sl.sale_id = s.id LEFT JOIN products p ON p.id = sl.product_id
WHERE 1 {where_s}
"""


@dataclass(frozen=True)
class Bar:
    """One bar of a drill-down chart, split by channel."""

    key: str  # "2026", "2026-03", "Sembako", "B01"
    label: str
    sms_revenue: int
    till_revenue: int
    units: int

    @property
    def revenue(self) -> int:
        """Both channels."""
        return self.sms_revenue + self.till_revenue


async def _has_orders(db: Database) -> bool:
    return await has_table(db, "orders")


async def _bars(db: Database, group: str, label: str, year: str | None = None,
                category: str | None = None) -> list[Bar]:
    params: list[str] = []
    where_o = where_s = ""
    if year:
        where_o = "AND o.created_at >= ? AND o.created_at < ?"
        where_s = "AND s.sold_at >= ? AND s.sold_at < ?"
    lines = LINES.format(where_o=where_o, where_s=where_s)
    if not await _has_orders(db):  # the order plugin is switched off: till sales only
        lines = lines[lines.index("SELECT substr(s.sold_at"):]
    elif year:
        params += [year, str(int(year) + 1)]
    if year:
        params += [year, str(int(year) + 1)]
    outer = "WHERE category = ?" if category else ""
    if category:
        params.append(category)
    # group and label are fixed expressions chosen below, never user text
    rows = await db.fetchall(
        f"""SELECT {group} AS k, {label} AS l,
                   SUM(CASE WHEN channel = 'sms' THEN revenue ELSE 0 END) AS sms,
                   SUM(CASE WHEN channel = 'till' THEN revenue ELSE 0 END) AS till, SUM(units) AS units
            FROM ({lines}) {outer} GROUP BY k ORDER BY k""", params)
    return [Bar(r["k"], r["l"], r["sms"], r["till"], r["units"]) for r in rows]


async def by_year(db: Database) -> list[Bar]:
    """Revenue per year."""
    return await _bars(db, "substr(day, 1, 4)", "substr(day, 1, 4)")


async def by_month(db: Database, year: str) -> list[Bar]:
    """Revenue per month of ``year`` ("2026")."""
    return await _bars(db, "substr(day, 1, 7)", "substr(day, 1, 7)", year=_year(year))


async def by_category(db: Database, year: str) -> list[Bar]:
    """Revenue per category in ``year``."""
    return await _bars(db, "category", "category", year=_year(year))


async def by_product(db: Database, year: str, category: str) -> list[Bar]:
    """Revenue per product of ``category`` in ``year``."""
    return await _bars(db, "code", "MAX(name)", year=_year(year), category=category)


def _year(year: str) -> str:
    if not (len(year) == 4 and year.isdigit()):
        raise ValueError(f"not a year: {year!r}")
    return year
