"""The dashboard views' server-side Documents on a real SQLite file with generated history: what they
show equals the analytics functions' numbers, refreshes reach open documents, SMS text stays text."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone

import pytest
from bokeh.document import Document
from smsd_crm_dashboards import crosssell as crosssell_view
from smsd_crm_dashboards import customers as customers_view
from smsd_crm_dashboards import future as future_view
from smsd_crm_dashboards import messages as messages_view
from smsd_crm_dashboards import profit as profit_view
from smsd_crm_dashboards import retention as retention_view
from smsd_crm_dashboards import sales as sales_view
from smsd_crm_dashboards import service as service_view
from smsd_crm_dashboards.data import DashboardData
from smsd_crm_dashboards.documents import DocumentHub
from smsd_crm_dashboards.readonly import ReadOnlyDatabase

from smsd_crm.analytics import sales
from smsd_crm.config import parse_config
from smsd_crm.csv_io.catalog import parse_products
from smsd_crm.daemon import offline_session
from smsd_crm.demo.history import generate
from smsd_crm.demo.history_load import load_history, load_history_into
from smsd_crm.storage import catalog, customers

from .test_demo_history import PRODUCTS

TODAY = date(2026, 11, 23)


def _data(db) -> DashboardData:
    """What the daemon gives the views: read-only access to the same file (on PostgreSQL the
    worker's own connections to the server)."""
    return DashboardData(ReadOnlyDatabase(db.path) if db.engine == "sqlite" else db)


@pytest.fixture(params=["sqlite", "postgresql"])
async def shop(request, tmp_path):
    where = ("{path: shop.sqlite3}" if request.param == "sqlite"
             else f"{{url: '{request.getfixturevalue('postgres_server').new_database()}'}}")
    settings = parse_config(f"database: {where}\n", tmp_path / "c.yaml")
    async with offline_session(settings, third_party=False) as (_, db):
        rows, errors = parse_products("code,name,category,price,cost\n" + "\n".join(
            f"{p['code']},{p['name']},{p['category']},{p['price']},{p['cost']}" for p in PRODUCTS))
        assert not errors
        await catalog.import_rows(db, rows, datetime.now(timezone.utc))
        products = [dict(id=p.id, code=p.code, name=p.name, category=p.category, price=p.price, cost=p.cost)
                    for p in await catalog.all_products(db)]
        history = generate(products, customers=300, years=2, end=TODAY, seed=3)
        if db.engine == "sqlite":
            await asyncio.to_thread(load_history, settings.database.path, history, "2026-11-23T00:00:00+00:00")
        else:
            await load_history_into(db, history, "2026-11-23T00:00:00+00:00")
        yield db


async def test_sales_view_shows_the_drill_down_numbers(shop):
    doc, hub = Document(), DocumentHub()
    refresh = sales_view.make(doc, _data(shop), hub)
    await refresh()
    main = doc.get_model_by_name("main").data
    years = await sales.by_year(shop)
    assert list(main["key"]) == [b.key for b in years] and list(main["revenue"]) == [b.revenue for b in years]
    # a year is the sum of its months and of its categories (both channels)
    for bar in years:
        assert sum(b.revenue for b in await sales.by_month(shop, bar.key)) == bar.revenue
        assert sum(b.revenue for b in await sales.by_category(shop, bar.key)) == bar.revenue
        assert sum(b.sms_revenue for b in await sales.by_category(shop, bar.key)) == bar.sms_revenue
    assert doc.get_model_by_name("revision").text == "1"
    assert len(hub) == 1


async def test_customers_view_counts_and_escapes(shop):
    phone = (await shop.fetchone("SELECT phone FROM customers ORDER BY id LIMIT 1"))[0]
    await customers.upsert(shop, phone, datetime.now(timezone.utc), name="<img src=x onerror=alert(1)>")
    doc = Document()
    refresh = customers_view.make(doc, _data(shop), DocumentHub(), today=TODAY)
    await refresh()
    rows = await customers_view.classify(_data(shop), TODAY)
    summary = doc.get_model_by_name("summary").text
    for kind in ("regular", "deal_seeker", "inactive", "switcher"):
        assert f"<b>{sum(r['class'] == kind for r in rows)}</b>" in summary
    segments = doc.get_model_by_name("segments").data
    assert sum(segments["count"]) == len(rows)
    trend = doc.get_model_by_name("trend").data
    assert len(trend["month"]) == customers_view.TREND_MONTHS + 1 and trend["month"][-1] == "kini"
    doc.get_model_by_name("sort").value = "recency"
    table = doc.get_model_by_name("table").text
    assert "<img src=x" not in table
    first_days = [int(cell.split("</td>")[0]) for cell in table.split("<td>")[5::7][:5]]
    assert first_days == sorted(first_days)  # sorted by days since the last purchase


async def test_an_open_document_is_refreshed_once_per_burst():
    hub = DocumentHub()
    calls = []

    class FakeDoc:  # only what the hub uses of a Document
        def __init__(self):
            self.callbacks = []

        def add_next_tick_callback(self, cb):
            self.callbacks.append(cb)

    doc = FakeDoc()

    async def refresh():
        calls.append(1)
    hub.register(doc, refresh)
    for _ in range(5):
        hub.changed("orders")
    hub.changed("simulator")  # not shown on any dashboard
    assert len(doc.callbacks) == 1
    await doc.callbacks[0]()
    hub.changed(None)
    assert len(doc.callbacks) == 2 and calls == [1]
    hub.forget(doc)  # its session ended
    hub.changed("orders")
    assert len(doc.callbacks) == 2 and len(hub) == 0


async def test_service_view_figures(shop):
    doc = Document()
    await service_view.make(doc, _data(shop), DocumentHub(), today=TODAY)()
    opened = (await shop.fetchone("SELECT COUNT(*) FROM complaints WHERE opened_at >= '2025-11-23'"))[0]
    figures = doc.get_model_by_name("figures").text
    assert f"<td>{opened}</td>" in figures and opened > 0
    weeks = doc.get_model_by_name("weeks").data
    assert all(w >= "2026-05" for w in weeks["week"]) and sum(weeks["complaints"]) > 0
    rates = doc.get_model_by_name("after").data["rate"]
    assert len(rates) == 3 and all(0 <= r <= 1 for r in rates)


async def test_crosssell_view_finds_the_pairs_the_history_was_made_with(shop):
    doc = Document()
    await crosssell_view.make(doc, _data(shop), DocumentHub(), today=TODAY)()
    pairs = list(doc.get_model_by_name("lifts").data["pair"])
    # demo.history adds telur to mi instan and minyak, gula to kopi, pasta gigi to sabun
    assert {"Mi instan → Telur 1kg", "Telur 1kg → Mi instan", "Kopi → Gula 1kg", "Gula 1kg → Kopi",
            "Sabun → Pasta gigi", "Pasta gigi → Sabun"} & set(pairs)
    assert all(lift > 1 for lift in doc.get_model_by_name("lifts").data["lift"])
    assert "Mi instan → Telur 1kg" in doc.get_model_by_name("order_rules").text or \
        "Telur 1kg → Mi instan" in doc.get_model_by_name("order_rules").text


async def test_future_view_fits_and_compares_with_the_hold_out(shop):
    doc = Document()
    await future_view.make(doc, _data(shop), DocumentHub(), today=TODAY)()
    assert "BG/NBD" in doc.get_model_by_name("method").text  # 300 customers with repeats: the models fit
    fit = doc.get_model_by_name("fit").data
    assert fit["x"][0] == 0 and len(fit["actual"]) == len(fit["predicted"]) >= 3
    assert sum(doc.get_model_by_name("histogram").data["count"]) == \
        (await shop.fetchone("SELECT COUNT(DISTINCT phone) FROM (SELECT phone FROM orders UNION ALL "
                             "SELECT phone FROM sales WHERE phone IS NOT NULL) AS bought"))[0]
    assert "/customers/" in doc.get_model_by_name("table").text


async def test_future_view_says_when_data_is_thin(tmp_path):
    settings = parse_config("database: {path: thin.sqlite3}\n", tmp_path / "c.yaml")
    async with offline_session(settings, third_party=False) as (_, db):
        await db.execute("INSERT INTO sales (receipt, phone, sold_at, total, created_at) VALUES "
                         "('r1', '+6281200000001', '2026-10-01T10:00:00+00:00', 5000, '2026-10-01')")
        doc = Document()
        await future_view.make(doc, _data(db), DocumentHub(), today=TODAY)()
        assert "Perkiraan sederhana" in doc.get_model_by_name("method").text
        assert "hanya 0 pembeli ulang" in doc.get_model_by_name("method").text  # the page's language
        assert "perkiraan sederhana" in doc.get_model_by_name("summary").text  # said where the owner reads
        doc = Document()
        await future_view.make(doc, _data(db), DocumentHub(), today=TODAY, lang="en")()
        assert "only 0 repeat buyers (the models need 50)" in doc.get_model_by_name("method").text


async def test_profit_view_adds_up_with_the_configured_costs(shop):
    from smsd_crm.config import CostsConfig
    doc = Document()
    data = DashboardData(_data(shop).db, CostsConfig(sms_part=500, complaint=10_000))
    await profit_view.make(doc, data, DocumentHub(), today=TODAY)()
    whale = doc.get_model_by_name("whale").data
    assert whale["cumulative"][-1] == pytest.approx(100) and max(whale["cumulative"]) >= 100
    assert whale["share"][-1] == pytest.approx(100)
    costs = await __import__("smsd_crm.analytics.extract", fromlist=["x"]).customer_costs(shop, date(2025, 11, 23))
    from smsd_crm.analytics.metrics import profit
    total = sum(profit(c, 500, 10_000) for c in costs)
    assert "Rp500/bagian" in doc.get_model_by_name("note").text
    assert sum(doc.get_model_by_name("by_class").data["profit"]) == pytest.approx(total)
    assert "Paling rugi" in doc.get_model_by_name("tables").text


async def test_retention_view_months_add_up(shop):
    doc = Document()
    await retention_view.make(doc, _data(shop), DocumentHub(), today=TODAY)()
    m = doc.get_model_by_name("months").data
    assert len(m["month"]) == retention_view.MONTHS and m["month"][-1] == "kini"
    for i in range(len(m["month"])):  # everyone active at the month's end stayed, is new, or came back
        assert m["active"][i] == m["retained"][i] + m["new"][i] + m["reactivated"][i]
        assert m["rate"][i] + m["churn"][i] == pytest.approx(100)
    assert "Mulai menghilang" in doc.get_model_by_name("lapsing").text


async def test_messages_view_counts(shop):
    doc = Document()
    await messages_view.make(doc, _data(shop), DocumentHub(), today=TODAY)()
    v = doc.get_model_by_name("volumes").data
    since = v["month"][0]
    inbound = (await shop.fetchone("SELECT COUNT(*) FROM messages WHERE direction = 'in' AND created_at >= ?",
                                   (since,)))[0]
    assert sum(v["in"]) == inbound and inbound > 0
    assert "Rp" in doc.get_model_by_name("table").text


async def test_the_purchase_arrays_agree_with_the_sql_and_the_plain_functions(shop):
    from smsd_crm.analytics import extract
    from smsd_crm.analytics.transactions import summarize
    p = await _data(shop).purchases()
    for as_of in (TODAY, date(2026, 3, 1)):
        fast = sorted((a.customer, a.last_purchase, a.occasions, round(a.spend), a.orders, a.promo_orders)
                      for a in p.activity(as_of))
        slow = sorted((a.customer, a.last_purchase, a.occasions, round(a.spend), a.orders, a.promo_orders)
                      for a in await extract.activity(shop, as_of))
        assert fast == slow and len(fast) > 100
        vector = p.summary(as_of)
        plain = summarize(await extract.transactions(shop, TODAY), as_of)
        assert vector.customers == plain.customers
        for field in ("x", "t_x", "T", "zbar", "first_spend", "holdout"):
            assert getattr(vector, field) == pytest.approx(getattr(plain, field)), field
    days = p.days_by_phone(TODAY)
    assert days == {k: sorted(v) for k, v in (await extract.purchase_days(shop, TODAY)).items()}


async def test_the_purchase_arrays_follow_new_and_cancelled_purchases(shop):
    from smsd_crm.analytics.purchases import load
    data = _data(shop)
    await data.purchases()
    now = "2026-11-23T10:00:00+00:00"
    await shop.execute("INSERT INTO sales (receipt, phone, sold_at, total, discount, created_at) VALUES "
                       "('new-1', '+6285700000001', ?, 12000, 0, ?)", (now, now))  # a new customer
    old_order = (await shop.fetchone("SELECT id, phone FROM orders WHERE state = 'done' ORDER BY id LIMIT 1"))
    await shop.execute("UPDATE orders SET state = 'cancelled', updated_at = ? WHERE id = ?", (now, old_order[0]))
    phone = old_order[1]
    await shop.execute("INSERT INTO orders (phone, state, total, language, created_at, updated_at, discount, "
                       "promo_code) VALUES (?, 'new', 30000, 'id', ?, ?, 3000, 'PROMO1')", (phone, now, now))
    merged = await data.purchases()
    fresh = await load(data.db)
    as_set = lambda p: sorted(zip([p.phones[c] for c in p.cust.tolist()], p.day.tolist(), p.amount.tolist(),
                                  p.count.tolist(), p.promo.tolist()))
    assert as_set(merged) == as_set(fresh)
    assert "+6285700000001" in merged.phones


async def test_the_read_only_connection_sees_every_new_commit(shop):
    if shop.engine != "sqlite":
        pytest.skip("a read-only connection to the file is SQLite's; on PostgreSQL the worker reads the server")
    reader = ReadOnlyDatabase(shop.path)
    before = (await reader.fetchone("SELECT COUNT(*) FROM sales"))[0]  # fetchone: the statement must end
    await shop.execute("INSERT INTO sales (receipt, phone, sold_at, total, created_at) VALUES "
                       "('ro-1', NULL, '2026-11-23T10:00:00+00:00', 1000, '2026-11-23')")
    assert (await reader.fetchone("SELECT COUNT(*) FROM sales"))[0] == before + 1
    reader.close()
    assert (await reader.fetchone("SELECT COUNT(*) FROM sales"))[0] == before + 1  # reopens


async def test_sms_cost_counts_parts(shop):
    from smsd_crm.analytics import extract
    phone = "+6285700000009"
    for text in ("x" * 160, "y" * 161, "z" * 307):  # 1, 2 and 3 parts
        await shop.execute("INSERT INTO messages (direction, state, phone, address, text, created_at, updated_at) "
                           "VALUES ('out', 'sent', ?, ?, ?, '2026-11-20', '2026-11-20')", (phone, phone, text))
    await shop.execute("INSERT INTO sales (receipt, phone, sold_at, total, created_at) VALUES "
                       "('parts-1', ?, '2026-11-20T10:00:00+00:00', 1000, '2026-11-20')", (phone,))
    costs = {c.customer: c for c in await extract.customer_costs(shop, date(2026, 11, 1))}
    assert costs[phone].sms_parts == 6


async def test_reply_times_are_of_the_replies_sent_in_the_week(shop):
    from smsd_crm.analytics import extract
    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)

    async def exchange(got: datetime, sent: datetime, stored: datetime | None = None, state: str = "sent") -> None:
        phone = "+6285711122233"
        asked = await shop.fetchval(
            "INSERT INTO messages (direction, state, phone, address, text, created_at, updated_at) "
            "VALUES ('in', 'handled', ?, ?, 'INFO', ?, ?) RETURNING id", (phone, phone, got.isoformat(), got.isoformat()))
        await shop.execute(
            "INSERT INTO messages (direction, state, phone, address, text, in_reply_to, created_at, updated_at) "
            "VALUES ('out', ?, ?, ?, 'Info toko', ?, ?, ?)",
            (state, phone, phone, asked, (stored or got).isoformat(), sent.isoformat()))

    await exchange(now - timedelta(hours=1), now - timedelta(hours=1) + timedelta(seconds=3))
    await exchange(now - timedelta(days=3), now - timedelta(days=2))  # the modem was down a day
    await exchange(now - timedelta(days=10), now - timedelta(days=10, seconds=-5))  # sent before the week
    await exchange(now - timedelta(hours=2), now - timedelta(hours=2), state="failed")  # never sent
    # queued longer than REPLY_WAIT_DAYS before it went: the documented limit of the index's bound
    await exchange(now - timedelta(days=40), now - timedelta(days=1))
    assert sorted(await extract.reply_latency_seconds(shop, now - timedelta(days=7))) == [3.0, 86400.0]


async def test_vectorised_retention_equals_the_plain_function(shop):
    from smsd_crm.analytics.metrics import retention
    p = await _data(shop).purchases()
    days = p.days_by_phone(TODAY)
    for t0, t1 in ((date(2026, 5, 31), date(2026, 6, 30)), (date(2025, 12, 31), TODAY)):
        assert p.retention(t0, t1, 90) == retention(days, t0, t1, 90)


async def test_vectorised_after_complaint_retention_equals_the_plain_function(shop):
    import random

    from smsd_crm.analytics import extract
    from smsd_crm.analytics.metrics import post_complaint_retention
    p = await _data(shop).purchases()
    days = p.days_by_phone(TODAY)
    rng = random.Random(7)
    real = await extract.closures(shop, date(2025, 1, 1))
    for trial in range(30):  # the shop's own closures, then random ones (customers, strangers, recent)
        closures = real if trial == 0 else [
            (rng.choice(p.phones) if rng.random() < 0.9 else "+628999000111",
             TODAY - timedelta(days=rng.randrange(0, 500)), rng.uniform(0, 72)) for _ in range(rng.randrange(0, 40))]
        for window, sla in ((60, 24), (14, 4)):
            assert p.after_complaints(closures, TODAY, window, sla) == \
                post_complaint_retention(closures, days, TODAY, window, sla), (trial, window)


def test_distinct_values_equal_numpy_s():
    import numpy as np

    from smsd_crm.analytics.distinct import distinct, present, runs
    rng = np.random.default_rng(3)
    for size in (0, 1, 2, 50, 5000):
        values = rng.integers(-1000, 1000, size)
        assert np.array_equal(distinct(values), np.unique(values))
        assert runs(np.sort(values)) == len(np.unique(values))
        indexes = rng.integers(0, 300, size)
        assert np.array_equal(present(indexes, 300), np.unique(indexes))


async def test_a_chain_s_sales_add_up_and_each_store_can_be_chosen(shop):
    doc, hub = Document(), DocumentHub()
    data = _data(shop)
    refresh = sales_view.make(doc, data, hub)
    await refresh()
    choice = doc.get_model_by_name("store")
    assert not choice.visible  # one store: nothing to choose
    before = {b.key: b.revenue for b in (await data.drill()).by_year()}
    # A second store rings up two sales this year (a till's receipt of store b).
    await shop.executemany("INSERT INTO sales (receipt, phone, sold_at, total, discount, created_at, store_id) "
                           "VALUES (?, NULL, '2026-11-20T03:00:00+00:00', ?, 0, '2026-11-20', 'b')",
                           [("b-1", 15000), ("b-2", 5000)])
    for receipt, price in (("b-1", 15000), ("b-2", 5000)):
        await shop.execute("INSERT INTO sale_lines (sale_id, line, product_id, code, name, quantity, price, cost) "
                           "SELECT id, 1, NULL, 'X1', 'Lain-lain', 1, ?, 0 FROM sales WHERE receipt = ?",
                           (price, receipt))
    data.changed()
    await refresh()
    drill = await data.drill()
    assert drill.stores == ["b", "main"]
    assert choice.visible and [o[0] for o in choice.options] == ["", "b", "main"]
    totals = {b.key: b.revenue for b in drill.by_year()}
    assert totals["2026"] == before["2026"] + 20000  # every store's, added up
    assert {b.key: b.revenue for b in drill.by_year("main")} == before
    assert [(b.key, b.revenue, b.till_revenue) for b in drill.by_year("b")] == [("2026", 20000, 20000)]
    assert sum(b.revenue for b in drill.by_category("2026", "b")) == 20000
    choice.value = "b"  # the owner picks store b in the page
    await refresh()
    main = doc.get_model_by_name("main").data
    assert list(main["key"]) == ["2026"] and list(main["revenue"]) == [20000]
    assert doc.get_model_by_name("title").text.endswith("Toko b")
    from smsd_crm_dashboards.exports import ExportError, sales_csv
    export = await sales_csv(data, {"store": "b", "year": "2026"}, "Asia/Jakarta")
    assert export.filename == "sales-b-2026.csv" and ",20000," in export.text
    with pytest.raises(ExportError):
        await sales_csv(data, {"store": "<script>"}, "Asia/Jakarta")
