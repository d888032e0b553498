"""Seeded, synthetic three-year store history for the demo and the benchmarks (pure: arrays and rows).

Customers of the studies' four classes in realistic shares, a weekly rhythm, paydays, Ramadan and
Lebaran, daily-needs products that sell together, SMS orders and till sales, promos that deal seekers
answer, complaints with resolution times, opt-outs. The same seed always gives the same history.
Vectorised with numpy so a million order lines take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo

import numpy as np

# (class, share, weekly purchase rate, promo use, SMS share, stops buying this many days before the end)
CLASSES = (
    ("regular", 0.25, 0.33, 0.08, 0.55, None),
    ("deal_seeker", 0.15, 0.15, 0.70, 0.50, None),
    ("occasional", 0.30, 0.06, 0.10, 0.35, None),
    ("inactive", 0.15, 0.18, 0.10, 0.40, (61, 179)),
    ("switcher", 0.15, 0.20, 0.10, 0.40, (181, 700)),
)
LEBARAN = {2023: date(2023, 4, 22), 2024: date(2024, 4, 10), 2025: date(2025, 3, 31), 2026: date(2026, 3, 20),
           2027: date(2027, 3, 10), 2028: date(2028, 2, 27)}
WEEKDAY = np.array([0.9, 0.85, 0.9, 0.95, 1.1, 1.3, 1.25])  # Monday .. Sunday
PAIRS = {"M01": "T01", "I01": "T01", "K01": "G01", "B01": "T01", "S01": "P01"}  # bought together
FIRST = ("Siti", "Agus", "Dewi", "Joko", "Rina", "Budi", "Sri", "Ahmad", "Wati", "Eko", "Nur", "Yanto", "Lestari",
         "Hendra", "Fitri", "Rudi", "Ani", "Dedi", "Maya", "Bayu", "Putri", "Andi", "Indah", "Rizky", "Ayu")
LAST = ("Aminah", "Setiawan", "Lestari", "Susilo", "Wulandari", "Santoso", "Hartono", "Saputra", "Rahayu",
        "Nugroho", "Pratama", "Sari", "Hidayat", "Kusuma", "Wijaya", "Purnomo", "Handayani", "Utami")


@dataclass
class History:
    """Rows ready for the database, in insertion order (ids are 1-based positions)."""

    customers: list[tuple] = field(default_factory=list)  # phone, name, address, birthday, created_at
    orders: list[tuple] = field(default_factory=list)  # phone, state, total, created_at, updated_at, discount, promo
    order_lines: list[tuple] = field(default_factory=list)  # order_id, line, product_id, code, name, qty, price, cost
    sales: list[tuple] = field(default_factory=list)  # receipt, phone, sold_at, total, discount
    sale_lines: list[tuple] = field(default_factory=list)  # sale_id, line, product_id, code, name, qty, price, cost
    complaints: list[tuple] = field(default_factory=list)  # phone, state, opened, first_answer, closed
    complaint_notes: list[tuple] = field(default_factory=list)  # complaint_id, at, author, text
    messages: list[tuple] = field(default_factory=list)  # direction, state, phone, text, at
    optouts: list[str] = field(default_factory=list)
    classes: dict[str, str] = field(default_factory=dict)  # phone -> the class it was generated as


def day_factors(start: date, days: int) -> np.ndarray:
    """Relative shopping intensity per day: weekday x payday x Ramadan / Lebaran / mudik."""
    dates = [start + timedelta(days=i) for i in range(days)]
    f = np.array([WEEKDAY[d.weekday()] for d in dates])
    f *= np.array([1.3 if d.day >= 25 or d.day <= 2 else 1.0 for d in dates])
    for i, d in enumerate(dates):
        lebaran = LEBARAN.get(d.year) or LEBARAN.get(d.year + 1)
        if lebaran is None:
            continue
        gap = (lebaran - d).days
        if 0 < gap <= 30:
            f[i] *= 1.45 if gap <= 10 else 1.25  # Ramadan, busiest just before Lebaran
        elif -7 <= gap <= 0:
            f[i] *= 0.6  # mudik: many customers are away
    return f


def utc(instant: datetime) -> str:
    """An instant as stored: ISO 8601 in UTC."""
    return instant.astimezone(timezone.utc).isoformat()


def generate(products: list[dict], *, customers: int, years: float, end: date, seed: int = 1,
             zone: tzinfo = timezone.utc) -> History:
    """A store history of ``years`` up to ``end`` for ``customers`` customers from ``products``
    (dicts with id, code, name, category, price, cost). Shop hours and days are in ``zone`` (the
    store's); every stamp is written as a UTC instant, as the daemon stores them."""
    rng = np.random.default_rng(seed)
    days = int(round(years * 365))
    start = end - timedelta(days=days)
    factors = day_factors(start, days + 1)
    peak = factors.max()
    h = History()
    # customers: class, join day (more early than late: the shop has a base), stop day
    shares = np.array([c[1] for c in CLASSES])
    kind = rng.choice(len(CLASSES), size=customers, p=shares / shares.sum())
    join = np.minimum((rng.beta(0.8, 1.6, customers) * days).astype(int), days - 1)
    stop = np.full(customers, days)
    for k, (_, _, _, _, _, gap) in enumerate(CLASSES):
        if gap:
            members = kind == k
            stop[members] = days - rng.integers(gap[0], gap[1], members.sum())
    stop = np.maximum(stop, 1)
    join = np.minimum(join, stop - 1)  # a customer who lapsed joined before lapsing
    rate = np.array([CLASSES[k][2] for k in kind]) * rng.lognormal(0, 0.4, customers)
    # purchase days by thinning a Poisson process at the peak intensity
    n_candidates = rng.poisson(rate / 7 * peak * (stop - join))
    who = np.repeat(np.arange(customers), n_candidates)
    when = join[who] + rng.random(who.size) * (stop - join)[who]
    day = when.astype(int)
    keep = rng.random(who.size) < factors[day] / peak
    who, when = who[keep], when[keep]
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    # first purchase on the join day so every customer has one
    who = np.concatenate([np.arange(customers), who])
    when = np.concatenate([join + rng.random(customers), when])
    order = np.argsort(when, kind="stable")
    who, when = who[order], when[order]

    phones = [f"+6281{300000000 + i * 7919 % 699999999:09d}" for i in range(customers)]
    for i in range(customers):
        joined = datetime.combine(start + timedelta(days=int(join[i])), datetime.min.time(), zone)
        birthday = date(1960, 1, 1) + timedelta(days=int(rng.integers(0, 40 * 365)))
        h.customers.append((phones[i], f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}",
                            f"Jl. Demo {i % 97 + 1} RT {i % 9 + 1:02d}", birthday.isoformat(), utc(joined)))
        h.classes[phones[i]] = CLASSES[kind[i]][0]
        if rng.random() < 0.05:
            h.optouts.append(phones[i])

    weights = np.array([1.0 / (1 + i) ** 0.8 for i in range(len(products))])
    weights /= weights.sum()
    by_code = {p["code"]: p for p in products}
    n = who.size
    channel_sms = rng.random(n) < np.array([CLASSES[kind[c]][4] for c in who])
    promo = rng.random(n) < np.array([CLASSES[kind[c]][3] for c in who])
    n_lines = 1 + rng.poisson(np.where(channel_sms, 1.2, 1.6))
    first_items = rng.choice(len(products), size=n_lines.sum(), p=weights)
    quantities = rng.integers(1, 4, size=n_lines.sum())
    hour = rng.normal(np.where(channel_sms, 10, 16), 3, n).clip(6, 21)
    start_dt = datetime.combine(start, datetime.min.time(), zone)
    cursor = 0
    for j in range(n):
        c = int(who[j])
        # local wall-clock arithmetic, then the instant (a zone without DST: shop_time)
        at = (start_dt + timedelta(days=float(int(when[j])), hours=float(hour[j]))).astimezone(zone)
        inflation = 1.05 ** ((at.date() - start).days / 365)
        items: dict[str, int] = {}
        for k in range(n_lines[j]):
            p = products[first_items[cursor + k]]
            items[p["code"]] = items.get(p["code"], 0) + int(quantities[cursor + k])
            partner = PAIRS.get(p["code"])
            if partner in by_code and rng.random() < 0.35:
                items[partner] = items.get(partner, 0) + 1
        cursor += n_lines[j]
        lines = []
        for code, qty in items.items():
            p = by_code[code]
            lines.append((p["id"], code, p["name"], qty, int(round(p["price"] * inflation / 100) * 100),
                          int(round(p["cost"] * inflation / 100) * 100)))
        total = sum(q * price for _, _, _, q, price, _ in lines)
        discount = int(total * 0.1 / 100) * 100 if promo[j] else 0
        stamp = utc(at)
        if channel_sms[j]:
            recent = (end - at.date()).days
            state = ("new" if recent < 1 else "ready" if recent < 2 else
                     "cancelled" if rng.random() < 0.05 else "done")
            h.orders.append((phones[c], state, total - discount, stamp, stamp, discount,
                             f"PROMO{at:%y%m}" if promo[j] else None))
            order_id = len(h.orders)
            h.order_lines += [(order_id, n + 1, *line) for n, line in enumerate(lines)]
            text = "PESAN " + ", ".join(f"{code} {qty}" for _, code, _, qty, _, _ in lines)
            h.messages.append(("in", "handled", phones[c], text, stamp))
            h.messages.append(("out", "delivered" if rng.random() > 0.02 else "failed", phones[c],
                               f"Pesanan #{order_id}: total Rp{total - discount}", stamp))
        else:
            h.sales.append((f"D{len(h.sales) + 1:08d}", phones[c] if rng.random() < 0.8 else None, stamp,
                            total - discount, discount))
            h.sale_lines += [(len(h.sales), n + 1, *line) for n, line in enumerate(lines)]
        if rng.random() < 0.02:  # a complaint about this purchase
            opened = at + timedelta(hours=float(rng.uniform(1, 30)))
            if opened.date() > end:
                continue
            answer = opened + timedelta(hours=float(rng.lognormal(1.2, 1.0)))
            closed = answer + timedelta(hours=float(rng.lognormal(2.8, 1.0)))
            limit = datetime.combine(end, datetime.max.time(), zone)
            state = "closed" if closed < limit else "answered" if answer < limit else "open"
            h.complaints.append((phones[c], state, utc(opened),
                                 utc(answer) if answer < limit else None,
                                 utc(closed) if state == "closed" else None))
            h.complaint_notes.append((len(h.complaints), utc(opened), "customer",
                                      ("telur pecah", "beras berkutu", "kembalian kurang", "barang terlambat",
                                       "minyak bocor")[len(h.complaints) % 5]))
    return h
