"""What keeps the stores of a chain apart on one PostgreSQL server, and an operator's database URL
honest: found by trying to break the chain (two stores left as ``main``, the same ids at both, the
same number registering at two stores at once, a URL written wrong)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from smsd_crm.config import parse_config
from smsd_crm.errors import ConfigError, StartupError
from smsd_crm.models import InboundMessage
from smsd_crm.storage import campaigns, customers, messages
from smsd_crm.storage.database_url import redacted, url_problem
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import core_schema

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)


def test_an_unset_database_url_stops_even_a_command_that_needs_no_secret(monkeypatch, tmp_path):
    # A staff command reads config without secrets; the database is not one it may go without: it
    # would quietly open a new, empty SQLite file instead of the shop's server.
    monkeypatch.delenv("SHOP_DB_URL", raising=False)
    monkeypatch.delenv("SHOP_SIM_PIN", raising=False)
    text = ("database:\n  url: {$env: SHOP_DB_URL}\n"
            "modems:\n  - {id: sim1, port: /dev/ttyUSB0, pin: {$env: SHOP_SIM_PIN}}\n")
    with pytest.raises(ConfigError, match="database.url.*SHOP_DB_URL"):
        parse_config(text, tmp_path / "config.yaml", secrets=False)
    monkeypatch.setenv("SHOP_DB_URL", "postgresql:///shop?host=/run/postgresql")
    settings = parse_config(text, tmp_path / "config.yaml", secrets=False)  # the PIN may stay unread
    assert settings.database.engine == "postgresql"


@pytest.mark.parametrize("url, shown", [
    ("postgresql://shop:s3cret@db.lan:5433/toko", "postgresql://shop:***@db.lan:5433/toko"),
    ("postgresql://shop@db.lan/toko?password=s3cret&sslmode=require",
     "postgresql://shop@db.lan/toko?password=***&sslmode=require"),
    ("postgresql:///toko?host=/run/postgresql", "postgresql:///toko?host=/run/postgresql"),
    ("postgresql://shop:s3cret@db.lan:54x2/toko", "postgresql://(not a valid URL)"),
    ("postgresql://shop@db.lan/toko?sslpassword=s3cret&sslmode=require",
     "postgresql://shop@db.lan/toko?sslpassword=***&sslmode=require"),
])
def test_a_url_is_shown_without_its_password(url, shown):
    assert redacted(url) == shown
    assert "s3cret" not in redacted(url)


@pytest.mark.parametrize("url, problem", [
    ("postgresql://shop:s3cret@db.lan:54x2/toko", "does not parse"),
    # a '#' in the password cuts the URL there: the parser's own message quoted the password
    ("postgresql://shop:s3cret#9@db.lan/toko", "does not parse"),
    ("mysql://shop@db.lan/toko", "PostgreSQL URL"),
    ("postgresql://shop@db.lan", "names no database"),
])
def test_a_wrong_url_is_one_line_naming_the_mistake_and_not_the_password(tmp_path, url, problem):
    with pytest.raises(ConfigError) as caught:
        parse_config(f"database:\n  url: '{url}'\n", tmp_path / "config.yaml")
    message = str(caught.value)
    assert problem in message and "\n" not in message and "s3cret" not in message
    assert url_problem("postgresql://shop@db.lan/toko") is None


@pytest.fixture
async def two_stores(postgres_server):
    """Store a and store b on one fresh database, migrated."""
    url = postgres_server.new_database()
    a = await Database.open(url, store="a")
    await migrate(a, core_schema())
    b = await Database.open(url, store="b")
    yield a, b
    await a.close()
    await b.close()


async def test_the_same_number_registering_at_two_stores_at_once_is_one_customer(two_stores):
    a, b = two_stores
    phones = [f"+62812000{i:05d}" for i in range(20)]
    results = await asyncio.gather(*(customers.upsert(db, p, NOW, name=f"{db.store} {p[-2:]}")
                                     for p in phones for db in (a, b)))
    created = {}
    for customer, was_created in results:
        created.setdefault(customer.phone, []).append(was_created)
    assert all(sorted(v) == [False, True] for v in created.values()), created
    assert await a.fetchval("SELECT COUNT(*) FROM customers") == len(phones)


async def test_a_store_sees_only_its_own_campaigns_and_window(two_stores):
    a, b = two_stores
    promo = await campaigns.create(a, name="promo a", text={"id": "Promo A"}, audience={}, now=NOW)
    assert (await campaigns.get(a, promo)).name == "promo a"
    assert await campaigns.get(b, promo) is None  # ids are the chain's; the campaign is A's
    assert await campaigns.start(b, promo, ["+6281200000001"], NOW) == 0
    assert await campaigns.start(a, promo, ["+6281200000001"], NOW) == 1
    assert not await campaigns.pause(b, promo, NOW) and not await campaigns.cancel(b, promo, NOW)
    assert (await campaigns.get(a, promo)).state == "running"
    await a.execute("INSERT INTO messages (direction, state, phone, address, text, campaign_id, modem_id, created_at, "
                    "updated_at, store_id) VALUES ('out', 'queued', '+6281200000001', '+6281200000001', 'Promo A', ?, 'sim1', ?, ?, "
                    "'a')", (promo, NOW.isoformat(), NOW.isoformat()))
    await a.execute("UPDATE messages SET state = 'sent' WHERE campaign_id = ?", (promo,))
    await a.execute("INSERT INTO messages (direction, state, phone, address, text, campaign_id, modem_id, created_at, "
                    "updated_at, store_id) VALUES ('out', 'queued', '+6281200000002', '+6281200000002', 'Promo A', ?, 'sim1', ?, ?, "
                    "'a')", (promo, NOW.isoformat(), NOW.isoformat()))
    # B's window and B's sim1's daily allowance are not used up by A's promotion.
    assert await campaigns.in_flight(a) == 1 and await campaigns.in_flight(b) == 0
    assert await campaigns.sent_by_modem_since(a, "sim1", NOW) == 1
    assert await campaigns.sent_by_modem_since(b, "sim1", NOW) == 0
    # Quiet hours at B leave A's queued promotion alone.
    assert await campaigns.withdraw_all(b, NOW, "quiet hours") == 0
    assert await a.fetchval("SELECT COUNT(*) FROM messages WHERE state = 'queued'") == 1


async def test_the_same_text_at_the_same_second_to_both_stores_is_two_messages(two_stores):
    # Both stores have a `sim1`, and an emulated or cloned SIM id may be the same at both.
    a, b = two_stores
    sms = InboundMessage(modem_id="sim1", sender="+6281200000009", text="POIN", smsc_time=NOW, sim_id="510100001")
    first = await messages.insert_inbound(a, sms, "+6281200000009", NOW)
    second = await messages.insert_inbound(b, sms, "+6281200000009", NOW)
    assert first and second and first != second
    assert await messages.insert_inbound(a, sms, "+6281200000009", NOW) is None  # read twice at A: once
    assert messages.dedupe_key(sms) == messages.dedupe_key(sms, "main")  # a lone shop's keys as before
    assert await messages.get_inbound(b, first) is None


async def test_a_second_daemon_for_the_same_store_is_refused(postgres_server):
    url = postgres_server.new_database()
    first, twin, other = [await Database.open(url, store=s) for s in ("main", "main", "b")]
    try:
        await first.claim_store()
        with pytest.raises(StartupError, match="already runs store 'main'.*store.id"):
            await twin.claim_store()
        await other.claim_store()  # another store's daemon is welcome
        await first.close()
        await twin.claim_store()  # and the store is free again once its daemon stopped
    finally:
        for db in (twin, other):
            await db.close()


async def _cut_claims(db: Database) -> list[int]:
    """End the server sessions holding advisory locks (a lost link, as a server restart does); their pids."""
    pids = [r[0] for r in await db.fetchall("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")]
    for pid in pids:
        await db.fetchval("SELECT pg_terminate_backend(?)", (pid,))
    return pids


async def test_a_claim_lost_with_its_link_is_taken_again_unless_another_daemon_took_it(postgres_server):
    url = postgres_server.new_database()
    first, twin = [await Database.open(url, store=s) for s in ("main", "main")]
    held = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
    try:
        await first.claim_store()
        keeper = asyncio.create_task(first.keep_store_claim(interval=0.05))
        [before] = await _cut_claims(twin)
        await _until_async(lambda: twin.fetchall(held), lambda rows: len(rows) == 1 and rows[0][0] != before)
        with pytest.raises(StartupError):  # taken again: the twin is refused as at start
            await twin.claim_store()
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        # lost again, and this time a second daemon of the store started in the gap: the first gives way
        await _cut_claims(twin)
        await twin.claim_store()
        with pytest.raises(StartupError, match="already runs store 'main'"):
            await asyncio.wait_for(first.keep_store_claim(interval=0.05), 60)
    finally:
        for db in (first, twin):
            await db.close()


async def _until_async(read, ok, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not ok(await read()):
            await asyncio.sleep(0.05)


async def test_a_second_daemon_on_the_same_sqlite_file_is_refused(tmp_path: Path):
    db = await Database.open(tmp_path / "shop.sqlite3")
    twin = await Database.open(tmp_path / "shop.sqlite3")
    try:
        await db.claim_store()
        await db.claim_store()  # its own claim again: nothing
        with pytest.raises(StartupError, match="is running on"):
            await twin.claim_store()
        await db.close()
        await twin.claim_store()  # free once the first closed
    finally:
        await twin.close()


@pytest.mark.parametrize("lang, shown", [("id", "hanya pelanggan toko ini (b)"), ("en", "only this store's customers (b)")])
async def test_the_campaign_form_offers_this_store_or_the_chain_on_postgresql(tmp_path, postgres_server, lang, shown):
    from smsd_crm.campaigns.service import CampaignService
    from smsd_crm.daemon import offline_session
    from smsd_crm.storage import users
    from smsd_crm.web.app import WebContext, start_web
    from smsd_crm.web.passwords import hash_password

    from .test_web_auth import Clock, client, csrf_of, log_in

    url = postgres_server.new_database()
    settings = parse_config(f"store: {{id: b}}\ndatabase: {{url: '{url}'}}\nweb: {{port: 0}}\n", tmp_path / "c.yaml")
    clock = Clock()
    async with offline_session(settings, clock, third_party=False) as (host, db):
        await users.add_user(db, "pemilik", hash_password("mawar-sore-48"), "owner", clock())
        service = CampaignService(db, settings, clock, host)
        runner = await start_web(WebContext(db, settings.web, settings.store, clock, host, settings=settings,
                                            campaigns=service))
        base = "http://%s:%d" % runner.addresses[0][:2]
        try:
            async with client() as s:
                await log_in(s, base, "pemilik")
                if lang == "en":
                    await s.get(f"{base}/lang/en")
                page = await (await s.get(f"{base}/campaigns")).text()
                assert shown in page.replace("&#39;", "'")
                form = {"csrf": csrf_of(page), "name": "Toko B saja", "text": "Promo {nama}", "kind": "all",
                        "reach": "store"}
                made = await s.post(f"{base}/campaigns", data=form, allow_redirects=False)
                assert made.status == 302
                bad = await s.post(f"{base}/campaigns", data=form | {"reach": "elsewhere"}, allow_redirects=False)
                assert bad.status == 400
                listing = await (await s.get(f"{base}/campaigns")).text()
        finally:
            await runner.cleanup()
        stored = await db.fetchall("SELECT name, audience FROM campaigns")
    assert [(r[0], json.loads(r[1])) for r in stored] == [("Toko B saja", {"kind": "all", "value": None, "store": "b"})]
    assert ("pelanggan toko b" if lang == "id" else "customers of store b") in listing


async def test_the_campaign_form_of_a_lone_sqlite_shop_has_no_reach_choice(tmp_path):
    from smsd_crm.campaigns.service import CampaignService
    from smsd_crm.daemon import offline_session
    from smsd_crm.i18n import Speaker
    from smsd_crm.storage import users
    from smsd_crm.web.app import WebContext, start_web
    from smsd_crm.web.campaign_pages import describe
    from smsd_crm.web.passwords import hash_password

    from .test_web_auth import Clock, client, log_in

    settings = parse_config("web: {port: 0}\n", tmp_path / "c.yaml")
    clock = Clock()
    async with offline_session(settings, clock, third_party=False) as (host, db):
        await users.add_user(db, "pemilik", hash_password("mawar-sore-48"), "owner", clock())
        runner = await start_web(WebContext(db, settings.web, settings.store, clock, host, settings=settings,
                                            campaigns=CampaignService(db, settings, clock, host)))
        base = "http://%s:%d" % runner.addresses[0][:2]
        try:
            async with client() as s:
                await log_in(s, base, "pemilik")
                page = await (await s.get(f"{base}/campaigns")).text()
        finally:
            await runner.cleanup()
    assert 'name="kind"' in page and 'name="reach"' not in page
    assert describe({"kind": "all", "value": None}, Speaker("id")) == "semua pelanggan"
    assert describe({"kind": "class", "value": "regular", "store": "b"}, Speaker("en")).endswith(
        "· customers of store b")


async def test_each_store_counts_its_own_stock_and_the_catalogue_is_the_chain_s(two_stores, postgres_server):
    from smsd_crm.csv_io.catalog import ProductRow
    from smsd_crm.storage import catalog

    a, b = two_stores
    main = await Database.open(a.url, store="main")  # a chain may keep a store called main: products.stock
    try:
        def row(stock, price=78000):
            return ProductRow(2, "B01", "Beras 5kg", (), "Sembako", "karung", price, 70000, stock, True)

        assert await catalog.import_rows(main, [row(10)], NOW) == (1, 0)
        assert await catalog.import_rows(b, [row(4, price=79000)], NOW) == (0, 1)  # B's count, the chain's price

        async def stock(db):
            return {p.code: (p.stock, p.price) for p in await catalog.all_products(db)}["B01"]

        assert await stock(main) == (10, 79000) and await stock(b) == (4, 79000)
        assert await stock(a) == (None, 79000)  # A has not counted it: not counted, never "sold out"
        product_id = await main.fetchval("SELECT id FROM products WHERE code = 'B01'")
        assert not await catalog.take_stock(b, product_id, 5, NOW)  # B has 4, though main has 10
        assert await catalog.take_stock(b, product_id, 3, NOW)
        assert await catalog.take_stock(a, product_id, 50, NOW)  # not counted at A
        assert await stock(b) == (1, 79000) and await stock(main) == (10, 79000)
        await catalog.return_stock(b, product_id, 2, NOW)
        assert (await catalog.set_stock(a, "b01", 7, NOW)).stock == 7
        assert await stock(a) == (7, 79000) and await stock(b) == (3, 79000) and await stock(main) == (10, 79000)
        assert await catalog.set_stock(b, "X99", 1, NOW) is None
        assert (await catalog.set_stock(main, "B01", 12, NOW)).stock == 12
        assert await stock(b) == (3, 79000)
    finally:
        await main.close()


async def test_a_receipt_number_another_store_imported_is_refused_not_dropped(two_stores):
    from smsd_crm.csv_io.catalog import parse_products
    from smsd_crm.csv_io.sales import Sale, SaleLine
    from smsd_crm.errors import StorageConflict
    from smsd_crm.storage import catalog, sales

    a, b = two_stores
    rows, _ = parse_products("code,name,aliases,category,unit,price,cost,stock,active\n"
                             "G01,Gula Pasir 1kg,gula,Sembako,kg,18000,16000,,1\n")
    await catalog.import_rows(a, rows, NOW)
    [gula] = await catalog.all_products(a)

    def sale(receipt: str, quantity: int) -> Sale:
        return Sale(receipt, NOW, None, 2, [SaleLine(gula, quantity, 18000)])

    assert len(await sales.import_sales(a, [sale("R-1", 1)], NOW)) == 1
    with pytest.raises(StorageConflict, match=r"R-1 \(store 'a'\).*own numbers \(a prefix such as B-\)"):
        await sales.import_sales(b, [sale("R-2", 3), sale("R-1", 5)], NOW)
    assert await b.fetchval("SELECT COUNT(*) FROM sales WHERE store_id = 'b'") == 0  # nothing half done
    assert await sales.import_sales(a, [sale("R-1", 1)], NOW) == []  # the same store again: skipped
    assert len(await sales.import_sales(b, [sale("B-R-1", 5)], NOW)) == 1
