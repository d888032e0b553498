"""The sales drill-down: revenue and units per year -> month and category -> product, SMS vs till.

Both channels are read: SMS orders (the order plugin's tables, cancelled orders left out) and till
sales (core). Revenue is quantity x price of each line as sold, before order-level promo discounts
(those are a cost in the profitability view), so a year is exactly the sum of its months and of its
categories. :class:`Drill` groups the line arrays (what the dashboards use: milliseconds after a new
order); the SQL functions say the same and are what the tests compare it with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import numpy as np

from ..shop_time import sql_day
from ..storage.db import Database
from .distinct import present
from .lines import Lines

# Rows of both channels with the same columns, by the shop's day (shop_time.sql_day); {where_o} / {where_s} narrow each side by date first,
# so the indexes on orders.created_at and sales.sold_at are used. Both sides name their columns: without
# the order plugin the till side is used alone.
LINES = f"""
SELECT {sql_day('o.created_at')} AS day, 'sms' AS channel, COALESCE(p.category, 'Lainnya') AS category,
       ol.code AS code, ol.name AS name, ol.quantity AS units, ol.quantity * ol.price AS revenue
FROM orders o JOIN order_lines ol ON ol.order_id = o.id LEFT JOIN products p ON p.id = ol.product_id
WHERE o.state != 'cancelled' {{where_o}}
UNION ALL
SELECT {sql_day('s.sold_at')} AS day, 'till' AS channel, COALESCE(p.category, 'Lainnya') AS category,
       sl.code AS code, sl.name AS name, sl.quantity AS units, sl.quantity * sl.price AS revenue
FROM sales s JOIN sale_lines sl ON sl.sale_id = s.id LEFT JOIN products p ON p.id = sl.product_id
WHERE 1 = 1 {{where_s}}
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


async def _bars(db: Database, group: str, label: str, year: str | None = None,
                category: str | None = None) -> list[Bar]:
    params: list[str] = []
    where_o = where_s = ""
    if year:
        where_o = "AND o.created_at >= shop_start(?) AND o.created_at < shop_start(?)"
        where_s = "AND s.sold_at >= shop_start(?) AND s.sold_at < shop_start(?)"
    lines = LINES.format(where_o=where_o, where_s=where_s)
    if year:
        params += [year, str(int(year) + 1)] * 2
    outer = "WHERE category = ?" if category else ""
    if category:
        params.append(category)
    # group and label are fixed expressions chosen below, never user text
    rows = await db.fetchall(
        f"""SELECT {group} AS k, {label} AS l,
                   SUM(CASE WHEN channel = 'sms' THEN revenue ELSE 0 END) AS sms,
                   SUM(CASE WHEN channel = 'till' THEN revenue ELSE 0 END) AS till, SUM(units) AS units
            FROM ({lines}) AS lines {outer} GROUP BY k ORDER BY k""", params)
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


OTHER = "Lainnya"  # the category of lines whose product is not (or no longer) in the catalogue


class Drill:
    """The drill-down over the line arrays; ``categories`` maps product ids to their category. Each
    answer is kept: a Drill belongs to one state of the lines."""

    def __init__(self, lines: Lines, categories: dict[int, str]) -> None:
        self.lines = lines
        self.category_names = sorted(set(categories.values()) | {OTHER})
        index = {name: i for i, name in enumerate(self.category_names)}
        top = max(int(lines.product.max(initial=-1)), max(categories, default=-1)) + 2
        table = np.full(top, index[OTHER], dtype=np.int32)
        for pid, name in categories.items():
            if pid >= 0:
                table[pid + 1] = index[name]
        self._category = table[lines.product + 1]  # product -1 (not in the catalogue) reads slot 0: OTHER
        self._kept: dict[tuple, list[Bar]] = {}

    @property
    def stores(self) -> list[str]:
        """The stores (``store.id``) the lines come from, sorted: one for a shop on its own."""
        return sorted(self.lines.stores)

    def by_year(self, store: str | None = None) -> list[Bar]:
        """Revenue per year (``store``: that store's only; None: every store's)."""
        return self._bars(("year", store), lambda: self._of(store))

    def by_month(self, year: str, store: str | None = None) -> list[Bar]:
        """Revenue per month of ``year`` ("2026")."""
        return self._bars(("month", store, _year(year)), lambda: self._in_year(year) & self._of(store))

    def by_category(self, year: str, store: str | None = None) -> list[Bar]:
        """Revenue per category in ``year``."""
        return self._bars(("category", store, _year(year)), lambda: self._in_year(year) & self._of(store))

    def by_product(self, year: str, category: str, store: str | None = None) -> list[Bar]:
        """Revenue per product of ``category`` in ``year``."""
        if category not in self.category_names:
            return []
        wanted = self.category_names.index(category)
        return self._bars(("product", store, _year(year), category),
                          lambda: self._in_year(year) & (self._category == wanted) & self._of(store))

    def _of(self, store: str | None) -> np.ndarray:
        if store is None:
            return np.ones(len(self.lines.day), dtype=bool)
        if store not in self.lines.stores:
            return np.zeros(len(self.lines.day), dtype=bool)
        return self.lines.store == self.lines.stores.index(store)

    def _in_year(self, year: str) -> np.ndarray:
        y = int(_year(year))
        start, end = (date(y, 1, 1) - EPOCH).days, (date(y + 1, 1, 1) - EPOCH).days
        return (self.lines.day >= start) & (self.lines.day < end)

    def _bars(self, key: tuple, keep) -> list[Bar]:
        if key not in self._kept:
            self._kept[key] = self._group(key[0], keep())
        return self._kept[key]

    def _group(self, level: str, keep: np.ndarray) -> list[Bar]:
        lines = self.lines
        # integer keys first (years, months since 1970, category and product indexes), names after
        # (small non-negative integers all: counted with bincount, not np.unique, which took over a
        # second on 10 million lines; a day's year or month read from a table of the days spanned)
        if level in ("year", "month"):
            days = lines.day[keep]
            first = int(days.min(initial=0))
            spanned = np.arange(first, int(days.max(initial=0)) + 1).astype("datetime64[D]")
            numbers = spanned.astype("datetime64[Y]" if level == "year" else "datetime64[M]").astype(np.int64)[
                days - first]
        else:
            numbers = (self._category if level == "category" else lines.code)[keep].astype(np.int64)
        base = int(numbers.min(initial=0))  # a year before 1970 is a negative number
        slot = numbers - base
        at = present(slot)
        found = at + base
        sms = lines.sms[keep]
        revenue, units = lines.revenue[keep], lines.units[keep]
        sums = [np.bincount(slot, weights=w)[at].tolist() for w in (revenue * sms, revenue * ~sms, units)]
        if level in ("year", "month"):
            unit = "datetime64[Y]" if level == "year" else "datetime64[M]"
            keys = [str(k) for k in np.datetime_as_string(found.astype(unit))]
        else:
            keys = [(self.category_names if level == "category" else lines.codes)[k] for k in found.tolist()]
        bars = [Bar(k, lines.names.get(k, k) if level == "product" else k, int(s), int(t), int(u))
                for k, s, t, u in zip(keys, *sums)]
        return sorted(bars, key=lambda b: b.key)


EPOCH = date(1970, 1, 1)


async def revenue_between(db: Database, start: datetime, end: datetime, store: str | None = None) -> Bar:
    """Revenue of both channels for orders placed and till sales rung up in [``start``, ``end``)
    (aware instants; stored instants are UTC ISO text, so they compare as text), at ``store`` (a
    store.id; None: every store of a chain). Key and label are empty. The home page compares this
    store's today so far with the same span a week before."""
    bounds: tuple = (start.astimezone(timezone.utc).isoformat(), end.astimezone(timezone.utc).isoformat())
    at_store = "" if store is None else " AND {t}.store_id = ?"
    if store is not None:
        bounds += (store,)
    lines = LINES.format(where_o="AND o.created_at >= ? AND o.created_at < ?" + at_store.format(t="o"),
                         where_s="AND s.sold_at >= ? AND s.sold_at < ?" + at_store.format(t="s"))
    params = bounds * 2
    row = await db.fetchone(
        f"""SELECT COALESCE(SUM(CASE WHEN channel = 'sms' THEN revenue END), 0) AS sms,
                   COALESCE(SUM(CASE WHEN channel = 'till' THEN revenue END), 0) AS till,
                   COALESCE(SUM(units), 0) AS units FROM ({lines}) AS lines""", params)
    return Bar("", "", row["sms"], row["till"], row["units"])
