"""Every SMS order line and till sale line as numpy arrays, loaded once and extended as orders arrive.

The sales drill-down, the cost of goods per customer and the products bought together are grouped
sums over these arrays, so a new order costs the dashboards a read of its own lines (milliseconds)
instead of a pass over a million lines. The SQL in ``extract`` and ``sales`` says the same things
and is what the tests compare these arrays with.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Protocol, Union

import numpy as np

from ..shop_time import ShopTime, for_zone, sql_day_number
from .distinct import distinct, runs
from .metrics import CustomerCosts, Rule, rules_from_counts

ORDER_LINES = (f"SELECT o.id, o.phone, {sql_day_number('o.created_at')}, ol.code, ol.name, "
               "COALESCE(ol.product_id, -1), ol.quantity, ol.quantity * ol.price, ol.quantity * ol.cost, o.store_id "
               "FROM orders o JOIN order_lines ol ON ol.order_id = o.id WHERE o.state != 'cancelled'")
SALE_LINES = (f"SELECT -s.id, s.phone, {sql_day_number('s.sold_at')}, sl.code, sl.name, "
              "COALESCE(sl.product_id, -1), sl.quantity, sl.quantity * sl.price, sl.quantity * sl.cost, s.store_id "
              "FROM sales s JOIN sale_lines sl ON sl.sale_id = s.id WHERE 1 = 1")
COLUMNS = ("basket", "cust", "day", "sms", "code", "product", "units", "revenue", "cost", "store")
BATCH = 50_000  # rows turned into arrays at a time: a million lines never sit in memory as tuples


@dataclass(frozen=True)
class Lines:
    """One row per order or sale line. ``basket`` is the order id, or minus the sale id for a till
    sale; ``cust`` indexes ``phones`` (-1: a till sale without a number); ``code`` indexes ``codes``;
    ``product`` is the catalogue id (-1 when the till sold something not in it); ``day`` counts days
    since 1970-01-01; revenue and cost are quantity x the line's price and cost; ``store`` indexes
    ``stores`` (the store ids of a chain: the store that took the order or rang up the sale)."""

    phones: list[str]
    codes: list[str]
    names: dict[str, str]  # code -> its largest name, as SQL's MAX(name)
    basket: np.ndarray
    cust: np.ndarray
    day: np.ndarray
    sms: np.ndarray
    code: np.ndarray
    product: np.ndarray
    units: np.ndarray
    revenue: np.ndarray
    cost: np.ndarray
    stores: list[str] = field(default_factory=list)
    store: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int16))
    # The arrays above are the first rows of these longer buffers: an order's lines are written into
    # the spare room instead of copying ten million rows (see ``add``). Shared, never mutated below
    # any Lines' length; ``fill`` says which Lines may append (the newest one).
    _room: dict | None = field(default=None, repr=False, compare=False)

    @classmethod
    def empty(cls) -> "Lines":
        """No lines."""
        i32, i64 = np.array([], dtype=np.int32), np.array([], dtype=np.int64)
        return cls([], [], {}, i64, i32, i32, np.array([], dtype=bool), i32, i32, i32, i64, i64, [],
                   np.array([], dtype=np.int16))

    def add(self, rows) -> "Lines":
        """These lines with ``rows`` (basket, phone, day, code, name, product, units, revenue, cost[,
        store id]; without it the store ``main``) appended; ``rows`` may be any iterable of row lists
        (a cursor's batches)."""
        phones, codes, names, stores = list(self.phones), list(self.codes), dict(self.names), list(self.stores)
        phone_index = {p: i for i, p in enumerate(phones)}
        code_index = {c: i for i, c in enumerate(codes)}
        store_index = {s: i for i, s in enumerate(stores)}

        def index(values, table: dict, listing: list) -> np.ndarray:
            out = np.empty(len(values), dtype=np.int32)
            for i, v in enumerate(values):
                k = table.get(v)
                if k is None:
                    k = table[v] = len(listing) if v is not None else -1
                    if v is not None:
                        listing.append(v)
                out[i] = k
            return out
        parts: dict[str, list[np.ndarray]] = {f: [getattr(self, f)] for f in COLUMNS}
        for batch in rows:
            if not batch:
                continue
            basket, phone, day, code, name, product, units, revenue, cost, *at = zip(*batch)
            store = at[0] if at else ("main",) * len(basket)
            for c, n in zip(code, name):
                if n > names.get(c, ""):
                    names[c] = n
            b = np.array(basket, dtype=np.int64)
            for column, values in (("basket", b), ("cust", index(phone, phone_index, phones)),
                                  ("day", np.array(day, dtype=np.int32)), ("sms", b > 0),
                                  ("code", index(code, code_index, codes)),
                                  ("product", np.array(product, dtype=np.int32)),
                                  ("units", np.array(units, dtype=np.int32)),
                                  ("revenue", np.array(revenue, dtype=np.int64)),
                                  ("cost", np.array(cost, dtype=np.int64)),
                                  ("store", index(store, store_index, stores).astype(np.int16))):
                parts[column].append(values)
        size = len(self.basket)
        new = {f: np.concatenate(v[1:]) if len(v) > 1 else v[0][:0] for f, v in parts.items()}
        end = size + len(new["basket"])
        room = self._room
        if room is None or room["fill"] != size or end > len(room["basket"]):
            # a new set of buffers with spare room for about 5 % more lines (a day's at any size)
            spare = end + max(4096, end // 20)
            room = {f: np.empty(spare, dtype=getattr(self, f).dtype) for f in COLUMNS}
            for f in COLUMNS:
                room[f][:size] = getattr(self, f)
        for f in COLUMNS:
            room[f][size:end] = new[f]
        room["fill"] = end
        return Lines(phones, codes, names, **{f: room[f][:end] for f in COLUMNS}, stores=stores, _room=room)

    def without_orders(self, order_ids: list[int]) -> "Lines":
        """These lines less those of the given (cancelled) orders."""
        if not order_ids:
            return self
        keep = ~np.isin(self.basket, np.array(order_ids, dtype=np.int64))
        return replace(self, _room=None, **{f: getattr(self, f)[keep] for f in COLUMNS})

    def rules(self, since_day: int, by_customer: bool = False, min_count: int = 3) -> list[Rule]:
        """Products bought together from ``since_day`` on, per purchase or per known customer: what
        ``metrics.pair_rules`` gives on ``extract.baskets`` / ``extract.customer_baskets``, counted
        with array operations instead of one Python set per basket."""
        keep = self.day >= since_day
        if by_customer:
            keep &= self.cust >= 0
        width = len(self.codes) + 1
        key = (self.cust if by_customer else self.basket)[keep].astype(np.int64)
        # one row per (basket, product), sorted by basket then product
        key, code = np.divmod(distinct((key - key.min() if len(key) else key) * width + self.code[keep]), width)
        n = runs(key)  # key is sorted
        single = np.bincount(code, minlength=width)
        pairs = np.zeros(width * width, dtype=np.int64)
        # items of a basket are neighbours: the pairs (i, i + gap) in the same basket, gap = 1, 2, ...
        gap = 1
        while gap < len(key) and (same := key[gap:] == key[:-gap]).any():
            pairs += np.bincount(code[:-gap][same] * width + code[gap:][same], minlength=width * width)
            gap += 1
        names = self.codes
        found = np.flatnonzero(pairs)
        return rules_from_counts({names[c]: int(single[c]) for c in np.flatnonzero(single)},
                                 {(names[a], names[b]): int(pairs[a * width + b])
                                  for a, b in zip(*np.divmod(found, width))}, n, min_count)


def _batches(path: str, sql: str, params: tuple = (), shop: ShopTime | None = None):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    (shop or for_zone()).install(conn)
    try:
        cursor = conn.execute(sql, params)
        while batch := cursor.fetchmany(BATCH):
            yield batch
    finally:
        conn.close()


# Where lines are read from: a SQLite file's path (a read-only connection of its own in a worker
# thread, streamed in batches), or a database server (its storage API: the server does the work).
Source = Union[str, Path, "Reader"]


class Reader(Protocol):
    engine: str

    async def fetchall(self, sql: str, params: Any = ()) -> list: ...


async def _read(source: Source, sql: str, params: tuple, shop: ShopTime | None, build: Callable[[Any], Any]) -> Any:
    if isinstance(source, (str, Path)):
        return await asyncio.to_thread(lambda: build(_batches(str(source), sql, params, shop)))
    return build([[tuple(r) for r in await source.fetchall(sql, params)]])


async def load(source: Source, shop: ShopTime | None = None) -> Lines:
    """Every line of both channels (SMS orders that were not cancelled, and till sales), turned into
    arrays (in a worker thread, for a SQLite file); days are the shop's (``shop``: its zone,
    Asia/Jakarta when not given)."""
    sql = f"{ORDER_LINES} UNION ALL {SALE_LINES}"
    return await _read(source, sql, (), shop, Lines.empty().add)


async def changes(source: Source, lines: Lines, old: tuple, new: tuple, shop: ShopTime | None = None) -> Lines:
    """``lines`` brought from fingerprint ``old`` to ``new`` (see ``purchases.fingerprint``): the lines
    of sales and orders with larger ids added, those of orders cancelled since taken out."""
    sql = f"{SALE_LINES} AND s.id > ?"
    params: list = [int(old[0] or 0)]
    cancelled: list[int] = []
    if len(old) == 5 and len(new) == 5:
        sql = f"{ORDER_LINES} AND o.id > ? UNION ALL {sql}"
        params.insert(0, int(old[2] or 0))
        cancelled = await _read(source, "SELECT id FROM orders WHERE id <= ? AND state = 'cancelled' AND updated_at > ?",
                                (int(old[2] or 0), old[3] or ""), None,
                                lambda batches: [row[0] for batch in batches for row in batch])
    return await _read(source, sql, tuple(params), shop, lines.without_orders(cancelled).add)


@dataclass(frozen=True)
class CostTable:
    """What each customer who bought in a period brought and cost, as arrays aligned with ``phones``
    (``metrics.CustomerCosts`` by columns: whole rupiah, SMS parts, complaints); ``customer`` is each
    row's index in the ``Purchases`` arrays it was made with (-1: none)."""

    phones: list[str]
    customer: np.ndarray
    revenue: np.ndarray
    cost_of_goods: np.ndarray
    promo_discounts: np.ndarray
    points_redeemed_value: np.ndarray
    sms_parts: np.ndarray
    complaints: np.ndarray

    def __len__(self) -> int:
        return len(self.phones)

    def profit(self, sms_tariff: float, complaint_cost: float) -> np.ndarray:
        """``metrics.profit`` of every row (rupiah, float64)."""
        return (self.revenue - self.cost_of_goods - self.promo_discounts - self.points_redeemed_value
                - self.sms_parts * sms_tariff - self.complaints * complaint_cost)

    def row(self, i: int) -> CustomerCosts:
        return CustomerCosts(self.phones[i], float(self.revenue[i]), float(self.cost_of_goods[i]),
                             float(self.promo_discounts[i]), int(self.points_redeemed_value[i]),
                             int(self.sms_parts[i]), int(self.complaints[i]))


def line_customers(lines: Lines, purchases, known: np.ndarray | None = None) -> np.ndarray:
    """Each of ``lines.phones``' index in ``purchases.phones`` (-1: not there), int64. ``known``: the
    answer for an earlier state of the same two, whose phones only grew since: only the new phones
    and those not found then are looked up."""
    index = purchases.phone_index
    if known is None or len(known) > len(lines.phones):
        return np.array([index.get(phone, -1) for phone in lines.phones], dtype=np.int64)
    out = np.concatenate([known, np.array([index.get(phone, -1) for phone in lines.phones[len(known):]],
                                          dtype=np.int64)])
    for i in np.flatnonzero(out[:len(known)] < 0).tolist():
        out[i] = index.get(lines.phones[i], -1)
    return out


def cost_table(lines: Lines, purchases, since_day: int, sms_parts: dict[str, int], complaints: dict[str, int],
               points: dict[str, int], to_customer: np.ndarray | None = None) -> CostTable:
    """``extract.customer_costs`` from the arrays: per known customer who bought from ``since_day``
    on, revenue and cost of goods of their lines, promo discounts of their purchases (``purchases``:
    the ``Purchases`` arrays), and the rupiah of points redeemed, SMS parts sent and complaints (given
    per number); ``to_customer``: ``line_customers(lines, purchases)`` when the caller keeps it.
    Grouped sums and one pass over the numbers: no object per customer (174,000 of them took 2.9 s
    at 200,000 customers)."""
    # Everything by the customer's index in the purchase arrays; a line's number they do not know
    # (never, as both come from the same tables: kept exact all the same) gets an index after theirs.
    index = purchases.phone_index
    phones = list(purchases.phones)
    extra: dict[str, int] = {}

    def at(phone: str) -> int:
        found = index.get(phone)
        if found is None:
            found = extra.setdefault(phone, len(phones))
            if found == len(phones):
                phones.append(phone)
        return found
    if to_customer is None:
        to_customer = line_customers(lines, purchases)
    to_customer = to_customer[:len(lines.phones)]  # kept for later arrays (a change meanwhile): their prefix
    if len(to_customer) < len(lines.phones) or (to_customer < 0).any() or (to_customer >= len(index)).any():
        to_customer = np.array([at(phone) for phone in lines.phones], dtype=np.int64)
    keep = (lines.day >= since_day) & (lines.cust >= 0)
    cust = to_customer[lines.cust[keep]]
    inside = purchases.day >= since_day
    n = len(phones)
    revenue = np.bincount(cust, weights=lines.revenue[keep], minlength=n)
    cost = np.bincount(cust, weights=lines.cost[keep], minlength=n)
    discount = np.bincount(purchases.cust[inside], weights=purchases.discount[inside], minlength=n)
    member = np.zeros(n, dtype=bool)
    member[cust] = True
    member[purchases.cust[inside]] = True
    columns = {"points": np.zeros(n), "sms": np.zeros(n, dtype=np.int64), "complaints": np.zeros(n, dtype=np.int64)}
    for values, column in ((points, columns["points"]), (sms_parts, columns["sms"]),
                           (complaints, columns["complaints"])):
        for phone, value in values.items():
            if (i := index.get(phone, extra.get(phone))) is not None:
                column[i] = value
    rows = np.flatnonzero(member)
    return CostTable([phones[i] for i in rows.tolist()], np.where(rows < len(purchases.phones), rows, -1),
                     revenue[rows], cost[rows], discount[rows], columns["points"][rows], columns["sms"][rows],
                     columns["complaints"][rows])


def customer_costs(lines: Lines, purchases, since_day: int, sms_parts: dict[str, int],
                   complaints: dict[str, int], points: dict[str, int]) -> list[CustomerCosts]:
    """``cost_table`` as one ``CustomerCosts`` per customer."""
    table = cost_table(lines, purchases, since_day, sms_parts, complaints, points)
    return [table.row(i) for i in range(len(table))]
