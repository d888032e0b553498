"""RFM (with ties), the four classes, retention, profitability and lift against hand-computed values."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsd_crm.analytics.metrics import (
    CustomerCosts,
    active,
    crr,
    pair_rules,
    percentile,
    profit,
    retention,
    service,
    whale_curve,
)
from smsd_crm.analytics.rfm import (
    SEGMENTS,
    CustomerActivity,
    behaviour_class,
    recency_score,
    rfm_table,
    tie_scores,
)

AS_OF = date(2026, 11, 23)


def test_every_grid_cell_has_exactly_one_segment():
    assert sorted(SEGMENTS) == [(r, f) for r in range(1, 6) for f in range(1, 6)]
    assert SEGMENTS[(5, 5)] == "Champions" and SEGMENTS[(1, 1)] == "Hibernating" and SEGMENTS[(2, 5)] == "Can't Lose Them"


def test_tied_values_share_a_score():
    # ten customers: six bought once, two twice, one 5 times, one 9 times
    f = tie_scores([1, 1, 1, 1, 1, 1, 2, 2, 5, 9])
    # worse-than counts: 0 for the ones, 6 for the twos, 8 and 9 for the others -> 1 + 5*k//10
    assert f == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    assert tie_scores([3, 3, 3]) == [1, 1, 1]  # all equal: all the same
    assert tie_scores([10, 20, 30, 40, 50]) == [1, 2, 3, 4, 5]
    # recency: fewer days is better
    assert tie_scores([1, 50, 50, 200], higher_is_better=False) == [4, 2, 2, 1]


@given(st.lists(st.integers(0, 50), min_size=1, max_size=60))
def test_tie_scores_are_monotone_and_never_split_equal_values(values):
    scores = tie_scores([float(v) for v in values])
    for v1, s1 in zip(values, scores):
        assert 1 <= s1 <= 5
        for v2, s2 in zip(values, scores):
            if v1 == v2:
                assert s1 == s2
            if v1 < v2:
                assert s1 <= s2


def test_fixed_recency_thresholds():
    assert [recency_score(d) for d in (0, 7, 8, 30, 31, 90, 91, 180, 181, 999)] == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def _activity(name, days_ago, occasions, spend, orders=0, promo=0):
    return CustomerActivity(name, AS_OF - timedelta(days=days_ago), occasions, spend, orders, promo)


def test_rfm_table_and_the_four_classes():
    people = [_activity("champ", 2, 12, 900_000, 12, 1), _activity("loyal", 20, 10, 700_000, 10, 2),
              _activity("deal", 10, 4, 200_000, 4, 3), _activity("new", 1, 1, 20_000, 1, 0),
              _activity("sleepy", 75, 2, 60_000, 2, 0), _activity("gone", 400, 6, 300_000, 6, 0)]
    table = {r.customer: r for r in rfm_table(people, AS_OF)}
    # F over (12, 10, 4, 1, 2, 6): worse-than counts 5, 4, 2, 0, 1, 3 -> 1 + 5k//6 = 5, 4, 2, 1, 1, 3
    assert [table[n].f for n in ("champ", "loyal", "deal", "new", "sleepy", "gone")] == [5, 4, 2, 1, 1, 3]
    assert [table[n].r for n in ("champ", "loyal", "deal", "new", "sleepy", "gone")] == [5, 4, 4, 5, 3, 1]
    assert [table[n].segment for n in ("champ", "loyal", "deal", "new", "sleepy", "gone")] == \
        ["Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "About To Sleep", "At Risk"]
    classes = {a.customer: behaviour_class(table[a.customer], a) for a in people}
    assert classes == {"champ": "regular", "loyal": "regular", "deal": "deal_seeker", "new": "other",
                       "sleepy": "inactive", "gone": "switcher"}
    # thresholds are configurable
    assert behaviour_class(table["sleepy"], people[4], inactive_days=90) == "other"


def test_retention_fixture_from_the_definitions():
    # S = 200 active at t0, 180 of them still active at t1, 40 new: E = 220; CRR = (220 - 40) / 200 = 90%
    t0, t1 = date(2026, 6, 30), date(2026, 9, 30)
    purchases = {f"s{i}": [date(2026, 6, 1)] + ([date(2026, 9, 1)] if i < 180 else []) for i in range(200)}
    purchases |= {f"n{i}": [date(2026, 9, 2)] for i in range(40)}
    purchases |= {"back": [date(2025, 1, 5), date(2026, 9, 3)]}  # lapsed, came back
    r = retention(purchases, t0, t1, window_days=90)
    assert (r.start, r.end, r.retained, r.new, r.reactivated) == (200, 221, 180, 40, 1)
    assert r.rate == pytest.approx(0.9) and r.churn == pytest.approx(0.1)
    assert crr(200, 220, 40) == pytest.approx(0.9)
    assert active(purchases, t0, 90) == {f"s{i}" for i in range(200)}


def test_profit_and_whale_curve():
    c = CustomerCosts("a", revenue=1_000_000, cost_of_goods=850_000, promo_discounts=20_000,
                      points_redeemed_value=10_000, sms_parts=30, complaints=1, acquisition=5_000)
    # 1,000,000 - 850,000 - 20,000 - 10,000 - 30 x 350 - 1 x 25,000 - 5,000 = 79,500
    assert profit(c, sms_tariff=350, complaint_cost=25_000) == 79_500
    assert whale_curve([50, -20, 100, 20, -50]) == pytest.approx([100 / 100, 150 / 100, 170 / 100, 150 / 100, 1.0])


def test_lift_support_confidence_by_hand():
    baskets = [{"beras", "telur"}, {"beras", "telur"}, {"beras", "telur", "gula"}, {"beras"}, {"gula"},
               {"telur", "gula"}, {"mi"}, {"mi"}, {"beras", "gula"}, {"beras", "telur"}]
    rules = {(r.x, r.y): r for r in pair_rules(baskets, min_count=3)}
    # beras in 6 of 10, telur in 5, both in 4: support 0.4, conf(beras->telur) 4/6, lift (4/6)/(5/10) = 4/3
    r = rules[("beras", "telur")]
    assert (r.count, r.support) == (4, 0.4)
    assert r.confidence == pytest.approx(4 / 6) and r.lift == pytest.approx(4 / 3)
    assert rules[("telur", "beras")].confidence == pytest.approx(4 / 5)
    assert ("beras", "gula") not in rules  # only 2 baskets: below min_count
    assert pair_rules([], 1) == []


def test_complaint_service_figures():
    s = service([1, 2, 3, 4, 30], [5, 10, 20, 48], complaints=5, orders=250, sla_hours=24)
    assert s.per_100_orders == 2.0 and s.first_answer_median_h == 3 and s.close_median_h == 15
    assert s.first_answer_p90_h == pytest.approx(4 + 0.6 * 26)  # between the 4th and 5th values
    assert s.within_sla == 0.75
    assert percentile([], 50) is None and service([], [], 0, 0).within_sla is None


def test_post_complaint_retention_by_hand():
    from smsd_crm.analytics.metrics import post_complaint_retention
    d = date(2026, 1, 1)
    closures = [("a", d, 5.0), ("b", d, 10.0), ("c", d, 70.0), ("d", d, 90.0),
                ("late", AS_OF - timedelta(days=10), 1.0)]  # its 60 days have not passed: not counted
    purchases = {"a": [d + timedelta(days=20)], "b": [d + timedelta(days=90)], "c": [d + timedelta(days=59)],
                 "d": [], "x": [d + timedelta(days=3), d + timedelta(days=30)], "y": [d + timedelta(days=5)],
                 "z": [AS_OF - timedelta(days=1), AS_OF]}  # z's window is not over: not in the baseline
    r = post_complaint_retention(closures, purchases, AS_OF, window_days=60, sla_hours=24)
    assert (r.fast, r.fast_n) == (0.5, 2)  # a came back, b only after 90 days
    assert (r.slow, r.slow_n) == (0.5, 2)  # c came back within 59 days, d never
    assert r.baseline == 0.5  # x bought again 27 days later, y did not


@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 30), st.integers(0, 10**6), st.integers(0, 30),
                          st.integers(0, 30)), min_size=1, max_size=80))
def test_vectorised_classes_equal_the_plain_functions(rows):
    from smsd_crm.analytics.rfm import classify_arrays
    people = [_activity(f"c{i}", d, f, m, max(o, p), p) for i, (d, f, m, o, p) in enumerate(rows)]
    plain = rfm_table(people, AS_OF)
    r, f, m, segment, kind = classify_arrays([x.recency_days for x in plain], [a.occasions for a in people],
                                             [a.spend for a in people], [a.orders for a in people],
                                             [a.promo_orders for a in people])
    assert list(zip(r.tolist(), f.tolist(), m.tolist(), segment.tolist())) == [(x.r, x.f, x.m, x.segment) for x in plain]
    assert kind.tolist() == [behaviour_class(x, a) for x, a in zip(plain, people)]
