"""Customers, messages, modems, plugins pages and the live refresh, against a real aiohttp server on
loopback with the built-in plugins on a real SQLite file."""

from __future__ import annotations

import asyncio

import pytest

from smsd_crm.config import parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.storage import customers, daemon_status, messages, users
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.live import LiveFeed
from smsd_crm.web.passwords import hash_password

from .conftest import wait_until
from .test_web_auth import Clock, client, csrf_of, log_in

HOSTILE_NAME = '<script>alert(1)</script>'
HOSTILE_TEXT = '"><img src=x onerror=alert(1)>'
ESCAPED_NAME = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_TEXT = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture
async def shop(tmp_path):
    """(base url, db, live feed) with an owner, a staff member, and a customer with a hostile name."""
    settings = parse_config("web: {port: 0}\n", tmp_path / "c.yaml")
    clock = Clock()
    async with offline_session(settings, clock, third_party=False) as (host, db):
        await users.add_user(db, "pemilik", hash_password("mawar-sore-48"), "owner", clock())
        await users.add_user(db, "kasir", hash_password("mawar-sore-48"), "staff", clock())
        customer, _ = await customers.upsert(db, "+6281234567890", clock(), name=HOSTILE_NAME, address=HOSTILE_TEXT)
        inbound = await db.fetchval(
            "INSERT INTO messages (direction, state, phone, address, customer_id, text, created_at, updated_at) "
            "VALUES ('in', 'handled', ?, ?, ?, ?, ?, ?) RETURNING id",
            (customer.phone, customer.phone, customer.id, f"KOMPLAIN {HOSTILE_TEXT}", clock().isoformat(),
             clock().isoformat()))
        ticket = await db.fetchval("INSERT INTO complaints (phone, state, language, opened_at) VALUES (?, 'open', 'id', ?) RETURNING id",
                                  (customer.phone, clock().isoformat()))
        await db.execute("INSERT INTO complaint_notes (complaint_id, at, author, text, message_id) "
                         "VALUES (?, ?, 'customer', ?, ?)", (ticket, clock().isoformat(), HOSTILE_TEXT, inbound))
        await db.execute("INSERT INTO orders (phone, state, total, language, created_at, updated_at) "
                         "VALUES (?, 'new', 26000, 'id', ?, ?)", (customer.phone, clock().isoformat(), clock().isoformat()))
        await db.execute("INSERT INTO order_lines VALUES (1, 1, 1, 'GLA1', ?, 2, 13000, 12000)", (HOSTILE_TEXT,))
        await messages.queue_outbound(db, customer.phone, f"Halo {HOSTILE_NAME}", clock())
        await db.execute("INSERT INTO modem_status (modem_id, port, state, signal, registration, operator, "
                         "storage_used, storage_total, last_error, updated_at) VALUES "
                         "('sim1', '/dev/ttyUSB0', 'ready', 20, 1, ?, 3, 30, NULL, ?)",
                         (HOSTILE_TEXT, clock().isoformat()))
        live = LiveFeed()
        host.observers.append(live.observe)
        runner = await start_web(WebContext(db, settings.web, settings.store, clock, host, live=live,
                                            settings=settings))
        base = "http://%s:%d" % runner.addresses[0][:2]
        try:
            yield base, db, live, customer
        finally:
            await runner.cleanup()


PAGES = ["/", "/customers", "/customers?q=alert", "/customers/1", "/messages", "/messages?box=out",
         "/messages/conversation?phone=081234567890", "/orders", "/complaints", "/account"]
OWNER_PAGES = ["/admin/modems", "/admin/plugins", "/admin/users", "/api"]


async def test_hostile_sms_text_is_inert_text_on_every_page(shop):
    base, *_ = shop
    async with client() as s:
        await log_in(s, base, "pemilik")
        for path in PAGES + OWNER_PAGES:
            r = await s.get(base + path)
            page = await r.text()
            assert r.status == 200, path
            assert "<script>alert" not in page and "<img src=x" not in page, path
        for path in ("/customers/1", "/messages/conversation?phone=%2B6281234567890", "/complaints"):
            page = await (await s.get(base + path)).text()
            assert ESCAPED_TEXT in page, path
        for path in ("/customers", "/customers/1", "/orders"):
            assert ESCAPED_NAME in await (await s.get(base + path)).text(), path


async def test_staff_see_staff_pages_and_not_owner_pages(shop):
    base, *_ = shop
    async with client() as s:
        await log_in(s, base, "kasir")
        for path in PAGES:
            assert (await s.get(base + path)).status == 200, path
        for path in OWNER_PAGES:
            assert (await s.get(base + path)).status == 403, path
        home = await (await s.get(base + "/")).text()
        assert 'href="/customers"' in home and 'href="/admin/modems"' not in home
        assert 'href="/simulator"' not in home  # no emulated modem here
        assert (await s.get(base + "/simulator")).status == 404


async def test_customer_search_profile_and_edit(shop):
    base, db, _, customer = shop
    await customers.upsert(db, "+6285600001111", Clock()(), name="Budi Santoso")
    async with client() as s:
        await log_in(s, base, "kasir")
        for q in ("budi", "0856", "62856", "+62 856-0000"):
            page = await (await s.get(f"{base}/customers", params={"q": q})).text()
            assert "Budi Santoso" in page and ESCAPED_NAME not in page, q
        page = await (await s.get(f"{base}/customers", params={"q": "%_"})).text()
        assert "Budi Santoso" not in page  # LIKE wildcards are literal
        profile = await (await s.get(f"{base}/customers/{customer.id}")).text()
        for section in ('data-plugin="order"', 'data-plugin="complaint"', 'data-plugin="points"'):
            assert section in profile
        assert "#1" in profile and "Rp26.000" in profile and "K1" in profile
        bad = await s.post(f"{base}/customers/{customer.id}", data={
            "csrf": csrf_of(profile), "name": "Siti", "birthday": "31-02-1990", "language": "xx"})
        assert bad.status == 400
        text = await bad.text()
        assert "Tanggal lahir: tanggal seperti 1990-08-17" in text and "Bahasa: id atau en" in text  # the page's language
        assert (await customers.get_by_id(db, customer.id)).name == HOSTILE_NAME  # nothing saved
        ok = await s.post(f"{base}/customers/{customer.id}", data={
            "csrf": csrf_of(profile), "name": "  Siti   Aminah ", "address": "Jl. Mawar 5", "birthday": "1990-08-17",
            "language": "en"})
        assert ok.status == 200 and "Tersimpan" in await ok.text()
        saved = await customers.get_by_id(db, customer.id)
        assert (saved.name, saved.address, saved.birthday, saved.language) == \
            ("Siti Aminah", "Jl. Mawar 5", "1990-08-17", "en")
        # unticking "may receive promotions" records an opt-out by this staff member
        row = await db.fetchone("SELECT promotions, source FROM consent_events ORDER BY id DESC LIMIT 1")
        assert tuple(row) == (0, "staff:kasir")
        assert (await s.get(f"{base}/customers/999")).status == 404
        assert (await s.get(f"{base}/customers/abc")).status == 404


async def test_compose_retry_and_cancel(shop):
    base, db, live, customer = shop
    async with client() as s:
        await log_in(s, base, "kasir")
        page = await (await s.get(f"{base}/messages?box=out")).text()
        token = csrf_of(page)
        before = live.version("messages")
        r = await s.post(f"{base}/messages/send", data={"csrf": token, "phone": "0812-3456-7890",
                                                        "text": "Pesanan Anda siap 🙂"})
        assert r.status == 200 and "Pesanan Anda siap 🙂" in await r.text()
        sent = await db.fetchone("SELECT id, phone, state, plugin, priority FROM messages ORDER BY id DESC LIMIT 1")
        assert tuple(sent)[1:] == ("+6281234567890", "queued", "staff:kasir", 5)
        assert live.version("messages") > before
        for data, error in (({"phone": "TELKOMSEL", "text": "x"}, "Nomor tidak valid"),
                            ({"phone": "0812", "text": "x"}, "Nomor tidak valid"),
                            ({"phone": "081234567890", "text": "   "}, "Pesan kosong"),
                            ({"phone": "081234567890", "text": "x" * 1531}, "terlalu panjang")):
            r = await s.post(f"{base}/messages/send", data={"csrf": token, **data})
            assert r.status == 400 and error in await r.text(), data
        # cancel a queued message, then retry it; a sent one can be neither
        r = await s.post(f"{base}/messages/{sent['id']}/cancel", data={"csrf": token, "next": "/messages?box=out"})
        assert r.status == 200 and (await db.fetchone("SELECT state FROM messages WHERE id = ?", (sent["id"],)))[0] == "cancelled"
        r = await s.post(f"{base}/messages/{sent['id']}/retry", data={"csrf": token, "next": "//evil.example/"})
        assert r.status == 200 and str(r.url).startswith(base)  # no open redirect
        assert (await db.fetchone("SELECT state FROM messages WHERE id = ?", (sent["id"],)))[0] == "queued"
        await db.execute("UPDATE messages SET state = 'sent' WHERE id = ?", (sent["id"],))
        for action in ("retry", "cancel"):
            assert (await s.post(f"{base}/messages/{sent['id']}/{action}", data={"csrf": token})).status == 409
        assert (await s.post(f"{base}/messages/{sent['id']}/cancel", data={})).status == 403  # CSRF


async def test_owner_pages_show_modems_and_plugins_with_secrets_hidden(tmp_path):
    settings = parse_config("web: {port: 0}\nplugins:\n  info:\n    hours: '07-21'\n", tmp_path / "c.yaml")
    async with offline_session(settings, Clock(), third_party=False) as (host, db):
        host.plugins[0].config = host.plugins[0].config.model_copy(update={"replies": {"id": {"x": "y"}}})
        await users.add_user(db, "pemilik", hash_password("mawar-sore-48"), "owner", Clock()())
        from smsd_crm.web.admin_pages import redact
        assert redact({"pin": "1234", "api_key": "k", "keywords": {"a": 1}, "nested": [{"token": "t"}],
                       "secret": "**********"}) == \
            {"pin": "********", "api_key": "********", "keywords": {"a": 1}, "nested": [{"token": "********"}],
             "secret": "********"}
        await db.execute("INSERT INTO modem_status (modem_id, port, state, signal, registration, operator, imsi, "
                         "storage_used, storage_total, sent, received, updated_at) VALUES "
                         "('sim1', '/dev/ttyUSB0', 'ready', 20, 1, 'TELKOMSEL', '510101234567890', 3, 30, 7, 9, ?)",
                         (Clock()().isoformat(),))
        await messages.queue_outbound(db, "+6281234567890", "halo", Clock()(), modem_id="sim1")
        runner = await start_web(WebContext(db, settings.web, settings.store, Clock(), host, settings=settings))
        base = "http://%s:%d" % runner.addresses[0][:2]
        try:
            async with client() as s:
                await log_in(s, base, "pemilik")
                page = await (await s.get(f"{base}/admin/modems")).text()
                for text in ("sim1", "20/31 (-73 dBm)", "jaringan sendiri", "TELKOMSEL", "510101234567890", "3/30"):
                    assert text in page, text  # states in the page's language (Indonesian by default)
                assert "1 antre" in page
                page = await (await s.get(f"{base}/admin/plugins")).text()
                for text in ('id="plugin-order"', "PESAN", "BELI", "handle_message", "07-21"):
                    assert text in page, text
        finally:
            await runner.cleanup()


async def test_modems_page_shows_the_event_loop_lag(shop):
    base, db, *_ = shop
    async with client() as s:
        await log_in(s, base, "pemilik")
        assert 'id="loop-lag"' not in await (await s.get(f"{base}/admin/modems")).text()  # no daemon has run
        await daemon_status.write(db, 12.4, 2.6, 600, Clock()())
        page = await (await s.get(f"{base}/admin/modems")).text()
        assert "Jeda terlama program (1 menit terakhir): maks 12 ms; 99% di bawah 3 ms</p>" in page
        await daemon_status.write(db, 1312.0, 2.6, 600, Clock()())
        await s.get(f"{base}/lang/en", params={"next": "/"})
        page = await (await s.get(f"{base}/admin/modems")).text()
        assert ('<p id="loop-lag" class="warning">Event loop lag (last minute): max 1,312 ms, p99 3 ms. Over 50 ms: '
                "something blocks the daemon&#39;s event loop, and SMS replies wait that long.</p>") in page


async def test_language_switch_changes_every_label(shop):
    base, *_ = shop
    async with client() as s:
        await log_in(s, base, "kasir")
        assert "Pelanggan" in await (await s.get(f"{base}/customers")).text()
        r = await s.get(f"{base}/lang/en", params={"next": "/customers"})
        page = await r.text()
        assert str(r.url).endswith("/customers") and "Customers" in page and "Pelanggan" not in page
        assert 'lang="en"' in page
        orders = await (await s.get(f"{base}/orders")).text()
        assert ">Ready<" in orders or "Ready</button>" in orders
        assert (await s.get(f"{base}/lang/fr")).status == 404
        r = await s.get(f"{base}/lang/id", params={"next": "https://evil.example/"})
        assert str(r.url).startswith(base)


async def test_times_are_shop_time_in_the_page_s_language(shop):
    """One when(): every stored UTC instant (09.00 UTC here) is shown in shop time (16.00 WIB) and
    written the page language's way (Indonesian 16.00, English 16:00), on core and plugin pages."""
    base, *_ = shop
    async with client() as s:
        await log_in(s, base, "pemilik")
        for lang, at, clock in (("id", "23 Nov 2026 16.00", "16.00"), ("en", "23 Nov 2026 16:00", "16:00")):
            await s.get(f"{base}/lang/{lang}", params={"next": "/"})
            for path in ("/messages", "/messages/conversation?phone=%2B6281234567890", "/orders", "/complaints",
                         "/customers/1", "/admin/users"):
                page = await (await s.get(base + path)).text()
                assert at in page, (lang, path)
                assert "09.00" not in page and "09:00" not in page, (lang, path)
            assert f"{clock}:" in await (await s.get(f"{base}/complaints")).text()  # a note's clock
            assert f"{at} WIB" in await (await s.get(f"{base}/admin/modems")).text()
            assert "23 Nov 2026" in await (await s.get(f"{base}/customers")).text()  # the registration day


async def test_live_long_poll_answers_when_the_topic_changes(shop):
    base, db, live, _ = shop
    async with client() as s:
        await log_in(s, base, "kasir")
        seen = live.version("orders")
        waiting = asyncio.ensure_future(s.get(f"{base}/live", params={"topic": "orders", "v": str(seen)}))
        await asyncio.sleep(0)  # let the request start; the answer must wait for the change
        assert not waiting.done()
        from smsd_crm import OrderPlaced
        live.observe(OrderPlaced(1, "+6281234567890", 1000))
        answer = await asyncio.wait_for(waiting, 10)
        assert (await answer.json())["v"] == seen + 1
        assert (await s.get(f"{base}/live", params={"topic": "orders", "v": "x"})).status == 400
    async with client() as anonymous:
        assert (await anonymous.get(f"{base}/live", params={"topic": "orders", "v": "0"})).status == 401


async def test_a_commit_by_another_process_bumps_every_topic(database_target):
    """SQLite: data_version; PostgreSQL: NOTIFY at every commit, LISTEN in the watcher."""
    from smsd_crm.storage.db import Database
    db, other = await Database.open(database_target), await Database.open(database_target)
    feed = LiveFeed()
    seen = feed.version("orders")
    watcher = asyncio.create_task(feed.watch_other_processes(db))
    await other.execute("CREATE TABLE t (x INTEGER)")

    async def commit_until_seen() -> None:  # the first commits may land before the watcher's first look
        while feed.version("orders") == seen:
            await other.execute("INSERT INTO t VALUES (1)")
            await feed.wait("orders", seen, timeout=0.5)
    try:
        await asyncio.wait_for(commit_until_seen(), 10)
        assert feed.version("orders") > seen
    finally:
        watcher.cancel()
        await db.close()
        await other.close()


async def test_a_change_while_a_page_is_built_makes_it_reload(tmp_path):
    """The page embeds the topic's version from before it read its data: a change landing while it is
    built (a campaign finishing between the page's query and its rendering) makes it reload at once."""
    from aiohttp import web

    from smsd_crm.web.app import make_web_app
    from smsd_crm.web.base import render

    settings = parse_config("web: {port: 0}\n", tmp_path / "c.yaml")
    clock = Clock()
    async with offline_session(settings, clock, third_party=False) as (host, db):
        await users.add_user(db, "kasir", hash_password("mawar-sore-48"), "staff", clock())
        live = LiveFeed()
        app = make_web_app(WebContext(db, settings.web, settings.store, clock, host, live=live, settings=settings))
        before = live.version("messages")

        async def built_while_it_changes(request):
            rows = await messages.list_messages(db, limit=1)  # the page's data, read first
            live.bump("messages")  # ...then the change lands, before the page is rendered
            return render(request, "home.html", sections=[], now_iso=clock().isoformat(), rows=rows, live="messages")

        app.router.add_get("/built", built_while_it_changes)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = "http://%s:%d" % runner.addresses[0][:2]
        try:
            async with client() as s:
                await log_in(s, base, "kasir")
                page = await (await s.get(f"{base}/built")).text()
                assert f'data-live-version="{before}"' in page  # not before + 1: the reload will come
                r = await s.get(f"{base}/live?topic=messages&v={before}")
                assert (await r.json())["v"] == before + 1  # answered at once: the page reloads
        finally:
            await runner.cleanup()


async def test_stopping_answers_the_open_pages_long_polls_at_once(tmp_path):
    # Each open page holds a /live request for up to 25 s; the server's shutdown waited for them, so
    # a daemon with one page open took 25 s to stop while its log said "at most 10 s".
    class Patient(LiveFeed):  # a poll that would wait an hour: only the shutdown can answer it
        async def wait(self, topic, seen, timeout=3600.0, user_id=None):
            return await super().wait(topic, seen, timeout, user_id)
    settings = parse_config("web: {port: 0}\n", tmp_path / "c.yaml")
    clock = Clock()
    async with offline_session(settings, clock, third_party=False) as (host, db):
        await users.add_user(db, "kasir", hash_password("mawar-sore-48"), "staff", clock())
        live = Patient()
        runner = await start_web(WebContext(db, settings.web, settings.store, clock, host, live=live,
                                            settings=settings))
        base = "http://%s:%d" % runner.addresses[0][:2]
        async with client() as s:
            await log_in(s, base, "kasir")
            waiting = asyncio.ensure_future(s.get(f"{base}/live", params={"topic": "orders", "v": "0"}))
            await wait_until(lambda: live.waits >= 1, what="the page's long poll")
            stopping = asyncio.ensure_future(runner.cleanup())
            answer = await asyncio.wait_for(waiting, 30)
            assert answer.status == 200 and (await answer.json())["v"] == 0  # no change: the page keeps polling
            await asyncio.wait_for(stopping, 30)
