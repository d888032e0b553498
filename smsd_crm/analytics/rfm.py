"""RFM scores, the named segments on the R x F grid, and the studies' four behaviour classes.

Ties: equal values always share a score. A value's score is 1 + floor(5 x (the share of customers
with a worse value)), so one customer's score never depends on how a sort broke a tie, and the many
customers who bought exactly once all get the same F score. Recency can instead use fixed day
thresholds (better for a small shop; the default).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date

RECENCY_DAYS = (7, 30, 90, 180)  # score 5 if <= 7 days, 4 if <= 30, 3 if <= 90, 2 if <= 180, else 1

SEGMENTS = {  # (R, F) -> segment; every one of the 25 cells has exactly one name
    **{(5, f): "Champions" for f in (4, 5)}, **{(r, f): "Loyal Customers" for r in (3, 4) for f in (4, 5)},
    **{(r, f): "Potential Loyalists" for r in (4, 5) for f in (2, 3)}, (5, 1): "New Customers",
    (4, 1): "Promising", (3, 3): "Need Attention", **{(3, f): "About To Sleep" for f in (1, 2)},
    **{(r, f): "At Risk" for r in (1, 2) for f in (3, 4)}, **{(r, 5): "Can't Lose Them" for r in (1, 2)},
    **{(r, f): "Hibernating" for r in (1, 2) for f in (1, 2)},
}
CLASSES = ("regular", "deal_seeker", "inactive", "switcher", "other")


@dataclass(frozen=True)
class CustomerActivity:
    """What RFM and the classes need of one customer (in the analysis window)."""

    customer: str
    last_purchase: date
    occasions: int  # purchase days (same-day purchases count once)
    spend: float
    orders: int = 0  # orders and sales, for the promo share
    promo_orders: int = 0  # of which used a promo or redeemed points


@dataclass(frozen=True)
class Rfm:
    """One customer's RFM values, scores and segment."""

    customer: str
    recency_days: int
    frequency: int
    monetary: float
    r: int
    f: int
    m: int
    segment: str


def tie_scores(values: list[float], higher_is_better: bool = True) -> list[int]:
    """Scores 1-5 by quintile where equal values share a score (see the module docstring)."""
    ordered = sorted(values)
    n = len(values)
    scores = []
    for v in values:
        worse = bisect_left(ordered, v) if higher_is_better else n - bisect_right(ordered, v)
        scores.append(min(5, 1 + (5 * worse) // n))
    return scores


def recency_score(days: int, thresholds: tuple[int, ...] = RECENCY_DAYS) -> int:
    """5 for a purchase within thresholds[0] days, down to 1 beyond the last threshold."""
    return 5 - bisect_left(list(thresholds), days)


def rfm_table(activity: list[CustomerActivity], as_of: date, *, recency: str = "fixed",
              thresholds: tuple[int, ...] = RECENCY_DAYS) -> list[Rfm]:
    """RFM for every customer. ``recency``: "fixed" (day thresholds) or "quintile"."""
    if not activity:
        return []
    days = [(as_of - a.last_purchase).days for a in activity]
    if recency == "fixed":
        r_scores = [recency_score(d, thresholds) for d in days]
    else:
        r_scores = tie_scores([float(d) for d in days], higher_is_better=False)
    f_scores = tie_scores([float(a.occasions) for a in activity])
    m_scores = tie_scores([float(a.spend) for a in activity])
    return [Rfm(a.customer, d, a.occasions, a.spend, r, f, m, SEGMENTS[(r, f)])
            for a, d, r, f, m in zip(activity, days, r_scores, f_scores, m_scores)]


def behaviour_class(rfm: Rfm, activity: CustomerActivity, *, inactive_days: int = 60, lost_days: int = 180,
                    deal_share: float = 0.5) -> str:
    """The studies' four classes, checked in this order (the first that fits wins):

    switcher (no purchase for more than ``lost_days``), inactive (more than ``inactive_days``),
    deal_seeker (promo share >= ``deal_share`` with at least 2 orders), regular (Champions or Loyal
    Customers), else other. Recency goes first: a lapsed deal seeker is lapsed.
    """
    if rfm.recency_days > lost_days:
        return "switcher"
    if rfm.recency_days > inactive_days:
        return "inactive"
    if activity.orders >= 2 and activity.promo_orders / activity.orders >= deal_share:
        return "deal_seeker"
    if rfm.segment in ("Champions", "Loyal Customers"):
        return "regular"
    return "other"


def tie_scores_array(values, higher_is_better: bool = True):
    """:func:`tie_scores` vectorised (numpy): the same scores, for tens of thousands of customers."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    ordered = np.sort(values)
    n = len(values)
    worse = np.searchsorted(ordered, values, side="left") if higher_is_better \
        else n - np.searchsorted(ordered, values, side="right")
    return np.minimum(5, 1 + (5 * worse) // max(n, 1))


def classify_arrays(days, occasions, spend, orders, promo_orders, *, thresholds: tuple[int, ...] = RECENCY_DAYS,
                    inactive_days: int = 60, lost_days: int = 180, deal_share: float = 0.5):
    """R, F, M scores, segment names and classes for arrays of customers: the same results as
    :func:`rfm_table` (fixed recency) and :func:`behaviour_class`, vectorised."""
    import numpy as np

    days = np.asarray(days)
    r = 5 - np.searchsorted(np.array(thresholds), days, side="left")
    f = tie_scores_array(occasions)
    m = tie_scores_array(spend)
    grid = np.empty((6, 6), dtype=object)
    for (ri, fi), name in SEGMENTS.items():
        grid[ri, fi] = name
    segment = grid[r, f]
    orders, promo_orders = np.asarray(orders), np.asarray(promo_orders)
    with np.errstate(divide="ignore", invalid="ignore"):
        deal = (orders >= 2) & (promo_orders / np.maximum(orders, 1) >= deal_share)
    regular = (segment == "Champions") | (segment == "Loyal Customers")
    kind = np.select([days > lost_days, days > inactive_days, deal, regular],
                     ["switcher", "inactive", "deal_seeker", "regular"], default="other")
    return r, f, m, segment, kind
