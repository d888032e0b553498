"""Retention and churn, profitability and the whale curve, products bought together, and the
complaint service figures: plain functions on plain values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations
from statistics import median

# ------------------------------------------------------------------ retention

def active(purchases: dict[str, list[date]], at: date, window_days: int) -> set[str]:
    """Customers with a purchase in (at - window, at]."""
    start = at - timedelta(days=window_days)
    return {c for c, days in purchases.items() if any(start < d <= at for d in days)}


@dataclass(frozen=True)
class Retention:
    """Between two dates: who stayed, who left, who came back, who is new."""

    start: int
    end: int
    retained: int
    new: int
    reactivated: int
    rate: float  # |A(t0) ∩ A(t1)| / |A(t0)|
    churn: float


def retention(purchases: dict[str, list[date]], t0: date, t1: date, window_days: int) -> Retention:
    """Retention in the intersection form; customers active at t1 but not t0 are new (first purchase
    after t0 - window) or reactivated (bought before, lapsed, came back)."""
    a0, a1 = active(purchases, t0, window_days), active(purchases, t1, window_days)
    start = t0 - timedelta(days=window_days)
    came = a1 - a0
    new = {c for c in came if min(purchases[c]) > start}
    retained = len(a0 & a1)
    rate = retained / len(a0) if a0 else 0.0
    return Retention(len(a0), len(a1), retained, len(new), len(came - new), rate, 1 - rate if a0 else 0.0)


def crr(start: int, end: int, new: int) -> float:
    """The textbook customer retention rate (E - N) / S."""
    return (end - new) / start


# ------------------------------------------------------------------ profitability

@dataclass(frozen=True)
class CustomerCosts:
    """What one customer brought and cost (whole rupiah)."""

    customer: str
    revenue: float
    cost_of_goods: float
    promo_discounts: float = 0
    points_redeemed_value: float = 0
    sms_parts: int = 0
    complaints: int = 0
    acquisition: float = 0


def profit(c: CustomerCosts, sms_tariff: float, complaint_cost: float) -> float:
    """revenue - cost of goods - promos - points redeemed - SMS cost - complaint handling - acquisition."""
    return (c.revenue - c.cost_of_goods - c.promo_discounts - c.points_redeemed_value
            - c.sms_parts * sms_tariff - c.complaints * complaint_cost - c.acquisition)


def whale_curve(profits: list[float]) -> list[float]:
    """Cumulative profit as a share of total profit, customers ranked from most to least profitable
    (Kaplan & Narayanan 2001): it rises above 100% and comes back down to 100%."""
    total = sum(profits)
    running, out = 0.0, []
    for p in sorted(profits, reverse=True):
        running += p
        out.append(running / total if total else 0.0)
    return out


def whale_points(profits, at_most: int = 500) -> tuple[list[float], list[float]]:
    """``whale_curve`` of an array of profits, thinned to at most ``at_most`` + 1 points for a chart:
    (share of customers in %, cumulative profit in % of the total), the first, the last and the peak
    customer always among them. The curve of 174,000 customers is 174,000 points otherwise, sent to
    every open browser at each refresh."""
    import numpy as np

    n = len(profits)
    if n == 0:
        return [], []
    ranked = np.cumsum(np.sort(np.asarray(profits, dtype=np.float64))[::-1])
    total = ranked[-1]
    cumulative = ranked / total if total else np.zeros(n)
    keep = np.unique(np.append(np.linspace(0, n - 1, min(n, at_most)).round().astype(np.int64),
                               int(np.argmax(cumulative))))
    return (100 * (keep + 1) / n).tolist(), (100 * cumulative[keep]).tolist()


# ------------------------------------------------------------------ products bought together

@dataclass(frozen=True)
class Rule:
    """X -> Y with its support, confidence and lift."""

    x: str
    y: str
    count: int
    support: float
    confidence: float
    lift: float


def pair_rules(baskets: list[set[str]], min_count: int = 3) -> list[Rule]:
    """Rules X -> Y over baskets (orders, or each customer's purchases in a window), by lift."""
    single: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for basket in baskets:
        single.update(basket)
        pairs.update(combinations(sorted(basket), 2))
    return rules_from_counts(single, pairs, len(baskets), min_count)


def rules_from_counts(single: Mapping[str, int], pairs: Mapping[tuple[str, str], int], n: int,
                      min_count: int = 3) -> list[Rule]:
    """The rules from counts: baskets holding each item, baskets holding each pair (a, b) with a < b,
    and the number of baskets ``n``."""
    if n == 0:
        return []
    rules = []
    for (a, b), count in pairs.items():
        if count < min_count:
            continue
        for x, y in ((a, b), (b, a)):
            support = count / n
            confidence = count / single[x]
            rules.append(Rule(x, y, count, support, confidence, confidence / (single[y] / n)))
    return sorted(rules, key=lambda r: (-r.lift, -r.count, r.x, r.y))


# ------------------------------------------------------------------ complaints

def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass(frozen=True)
class Service:
    """How complaints were handled."""

    complaints: int
    per_100_orders: float
    first_answer_median_h: float | None
    first_answer_p90_h: float | None
    close_median_h: float | None
    close_p90_h: float | None
    within_sla: float | None  # share of closed tickets closed within the SLA


def service(opened_to_answer_h: list[float], opened_to_close_h: list[float], complaints: int, orders: int,
            sla_hours: float = 24) -> Service:
    """Complaints per 100 orders, time to first answer and to close (median, p90), share within SLA."""
    within = (sum(1 for h in opened_to_close_h if h <= sla_hours) / len(opened_to_close_h)
              if opened_to_close_h else None)
    return Service(complaints, 100 * complaints / orders if orders else 0.0,
                   median(opened_to_answer_h) if opened_to_answer_h else None, percentile(opened_to_answer_h, 90),
                   median(opened_to_close_h) if opened_to_close_h else None, percentile(opened_to_close_h, 90),
                   within)


@dataclass(frozen=True)
class AfterComplaint:
    """Who bought again within the window after a complaint was closed, fast vs slow, and a baseline."""

    fast: float | None
    slow: float | None
    fast_n: int
    slow_n: int
    baseline: float | None  # customers without a complaint: bought again within the window


def post_complaint_retention(closures: list[tuple[str, date, float]], purchases: dict[str, list[date]],
                             as_of: date, window_days: int = 60, sla_hours: float = 24) -> AfterComplaint:
    """``closures``: (customer, closing day, hours it took). Only closures whose whole window has passed
    count. The baseline takes each customer without a complaint at their first purchase in the same
    period and asks the same question."""
    window = timedelta(days=window_days)
    counts = {"fast": [0, 0], "slow": [0, 0]}
    complainers = set()
    first_close = min((c[1] for c in closures), default=None)
    for customer, closed, hours in closures:
        complainers.add(customer)
        if closed + window > as_of:
            continue
        kind = "fast" if hours <= sla_hours else "slow"
        counts[kind][1] += 1
        if any(closed < d <= closed + window for d in purchases.get(customer, [])):
            counts[kind][0] += 1
    base = [0, 0]
    if first_close is not None:
        for customer, days in purchases.items():
            if customer in complainers:
                continue
            start = min((d for d in days if d >= first_close), default=None)
            if start is None or start + window > as_of:
                continue
            base[1] += 1
            base[0] += any(start < d <= start + window for d in days)

    def rate(pair: list[int]) -> float | None:
        return pair[0] / pair[1] if pair[1] else None
    return AfterComplaint(rate(counts["fast"]), rate(counts["slow"]), counts["fast"][1], counts["slow"][1],
                          rate(base))
