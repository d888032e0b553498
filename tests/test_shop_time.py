"""The one time rule (issue 14): instants stored in UTC; days, months and years counted, and every time
shown, in the shop's zone. SMS orders and till sales at 23:30 and 06:30 WIB around a New Year, on a
real SQLite file: the SQL and the array paths give the totals a local-time computation gives; the
orders and messages pages (real aiohttp server on 127.0.0.1) and ``order list`` (the CLI, as a
subprocess) show shop time."""

from __future__ import annotations

import sqlite3
import subprocess
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest
from smsd_crm_dashboards.readonly import ReadOnlyDatabase

from smsd_crm.analytics import extract, purchases
from smsd_crm.analytics import lines as line_arrays
from smsd_crm.analytics import sales as drill_sales
from smsd_crm.config import parse_config
from smsd_crm.csv_io.catalog import parse_products
from smsd_crm.csv_io.sales import parse_sales
from smsd_crm.daemon import offline_session
from smsd_crm.shop_time import ShopTime
from smsd_crm.storage import catalog, sales, users
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import CORE_MIGRATIONS, core_schema
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.passwords import hash_password

from .conftest import SMSD_CRM, write_config
from .test_web_auth import client, log_in

WIB = timezone(timedelta(hours=7))
PHONE = "+6281234567890"
# (local time in WIB, channel, amount): both sides of two midnights and of the New Year
EVENTS = [
    (datetime(2024, 12, 31, 6, 30, tzinfo=WIB), "sms", 11_000),
    (datetime(2024, 12, 31, 23, 30, tzinfo=WIB), "sms", 13_000),
    (datetime(2024, 12, 31, 23, 30, tzinfo=WIB), "till", 17_000),
    (datetime(2025, 1, 1, 6, 30, tzinfo=WIB), "sms", 19_000),
    (datetime(2025, 1, 1, 6, 30, tzinfo=WIB), "till", 23_000),
    (datetime(2025, 1, 1, 23, 30, tzinfo=WIB), "till", 29_000),
    (datetime(2025, 1, 2, 6, 30, tzinfo=WIB), "sms", 31_000),
]


def expected(key) -> dict[str, int]:
    """Totals grouped by the shop's local calendar, computed here without the code under test."""
    out: dict[str, int] = defaultdict(int)
    for at, _, amount in EVENTS:
        out[key(at.astimezone(WIB).date())] += amount
    return dict(out)


async def _fill(db, products) -> None:
    """SMS orders as the order plugin stores them (UTC), till sales through the import (the CSV's
    local times read in store.timezone)."""
    for n, (at, channel, amount) in enumerate(EVENTS):
        if channel == "sms":
            stamp = at.astimezone(timezone.utc).isoformat()
            order = await db.fetchval("INSERT INTO orders (phone, state, total, language, created_at, updated_at) "
                                     "VALUES (?, 'done', ?, 'id', ?, ?) RETURNING id", (PHONE, amount, stamp, stamp))
            await db.execute("INSERT INTO order_lines VALUES (?, 1, ?, 'X01', 'Barang Uji', 1, ?, 0)",
                             (order, products["X01"].id, amount))
    csv = "receipt,date,phone,code,quantity,price\n" + "".join(
        f"R{n},{at:%Y-%m-%d %H:%M},{PHONE},X01,1,{amount}\n" for n, (at, channel, amount) in enumerate(EVENTS)
        if channel == "till")
    parsed, errors = parse_sales(csv, products, ShopTime("Asia/Jakarta").zone)
    assert not errors
    await sales.import_sales(db, parsed, datetime.now(timezone.utc))


@pytest.fixture
async def shop(tmp_path):
    settings = parse_config("web: {port: 0}\nstore: {timezone: Asia/Jakarta}\n", tmp_path / "c.yaml")
    async with offline_session(settings, third_party=False) as (host, db):
        rows, errors = parse_products("code,name,aliases,category,unit,price,cost,stock,active\n"
                                      "X01,Barang Uji,,Uji,pcs,1000,0,,1\n")
        assert not errors
        await catalog.import_rows(db, rows, datetime.now(timezone.utc))
        products = {p.code: p for p in await catalog.all_products(db)}
        await _fill(db, products)
        yield settings, host, db


async def test_till_sales_are_stored_as_utc_instants(shop):
    _, _, db = shop
    rows = [r[0] for r in await db.fetchall("SELECT sold_at FROM sales ORDER BY receipt")]
    assert rows == ["2024-12-31T16:30:00+00:00", "2024-12-31T23:30:00+00:00", "2025-01-01T16:30:00+00:00"]


async def test_years_months_and_days_are_the_shops_in_sql_and_in_the_arrays(shop):
    settings, _, db = shop
    years = expected(lambda d: str(d.year))
    months = expected(lambda d: d.isoformat()[:7])
    days = expected(lambda d: d)
    assert years == {"2024": 41_000, "2025": 102_000}  # the 06:30 WIB New Year's orders count for 2025

    # SQL paths
    assert {b.key: b.revenue for b in await drill_sales.by_year(db)} == years
    for year in ("2024", "2025"):
        assert {b.key: b.revenue for b in await drill_sales.by_month(db, year)} == \
            {k: v for k, v in months.items() if k.startswith(year)}
        assert sum(b.revenue for b in await drill_sales.by_category(db, year)) == years[year]
    per_day = {d: a for _, d, a in await extract.transactions(db, date(2025, 12, 31))}
    assert per_day == days
    activity = await extract.activity(db, date(2025, 1, 1), window_days=2)
    assert [(a.customer, a.last_purchase, a.occasions) for a in activity] == [(PHONE, date(2025, 1, 1), 2)]

    # array paths (what the dashboards draw): the same numbers
    reader = ReadOnlyDatabase(db.path, settings.store.time)
    try:
        arrays = await line_arrays.load(str(db.path), settings.store.time)
        drill = drill_sales.Drill(arrays, {r[0]: r[1] for r in await db.fetchall("SELECT id, category FROM products")})
        assert {b.key: b.revenue for b in drill.by_year()} == years
        for year in ("2024", "2025"):
            assert {b.key: b.revenue for b in drill.by_month(year)} == {k: v for k, v in months.items()
                                                                         if k.startswith(year)}
        bought = await purchases.load(reader)
        epoch = date(1970, 1, 1)
        assert {epoch + timedelta(days=int(d)): float(a) for d, a in zip(bought.day, bought.amount)} == days
    finally:
        reader.close()


async def test_another_zone_moves_the_days(tmp_path):
    """WIT (UTC+9): 23:30 WIB on 31 December is already 01:30 on 1 January in Jayapura."""
    db = await Database.open(tmp_path / "wit.sqlite3", ShopTime("Asia/Jayapura"))
    try:
        await migrate(db, core_schema())
        await db.execute("INSERT INTO sales (receipt, phone, sold_at, total, created_at) VALUES "
                         "('R1', NULL, '2024-12-31T16:30:00+00:00', 5, '2025-01-01T00:00:00+00:00')")
        assert (await db.fetchone("SELECT date(sold_at, shop_offset()) FROM sales"))[0] == "2025-01-01"
    finally:
        await db.close()


async def test_old_till_sales_in_local_time_are_converted_to_utc(tmp_path):
    db = await Database.open(tmp_path / "old.sqlite3")
    try:
        await migrate(db, [("core", m) for m in CORE_MIGRATIONS if m.name != "m016_sales_in_utc"])
        await db.execute("INSERT INTO sales (receipt, phone, sold_at, total, created_at) VALUES "
                         "('R1', NULL, '2025-01-01T06:30:00+07:00', 5, '2025-01-01T00:00:00+00:00'), "
                         "('R2', NULL, '2025-01-01T06:30:00+00:00', 5, '2025-01-01T00:00:00+00:00')")
        await migrate(db, core_schema())
        assert [r[0] for r in await db.fetchall("SELECT sold_at FROM sales ORDER BY receipt")] == [
            "2024-12-31T23:30:00+00:00", "2025-01-01T06:30:00+00:00"]
    finally:
        await db.close()


def test_one_format_per_language():
    shop = ShopTime("Asia/Jakarta")
    assert shop.format("2025-01-01T02:50:00+00:00") == "1 Jan 2025 09.50"
    assert shop.format("2025-01-01T02:50:00+00:00", "en") == "1 Jan 2025 09:50"
    assert shop.format("2025-08-17T00:00:05+00:00", zone=True, seconds=True) == "17 Agu 2025 07.00.05 WIB"
    assert shop.format_day("2024-12-31T17:00:00+00:00", "en") == "1 Jan 2025"
    assert shop.csv_stamp("2024-12-31T23:30:00+00:00") == "2025-01-01T06:30+07:00"
    with pytest.raises(ValueError, match="daylight saving"):
        ShopTime("Europe/Berlin")


async def test_orders_and_messages_pages_show_shop_time(shop):
    settings, host, db = shop
    morning = "2025-01-01T02:50:00+00:00"  # 09.50 WIB
    await db.execute("INSERT INTO orders (phone, state, total, language, created_at, updated_at) "
                     "VALUES (?, 'new', 5000, 'id', ?, ?)", (PHONE, morning, morning))
    await db.execute("INSERT INTO messages (direction, state, phone, address, text, created_at, updated_at) "
                     "VALUES ('in', 'handled', ?, ?, 'PESAN gula 1', ?, ?)", (PHONE, PHONE, morning, morning))
    await users.add_user(db, "pemilik", hash_password("mawar-sore-48"), "owner", datetime.fromisoformat(morning))
    runner = await start_web(WebContext(db, settings.web, settings.store, lambda: datetime.now(timezone.utc), host,
                                        settings=settings))
    base = "http://%s:%d" % runner.addresses[0][:2]
    assert base.startswith("http://127.0.0.1:")
    try:
        async with client() as session:
            await log_in(session, base, "pemilik")
            for path in ("/orders", "/messages", "/admin/users"):
                page = await (await session.get(base + path)).text()
                assert "1 Jan 2025 09.50" in page, path
                assert "02:50" not in page and "2025-01-01T" not in page, path
            await session.get(f"{base}/lang/en?next=/messages")
            assert "1 Jan 2025 09:50" in await (await session.get(base + "/messages")).text()
    finally:
        await runner.cleanup()


def test_order_list_on_the_command_line_shows_shop_time(tmp_path):
    config = write_config(tmp_path, "/dev/null")
    assert subprocess.run([SMSD_CRM, "migrate", "-c", str(config)], capture_output=True, timeout=60).returncode == 0
    with sqlite3.connect(tmp_path / "data" / "test.sqlite3") as conn:
        conn.execute("INSERT INTO orders (phone, state, total, language, created_at, updated_at) "
                     "VALUES (?, 'new', 5000, 'id', '2025-01-01T02:50:00+00:00', '2025-01-01T02:50:00+00:00')",
                     (PHONE,))
    conn.close()
    result = subprocess.run([SMSD_CRM, "order", "list", "-c", str(config)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "1 Jan 2025 09.50" in result.stdout and "02:50" not in result.stdout
