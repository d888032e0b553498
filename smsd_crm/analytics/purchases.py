"""Every customer's purchase occasions as numpy arrays, loaded once and kept while nothing changes.

One row per (customer, day): the amount spent, how many purchases and how many of them used a
promo. RFM, the four classes, retention and the future-value summary are vectorised over these
arrays for any analysis date, so a dashboard needs one database pass, not one per date. The cache
is keyed by a cheap fingerprint of the purchase tables (largest ids, newest order change).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import numpy as np

from ..shop_time import ShopTime, for_zone, sql_day_number
from ..storage.db import Database
from .distinct import present
from .extract import purchases_sql
from .metrics import AfterComplaint, Retention
from .rfm import CustomerActivity

EPOCH = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class Purchases:
    """Occasions sorted by customer then day. ``day`` counts days since 1970-01-01."""

    phones: list[str]  # customer index -> phone
    cust: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    count: np.ndarray
    promo: np.ndarray
    discount: np.ndarray  # promo discounts given

    @staticmethod
    def day_of(d: date) -> int:
        """A date as the ``day`` number."""
        return d.toordinal() - EPOCH

    def activity(self, as_of: date, window_days: int = 365) -> list[CustomerActivity]:
        """What ``extract.activity`` gives, for any date, without a query."""
        a = self.activity_arrays(as_of, window_days)
        end = self.day_of(as_of)
        return [CustomerActivity(self.phones[c], date.fromordinal(end - d + EPOCH), o, s, n, p)
                for c, d, o, s, n, p in zip(a["customer"].tolist(), a["days"].tolist(), a["occasions"].tolist(),
                                            a["spend"].tolist(), a["orders"].tolist(), a["promo"].tolist())]

    def activity_arrays(self, as_of: date, window_days: int = 365) -> dict[str, np.ndarray]:
        """:meth:`activity` as arrays (customer index, days since the last purchase, occasions, spend,
        purchases, promo purchases), for customers who bought by ``as_of``."""
        end, start = self.day_of(as_of), self.day_of(as_of) - window_days
        upto = self.day <= end
        n = len(self.phones)
        last = np.full(n, -1)
        np.maximum.at(last, self.cust[upto], self.day[upto])
        inside = upto & (self.day > start)
        c = self.cust[inside]
        seen = np.flatnonzero(last >= 0)
        return {"customer": seen, "days": end - last[seen],
                "occasions": np.bincount(c, minlength=n)[seen],
                "spend": np.bincount(c, weights=self.amount[inside], minlength=n)[seen],
                "orders": np.bincount(c, weights=self.count[inside], minlength=n)[seen].astype(np.int64),
                "promo": np.bincount(c, weights=self.promo[inside], minlength=n)[seen].astype(np.int64)}

    def active(self, at: date, window_days: int) -> np.ndarray:
        """Indexes of customers with a purchase in (at - window, at]."""
        end = self.day_of(at)
        return present(self.cust[(self.day <= end) & (self.day > end - window_days)], len(self.phones))

    def retention(self, t0: date, t1: date, window_days: int) -> Retention:
        """:func:`metrics.retention` (the intersection form), vectorised over the arrays."""
        a0, a1 = self.active(t0, window_days), self.active(t1, window_days)
        before, after = np.zeros(len(self.phones), dtype=bool), np.zeros(len(self.phones), dtype=bool)
        before[a0], after[a1] = True, True
        retained = int(np.count_nonzero(before & after))
        came = np.flatnonzero(after & ~before)
        new = int(np.sum(self.first_day()[came] > self.day_of(t0) - window_days))
        rate = retained / len(a0) if len(a0) else 0.0
        return Retention(len(a0), len(a1), retained, new, len(came) - new, rate, 1 - rate if len(a0) else 0.0)

    def first_day(self) -> np.ndarray:
        """Each customer's first purchase day (-1 for none)."""
        return self._first_day

    @cached_property
    def _first_day(self) -> np.ndarray:
        # the rows are by customer, then day: a customer's first day is the first of their rows
        first = np.full(len(self.phones), -1, dtype=np.int64)
        if len(self.cust):
            starts = np.flatnonzero(np.r_[True, self.cust[1:] != self.cust[:-1]])
            first[self.cust[starts]] = self.day[starts]
        return first

    def per_week(self, since: date) -> dict[str, int]:
        """Purchases per week (keyed by the Monday it starts on, ISO format) from ``since`` on."""
        keep = self.day >= self.day_of(since)
        monday = self.day[keep] - (self.day[keep] + 3) % 7  # 1970-01-01 was a Thursday
        weeks, at = np.unique(monday, return_inverse=True)
        counts = np.bincount(at, weights=self.count[keep], minlength=len(weeks))
        return {date.fromordinal(int(w) + EPOCH).isoformat(): int(n) for w, n in zip(weeks.tolist(), counts.tolist())}

    def days_by_phone(self, as_of: date) -> dict[str, list[date]]:
        """Purchase days per customer up to ``as_of`` (for the plain retention functions)."""
        keep = self.day <= self.day_of(as_of)
        out: dict[str, list[date]] = {}
        for c, d in zip(self.cust[keep].tolist(), self.day[keep].tolist()):
            out.setdefault(self.phones[c], []).append(date.fromordinal(d + EPOCH))
        return out

    @cached_property
    def phone_index(self) -> dict[str, int]:
        """phone -> customer index (made once per arrays; ``merge`` hands it on)."""
        return {p: i for i, p in enumerate(self.phones)}

    def after_complaints(self, closures: list[tuple[str, date, float]], as_of: date, window_days: int = 60,
                         sla_hours: float = 24) -> AfterComplaint:
        """``metrics.post_complaint_retention(closures, self.days_by_phone(as_of), ...)`` without a
        list of dates per customer (5 s for 200,000 customers): each closure's "bought again within
        the window" is two binary searches in the (customer, day) keys, the baseline over every other
        customer is grouped sums."""
        end = self.day_of(as_of)
        upto = self.day <= end
        cust, day = self.cust[upto].astype(np.int64), self.day[upto].astype(np.int64)
        index = self.phone_index
        keys = (cust << 32) + (day - DAY_FLOOR)  # sorted: the arrays are by customer, then day
        counted = [(index.get(customer, -1), self.day_of(closed), hours <= sla_hours)
                   for customer, closed, hours in closures if closed + timedelta(days=window_days) <= as_of]
        who = np.array([c for c, _, _ in counted], dtype=np.int64)
        closed_day = np.array([k for _, k, _ in counted], dtype=np.int64)
        fast = np.array([f for _, _, f in counted], dtype=bool)
        first = np.searchsorted(keys, (who << 32) + (closed_day + 1 - DAY_FLOOR), side="left")
        last = np.searchsorted(keys, (who << 32) + (closed_day + window_days - DAY_FLOOR), side="right")
        again = (last > first) & (who >= 0)
        counts = {"fast": [int((again & fast).sum()), int(fast.sum())],
                  "slow": [int((again & ~fast).sum()), int((~fast).sum())]}
        base = [0, 0]
        if closures:
            first_close = self.day_of(min(c[1] for c in closures))
            complainer = np.zeros(len(self.phones), dtype=bool)
            complainer[[i for c, _, _ in closures if (i := index.get(c)) is not None]] = True
            rows = np.flatnonzero((day >= first_close) & ~complainer[cust])
            # each other customer's first purchase since the first closure: the first of their rows
            head = rows[np.r_[True, cust[rows][1:] != cust[rows][:-1]]] if len(rows) else rows
            never = np.int64(1 << 40)  # no purchase since the first closure (far from overflowing)
            start = np.full(len(self.phones), never, dtype=np.int64)
            start[cust[head]] = day[head]
            eligible = (start != never) & (start + window_days <= end)
            begun = start[cust]
            again_base = (day > begun) & (day <= begun + window_days) & eligible[cust]
            base = [len(present(cust[again_base], len(self.phones))), int(eligible.sum())]

        def rate(pair: list[int]) -> float | None:
            return pair[0] / pair[1] if pair[1] else None
        return AfterComplaint(rate(counts["fast"]), rate(counts["slow"]), counts["fast"][1], counts["slow"][1],
                              rate(base))

    def summary(self, end: date):
        """The CLV summary (``transactions.summarize``) at ``end``, vectorised."""
        from .transactions import Summary

        cut = self.day_of(end)
        n = len(self.phones)
        inside = self.day <= cut
        c, d, a = self.cust[inside], self.day[inside], self.amount[inside]
        big = np.iinfo(np.int64).max
        first, last = np.full(n, big), np.full(n, -1)
        np.minimum.at(first, c, d)
        np.maximum.at(last, c, d)
        occasions = np.bincount(c, minlength=n)
        total = np.bincount(c, weights=a, minlength=n)
        first_spend = np.zeros(n)
        is_first = d == first[c]
        first_spend[c[is_first]] = a[is_first]
        holdout = np.bincount(self.cust[~inside], minlength=n)
        seen = occasions > 0
        x = (occasions - 1)[seen].astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            zbar = np.where(x > 0, (total[seen] - first_spend[seen]) / np.maximum(x, 1), 0.0)
        return Summary([self.phones[i] for i in np.flatnonzero(seen)], x, (last - first)[seen] / 7.0,
                       (cut - first)[seen] / 7.0, zbar, first_spend[seen], holdout[seen].astype(float), end)


async def fingerprint(db: Database) -> tuple:
    """Changes whenever a purchase is added, changed or cancelled (one cheap query: indexed maxima):
    (sales' max id, sales' count, orders' max id, orders' newest updated_at, orders' count)."""
    return tuple(await db.fetchone(
        "SELECT (SELECT MAX(id) FROM sales), (SELECT COUNT(*) FROM sales), (SELECT MAX(id) FROM orders), "
        "(SELECT MAX(updated_at) FROM orders), (SELECT COUNT(*) FROM orders)"))


def _read(path: str, sql: str, params: tuple = (), shop: ShopTime | None = None) -> list[tuple]:
    """The aggregate query on a read-only connection of its own (WAL lets it read beside the daemon's
    writer), so a dashboard loading never holds up the connection that answers SMS."""
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    (shop or for_zone()).install(conn)
    try:
        rows = conn.execute(sql, params).fetchall()
    finally:
        conn.close()
    return rows


async def _rows(db, sql: str, params: tuple) -> list[tuple]:
    """A SQLite file is read on a read-only connection of its own in a worker thread (see :func:`_read`);
    a server through the storage API (it reads beside the writers on its own)."""
    if db.engine == "sqlite":
        return await asyncio.to_thread(_read, str(db.path), sql, params, _shop(db))
    return [tuple(r) for r in await db.fetchall(sql, params)]


DAY = "CAST(julianday({col}) - 2440587.5 AS INTEGER)"
DAY_FLOOR = -(2 ** 31)  # day numbers shifted to be non-negative in the merge key


def _build(rows: list[tuple]) -> Purchases:
    if not rows:
        empty = np.array([], dtype=np.int64)
        return Purchases([], empty, empty, np.array([], dtype=float), empty, empty, np.array([], dtype=float))
    phone_col, day, amount, count, promo, discount = zip(*rows)
    phones, cust = np.unique(np.array(phone_col, dtype=object), return_inverse=True)
    return Purchases(list(phones), cust.astype(np.int64), np.array(day, dtype=np.int64),
                     np.array(amount, dtype=float), np.array(count, dtype=np.int64), np.array(promo, dtype=np.int64),
                     np.array(discount, dtype=float))


async def load(db: Database) -> Purchases:
    """One pass over both channels, aggregated per customer and day in SQL."""
    sql = f"""SELECT phone, {DAY.format(col="day")}, SUM(amount), COUNT(*), SUM(promo), SUM(discount)
              FROM ({await purchases_sql(db)}) AS p GROUP BY phone, day ORDER BY phone, day"""
    return _build(await _rows(db, sql, ()))


async def changes(db: Database, old: tuple, new: tuple) -> list[tuple]:
    """(phone, day, amount, purchases, promo, discount) rows to add between two fingerprints: sales and orders with
    larger ids, minus orders cancelled since. Negative rows take a cancelled order back out."""
    sql = (f"SELECT phone, {sql_day_number('sold_at')}, total, 1, CASE WHEN discount > 0 THEN 1 ELSE 0 END, discount FROM sales "
           "WHERE phone IS NOT NULL AND id > ?")
    params: list = [int(old[0] or 0)]
    if len(old) == 5 and len(new) == 5:
        day = sql_day_number("created_at")
        promo = "(CASE WHEN discount > 0 OR promo_code IS NOT NULL THEN 1 ELSE 0 END)"
        sql += (f" UNION ALL SELECT phone, {day}, total, 1, {promo}, discount FROM orders "
                "WHERE id > ? AND state != 'cancelled'"
                f" UNION ALL SELECT phone, {day}, -total, -1, -{promo}, -discount FROM orders "
                "WHERE id <= ? AND state = 'cancelled' AND updated_at > ?")
        params += [int(old[2] or 0), int(old[2] or 0), old[3] or ""]
    return await _rows(db, sql, tuple(params))


def _shop(db) -> ShopTime:
    return getattr(db, "shop", None) or for_zone()


def merge(base: Purchases, rows: list[tuple]) -> Purchases:
    """``base`` with ``rows`` added, same-day rows of a customer summed, empty days dropped.

    A few new orders touch a few (customer, day) rows: they are found by binary search in the
    sorted keys and added to, or inserted where they belong, in one pass over the arrays (at 200,000
    customers a full re-sort took over a second per order)."""
    if not rows:
        return base
    index = dict(base.phone_index)
    phones = list(base.phones)
    added: dict[tuple[int, int], list[float]] = {}
    for phone, day, amount, count, promo, discount in rows:
        if phone not in index:
            index[phone] = len(phones)
            phones.append(phone)
        total = added.setdefault((index[phone], int(day)), [0.0, 0, 0, 0.0])
        total[0] += amount
        total[1] += count
        total[2] += promo
        total[3] += discount
    keys = sorted(added)
    new_c = np.array([k[0] for k in keys], dtype=np.int64)
    new_d = np.array([k[1] for k in keys], dtype=np.int64)
    values = list(zip(*(added[k] for k in keys)))
    # (customer, day) as one sortable number; days since 1970 stay far below 2**32
    key = (base.cust.astype(np.int64) << 32) + (base.day.astype(np.int64) - DAY_FLOOR)
    new_key = (new_c << 32) + (new_d - DAY_FLOOR)
    at = np.searchsorted(key, new_key)
    hit = at < len(key)
    hit[hit] = key[at[hit]] == new_key[hit]
    columns = [base.amount.copy(), base.count.copy(), base.promo.copy(), base.discount.copy()]
    for column, value in zip(columns, values):
        np.add.at(column, at[hit], np.array(value, dtype=column.dtype)[hit])
    miss = ~hit
    c = np.insert(base.cust, at[miss], new_c[miss])
    d = np.insert(base.day, at[miss], new_d[miss])
    a, n, p, x = (np.insert(column, at[miss], np.array(value, dtype=column.dtype)[miss])
                  for column, value in zip(columns, values))
    if (np.array(values[1])[miss] > 0).all() and (columns[1][at[hit]] > 0).all():
        merged = Purchases(phones, c, d, a, n, p, x)
    else:
        keep = n > 0  # a cancelled order took a day's only purchase back out
        merged = Purchases(phones, c[keep], d[keep], a[keep], n[keep], p[keep], x[keep])
    merged.__dict__["phone_index"] = index  # the cached_property's slot: the same phones, already indexed
    return merged
