"""The dashboards' line arrays: the drill-down, the cost of goods per customer and the pairs bought
together computed from them equal the SQL on generated history, a hand-made shop gives the numbers
worked out by hand, and after new, cancelled and till purchases the extended arrays equal a fresh
load."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from smsd_crm.analytics import extract, lines, sales
from smsd_crm.analytics.metrics import pair_rules
from smsd_crm.analytics.purchases import Purchases
from smsd_crm.config import parse_config
from smsd_crm.csv_io.catalog import parse_products
from smsd_crm.daemon import offline_session
from smsd_crm.storage import catalog

from .test_dashboard_views import TODAY, _data, shop  # noqa: F401 (the fixture)


def as_rows(ls: lines.Lines) -> list[tuple]:
    return sorted(zip(ls.basket.tolist(), [ls.phones[c] if c >= 0 else None for c in ls.cust.tolist()],
                      ls.day.tolist(), [ls.codes[c] for c in ls.code.tolist()], ls.product.tolist(),
                      ls.units.tolist(), ls.revenue.tolist(), ls.cost.tolist()))


async def test_the_drill_down_from_the_arrays_equals_the_sql(shop):  # noqa: F811
    drill = await _data(shop).drill()
    years = drill.by_year()
    assert years == await sales.by_year(shop) and len(years) >= 2
    for bar in years:
        assert drill.by_month(bar.key) == await sales.by_month(shop, bar.key)
        categories = drill.by_category(bar.key)
        assert categories == await sales.by_category(shop, bar.key)
        for c in categories:
            assert drill.by_product(bar.key, c.key) == await sales.by_product(shop, bar.key, c.key)
    assert drill.by_product(years[0].key, "no such category") == []
    with pytest.raises(ValueError):
        drill.by_month("20x6")


async def test_pairs_and_costs_from_the_arrays_equal_the_sql(shop):  # noqa: F811
    data = _data(shop)
    ls = await data.lines()
    buyer = (await shop.fetchone("SELECT phone FROM orders WHERE created_at >= '2026-09' LIMIT 1"))[0]
    await shop.execute("INSERT INTO vouchers (code, phone, reward, cost, value, created_at) VALUES "
                       "('ABCD2345', ?, 'V10', 100, 10000, '2026-10-01T10:00:00+00:00')", (buyer,))
    for since in (date(2025, 11, 23), date(2026, 8, 25)):
        day = Purchases.day_of(since)
        assert ls.rules(day) == pair_rules(await extract.baskets(shop, since, limit=10**9), 3)
        assert ls.rules(day, by_customer=True) == pair_rules(await extract.customer_baskets(shop, since), 3)
        fast = {c.customer: c for c in lines.customer_costs(
            ls, await data.purchases(), day, await data.sms_parts(since),
            await extract.complaints_per_customer(shop, since), await extract.points_redeemed_per_customer(shop, since))}
        slow = {c.customer: c for c in await extract.customer_costs(shop, since)}
        assert fast == slow and len(fast) > 50 and fast[buyer].points_redeemed_value == 10000
        assert any(c.promo_discounts for c in fast.values()) and any(c.sms_parts for c in fast.values())
        weekly = await extract.complaints_per_week(shop, since, (await data.purchases()).per_week(since))
        assert weekly == await extract.complaints_per_week(shop, since) and sum(w[2] for w in weekly) > 100


async def test_the_arrays_follow_new_cancelled_and_till_purchases(shop):  # noqa: F811
    data = _data(shop)
    before = await data.lines()
    now = "2026-11-23T10:00:00+00:00"
    order = await shop.fetchone("SELECT id, phone FROM orders WHERE state = 'done' ORDER BY id LIMIT 1")
    await shop.execute("UPDATE orders SET state = 'cancelled', updated_at = ? WHERE id = ?", (now, order[0]))
    new_order = await shop.fetchval(
        "INSERT INTO orders (phone, state, total, language, created_at, updated_at) VALUES (?, 'new', 31000, 'id', ?, ?) RETURNING id",
        ("+6285700000002", now, now))
    await shop.execute("INSERT INTO order_lines (order_id, line, product_id, code, name, quantity, price, cost) "
                       "VALUES (?, 1, 1, 'B01', 'Beras 5kg', 1, 31000, 29000)", (new_order,))
    sale = await shop.fetchval("INSERT INTO sales (receipt, phone, sold_at, total, created_at) "
                              "VALUES ('arr-1', NULL, ?, 9000, ?) RETURNING id", (now, now))
    await shop.execute("INSERT INTO sale_lines (sale_id, line, product_id, code, name, quantity, price, cost) "
                       "VALUES (?, 1, NULL, 'X99', 'Barang lain', 3, 3000, 2000)", (sale,))
    after = await data.lines()
    fresh = await lines.load(shop.path if shop.engine == "sqlite" else shop)
    assert as_rows(after) == as_rows(fresh)
    assert len(after.basket) == len(before.basket) - int((before.basket == order[0]).sum()) + 2
    drill = await data.drill()  # a fresh drill after the change: the till line's product is unknown
    year = drill.by_category("2026")
    assert [b for b in year if b.key == "Lainnya"][0].till_revenue >= 9000


async def test_a_hand_made_shop_drills_down_to_the_numbers_worked_out_by_hand(tmp_path):
    settings = parse_config("database: {path: hand.sqlite3}\n", tmp_path / "c.yaml")
    async with offline_session(settings, third_party=False) as (_, db):
        rows, _ = parse_products("code,name,category,price,cost\nB01,Beras,Sembako,70000,60000\n"
                                 "K01,Kopi,Minuman,2000,1500\n")
        await catalog.import_rows(db, rows, datetime.now(timezone.utc))
        ids = {r["code"]: r["id"] for r in await db.fetchall("SELECT id, code FROM products")}
        stamp = "2026-11-01T09:00:00+07:00"

        async def order(created: str, state: str, items: list[tuple[str, int, int]]) -> None:
            total = sum(q * p for _, q, p in items)
            oid = await db.fetchval("INSERT INTO orders (phone, state, total, language, created_at, updated_at) "
                                   "VALUES ('+6281200000001', ?, ?, 'id', ?, ?) RETURNING id", (state, total, created, created))
            for i, (code, q, p) in enumerate(items, 1):
                await db.execute("INSERT INTO order_lines (order_id, line, product_id, code, name, quantity, price, "
                                 "cost) VALUES (?, ?, ?, ?, ?, ?, ?, 0)", (oid, i, ids[code], code, code, q, p))
        await order("2025-03-02T08:00:00+07:00", "done", [("B01", 1, 70000), ("K01", 5, 2000)])  # 80,000
        await order("2026-03-05T08:00:00+07:00", "done", [("K01", 10, 2000)])  # 20,000
        await order("2026-04-05T08:00:00+07:00", "cancelled", [("B01", 9, 70000)])  # not counted
        sale = await db.fetchval("INSERT INTO sales (receipt, phone, sold_at, total, created_at) "
                                "VALUES ('h-1', NULL, '2026-04-10T10:00:00+07:00', 146000, ?) RETURNING id", (stamp,))
        for i, (code, pid, q, p) in enumerate([("B01", ids["B01"], 2, 70000), ("Z01", None, 3, 2000)], 1):
            await db.execute("INSERT INTO sale_lines (sale_id, line, product_id, code, name, quantity, price, cost) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, 0)", (sale, i, pid, code, code, q, p))
        drill = await _data(db).drill()
        assert [(b.key, b.sms_revenue, b.till_revenue, b.units) for b in drill.by_year()] == [
            ("2025", 80000, 0, 6), ("2026", 20000, 146000, 15)]
        assert [(b.key, b.revenue) for b in drill.by_month("2026")] == [("2026-03", 20000), ("2026-04", 146000)]
        assert [(b.key, b.sms_revenue, b.till_revenue) for b in drill.by_category("2026")] == [
            ("Lainnya", 0, 6000), ("Minuman", 20000, 0), ("Sembako", 0, 140000)]
        assert [(b.key, b.units) for b in drill.by_product("2025", "Sembako")] == [("B01", 1)]


async def test_model_fits_last_their_age_and_sms_parts_count_only_new_messages(shop):  # noqa: F811
    data = _data(shop)
    calls = []

    async def fit():
        calls.append(1)
        return len(calls)
    assert await data.lasting(("fit",), 600, fit) == 1
    assert await data.lasting(("fit",), 600, fit) == 1  # kept
    assert await data.lasting(("fit",), 0, fit) == 2  # too old: fitted again
    since = date(2026, 11, 1)
    before = await data.sms_parts(since)
    phone = "+6285700000009"
    await shop.execute("INSERT INTO messages (direction, state, phone, address, text, created_at, updated_at) "
                       "VALUES ('out', 'sent', ?, ?, ?, '2026-11-20', '2026-11-20')", (phone, phone, "y" * 161))
    after = await data.sms_parts(since)
    assert after == await extract.sms_parts_per_customer(shop, since)
    assert after[phone] == before.get(phone, 0) + 2


def _merge_by_sorting(base, rows):
    """The merge as first written: everything concatenated, re-sorted and summed (the reference)."""
    import numpy as np

    from smsd_crm.analytics.purchases import Purchases
    index = {phone: i for i, phone in enumerate(base.phones)}
    phones = list(base.phones)
    cust = []
    for phone, *_ in rows:
        if phone not in index:
            index[phone] = len(phones)
            phones.append(phone)
        cust.append(index[phone])
    _, day, amount, count, promo, discount = zip(*rows)
    c = np.concatenate([base.cust, np.array(cust, dtype=np.int64)])
    d = np.concatenate([base.day, np.array(day, dtype=np.int64)])
    cols = [np.concatenate([getattr(base, f), np.array(v, dtype=getattr(base, f).dtype)])
            for f, v in (("amount", amount), ("count", count), ("promo", promo), ("discount", discount))]
    order = np.lexsort((d, c))
    c, d, cols = c[order], d[order], [v[order] for v in cols]
    starts = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | (d[1:] != d[:-1])])
    c, d, cols = c[starts], d[starts], [np.add.reduceat(v, starts) for v in cols]
    keep = cols[1] > 0
    return Purchases(phones, c[keep], d[keep], *(v[keep] for v in cols))


@pytest.mark.parametrize("seed", range(40))
def test_merging_new_purchases_equals_sorting_everything_again(seed):
    import random

    import numpy as np

    from smsd_crm.analytics.purchases import _build, merge
    rnd = random.Random(seed)
    phones = [f"+62812{i:07d}" for i in range(rnd.randint(0, 30))]
    base_rows = [(rnd.choice(phones), rnd.randint(19000, 19040), rnd.randint(1, 9) * 1000.0, 1, rnd.randint(0, 1),
                  0.0) for _ in range(rnd.randint(0, 200))] if phones else []
    base = _merge_by_sorting(_build([]), base_rows) if base_rows else _build([])  # sorted, one row a day
    more = phones + [f"+62857{i:07d}" for i in range(5)]
    rows = []
    for _ in range(rnd.randint(1, 15)):
        phone, day = rnd.choice(more), rnd.randint(18990, 19050)
        rows.append((phone, day, 5000.0, 1, rnd.randint(0, 1), 500.0))
        if rnd.random() < 0.3:  # a cancelled order: the same purchase taken back out
            rows.append((phone, day, -5000.0, -1, -rows[-1][4], -500.0))
    got, want = merge(base, rows), _merge_by_sorting(base, rows)
    assert got.phones == want.phones
    for field in ("cust", "day", "amount", "count", "promo", "discount"):
        assert np.array_equal(getattr(got, field), getattr(want, field)), field


def test_lines_appended_in_spare_room_never_change_older_lines():
    import numpy as np

    from smsd_crm.analytics.lines import Lines

    def rows(basket: int, n: int):
        return [[(basket, "+628120000001", 19000, "B01", "Beras", 1, 1, 78000, 70000)] * n]
    first = Lines.empty().add(rows(1, 3))
    second = first.add(rows(2, 2))  # written into the spare room after the first's rows
    fork = first.add(rows(3, 4))  # the first again: the room is the second's now, so this copies
    assert first.basket.tolist() == [1, 1, 1]
    assert second.basket.tolist() == [1, 1, 1, 2, 2]
    assert fork.basket.tolist() == [1, 1, 1, 3, 3, 3, 3]
    third = second.add(rows(4, 1))
    assert second.basket.tolist() == [1, 1, 1, 2, 2] and third.basket.tolist() == [1, 1, 1, 2, 2, 4]
    big = third.add(rows(5, 10_000))  # more than the room: new buffers, the same values
    assert len(big.basket) == 10_006 and np.array_equal(big.basket[:6], third.basket)
    assert big.without_orders([5]).basket.tolist() == third.basket.tolist()


async def test_one_class_s_rows_are_those_classify_gives(shop):  # noqa: F811
    from smsd_crm_dashboards.customers import classify, of_class
    data = _data(shop)
    for as_of in (date(2026, 6, 30), date(2026, 11, 23)):
        everyone = await classify(data, as_of)
        for name in {r["class"] for r in everyone}:
            assert await of_class(data, as_of, name) == sorted((r for r in everyone if r["class"] == name),
                                                               key=lambda r: -r["m"])
        assert len({r["class"] for r in everyone}) > 2


async def test_data_told_of_changes_reads_the_tables_again_after_a_notice(shop):  # noqa: F811
    from smsd_crm_dashboards.data import DashboardData
    told = DashboardData(_data(shop).db, told=True)
    plain = _data(shop)
    before = len((await told.purchases()).day)
    assert len((await plain.purchases()).day) == before
    await shop.execute("INSERT INTO sales (receipt, phone, sold_at, total, created_at) VALUES "
                       "('told-1', '+6285700000777', '2026-11-20T10:00:00+00:00', 5000, '2026-11-20')")
    assert len((await plain.purchases()).day) == before + 1  # looks every time
    # the worker's: the tables are looked at again after a change notice (or RECHECK_SECONDS), not at
    # each of a refresh's dozen reads
    assert len((await told.purchases()).day) == before
    told.changed()
    assert len((await told.purchases()).day) == before + 1


async def test_line_customers_kept_and_extended_equal_a_fresh_lookup(shop):  # noqa: F811
    data = _data(shop)
    first = await data.line_customers()
    assert (first >= 0).all() and len(first) == len((await data.lines()).phones)
    await shop.execute("INSERT INTO sales (receipt, phone, sold_at, total, created_at) VALUES "
                       "('map-1', '+6285700000888', '2026-11-20T10:00:00+00:00', 5000, '2026-11-20')")
    await shop.execute("INSERT INTO sale_lines (sale_id, line, product_id, code, name, quantity, price, cost) "
                       "SELECT (SELECT id FROM sales WHERE receipt = 'map-1'), 1, id, code, name, 1, price, cost "
                       "FROM products LIMIT 1")
    kept = await data.line_customers()
    ls, p = await data.lines(), await data.purchases()
    assert len(kept) == len(first) + 1 and (kept == lines.line_customers(ls, p)).all()
    assert p.phones[kept[ls.phones.index("+6285700000888")]] == "+6285700000888"
    since = Purchases.day_of(date(2026, 8, 25))
    args = (ls, p, since, await data.sms_parts(date(2026, 8, 25)), {}, {})
    assert lines.customer_costs(*args) == [lines.cost_table(*args, kept).row(i)
                                           for i in range(len(lines.cost_table(*args, kept)))]
