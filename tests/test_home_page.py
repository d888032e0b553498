"""The home page for today, against a real aiohttp server on loopback with the built-in plugins on a
real SQLite file and a fixed clock: Monday 23 Nov 2026 16.00 WIB (09:00 UTC)."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest

from smsd_crm.config import parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.storage import messages, users
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.live import LiveFeed
from smsd_crm.web.passwords import hash_password

from .test_web_auth import Clock, client, log_in

UTC = timezone.utc
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday, 16.00 in Jakarta


async def _sale(db, receipt: str, at: datetime, total: int) -> None:
    sale = await db.fetchval("INSERT INTO sales (receipt, phone, sold_at, total, created_at) VALUES (?, NULL, ?, ?, ?) RETURNING id",
                            (receipt, at.isoformat(), total, at.isoformat()))
    await db.execute("INSERT INTO sale_lines VALUES (?, 1, NULL, 'X1', 'Barang', 1, ?, 0)", (sale, total))


async def _order(db, phone: str, state: str, at: datetime, price: int) -> int:
    order = await db.fetchval("INSERT INTO orders (phone, state, total, language, created_at, updated_at) "
                             "VALUES (?, ?, ?, 'id', ?, ?) RETURNING id", (phone, state, 2 * price, at.isoformat(), at.isoformat()))
    await db.execute("INSERT INTO order_lines VALUES (?, 1, 1, 'G01', 'Gula', 2, ?, 0)", (order, price))
    return order


async def _complaint(db, phone: str, at: datetime, text: str) -> int:
    ticket = await db.fetchval("INSERT INTO complaints (phone, state, language, opened_at) VALUES (?, 'open', 'id', ?) RETURNING id",
                              (phone, at.isoformat()))
    await db.execute("INSERT INTO complaint_notes (complaint_id, at, author, text) VALUES (?, ?, 'customer', ?)",
                     (ticket, at.isoformat(), text))
    return ticket


@pytest.fixture
async def today(tmp_path):
    settings = parse_config("web: {port: 0}\n", tmp_path / "c.yaml")
    clock = Clock()
    clock.now = NOW
    async with offline_session(settings, clock, third_party=False) as (host, db):
        await users.add_user(db, "pemilik", hash_password("mawar-sore-48"), "owner", NOW)
        await users.add_user(db, "kasir", hash_password("mawar-sore-48"), "staff", NOW)
        await db.execute("INSERT INTO customers (phone, name, language, created_at, updated_at) "
                         "VALUES ('+6281234567890', 'Siti', 'id', ?, ?)", (NOW.isoformat(), NOW.isoformat()))
        # Till sales: 08.00 and 06.30 WIB today count; 23.30 WIB yesterday does not (it is 16.30 UTC today's date).
        await _sale(db, "T1", datetime(2026, 11, 23, 1, 0, tzinfo=UTC), 50_000)
        await _sale(db, "T2", datetime(2026, 11, 22, 23, 30, tzinfo=UTC), 20_000)
        await _sale(db, "T3", datetime(2026, 11, 22, 16, 30, tzinfo=UTC), 99_000)
        # Last Monday: 09.00 WIB counts (before 16.00), 17.00 WIB does not.
        await _sale(db, "L1", datetime(2026, 11, 16, 2, 0, tzinfo=UTC), 100_000)
        await _sale(db, "L2", datetime(2026, 11, 16, 10, 0, tzinfo=UTC), 500_000)
        first = await _order(db, "+6281234567890", "new", NOW - timedelta(minutes=40), 13_000)  # 26.000 today
        second = await _order(db, "+6281299990000", "new", NOW - timedelta(minutes=5), 5_000)   # 10.000 today
        await _order(db, "+6281234567890", "ready", NOW - timedelta(hours=2), 1_000)            # 2.000 today
        await _order(db, "+6281234567890", "cancelled", NOW - timedelta(hours=1), 7_000)        # not a sale
        old = await _complaint(db, "+6281234567890", NOW - timedelta(hours=30), "telur pecah <b>semua</b>")
        new = await _complaint(db, "+6281299990000", NOW - timedelta(minutes=10), "gula basah")
        await messages.queue_outbound(db, "+6281234567890", "Halo", NOW)
        for _ in range(2):
            failed = await messages.queue_outbound(db, "+6281234567890", "Gagal", NOW)
            await db.execute("UPDATE messages SET state = 'failed' WHERE id = ?", (failed,))
        stale = await messages.queue_outbound(db, "+6281234567890", "Kemarin", NOW - timedelta(days=1))
        await db.execute("UPDATE messages SET state = 'failed', updated_at = ? WHERE id = ?",
                         ((NOW - timedelta(hours=17)).isoformat(), stale))  # 23.00 WIB yesterday: not today's
        for modem, updated in (("sim1", NOW), ("sim2", NOW - timedelta(minutes=10))):
            await db.execute("INSERT INTO modem_status (modem_id, port, state, signal, registration, operator, "
                             "storage_used, storage_total, last_error, updated_at) VALUES "
                             "(?, '/dev/ttyUSB0', 'ready', 20, 1, 'Telkomsel', 3, 30, NULL, ?)",
                             (modem, updated.isoformat()))
        live = LiveFeed()
        runner = await start_web(WebContext(db, settings.web, settings.store, clock, host, live=live,
                                            settings=settings))
        try:
            yield "http://%s:%d" % runner.addresses[0][:2], {"first": first, "second": second, "old": old, "new": new}
        finally:
            await runner.cleanup()


def _sections(page: str) -> dict[str, str]:
    """Each home section's title -> its text (tags dropped, entities decoded, spaces collapsed)."""
    out = {}
    for block in re.findall(r'<section class="home-section".*?</section>', page, re.S):
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", block)).split())
        title = html.unescape(re.search(r"<h2>([^<]*)", block).group(1)).strip()
        out[title] = text
    return out


async def test_the_owner_sees_today_at_a_glance(today):
    base, ids = today
    async with client() as s:
        await log_in(s, base, "pemilik")
        page = await (await s.get(base + "/")).text()
    assert "Hari ini, 23 Nov 2026" in page
    sections = _sections(page)
    assert list(sections) == ["Pesanan baru", "Keluhan", "Penjualan hari ini", "Pesan", "Modem"]
    orders = sections["Pesanan baru"]
    assert "2 baru · 1 siap" in orders
    assert orders.index(f"#{ids['second']}") < orders.index(f"#{ids['first']}")  # newest first
    assert f"#{ids['first']} · Siti · Rp26.000 40 menit" in orders
    complaints = sections["Keluhan"]
    assert "2 terbuka · 0 dijawab" in complaints
    assert complaints.index(f"K{ids['old']}") < complaints.index(f"K{ids['new']}")  # oldest first
    assert "30 jam" in complaints and "10 menit" in complaints
    assert re.search(rf'<li class="alert">\s*<a href="/complaints#ticket-{ids["old"]}"', page)  # a day old: red
    assert not re.search(rf'<li class="alert">\s*<a href="/complaints#ticket-{ids["new"]}"', page)
    assert "&lt;b&gt;semua&lt;/b&gt;" in page  # the customer's words, as text
    sales = sections["Penjualan hari ini"]
    # today: till 50.000 + 20.000, SMS 26.000 + 10.000 + 2.000 (not the cancelled one); last Monday to 16.00: 100.000
    assert sales.startswith("Penjualan hari ini Rp108.000")
    assert "Pesanan SMS Rp38.000" in sales and "Kasir Rp70.000" in sales
    assert "+8% dibanding Senin lalu sampai jam 16.00 (Rp100.000)" in sales
    assert "Lihat dasbor penjualan" not in sales  # no dashboards in this shop
    assert "SMS menunggu dikirim 1" in sections["Pesan"] and "SMS gagal hari ini 2" in sections["Pesan"]
    modems = sections["Modem"]
    assert "sim1 · siap" in modems and "sim2 · tidak ada kabar" in modems
    assert 'href="/admin/modems"' in page


async def test_staff_see_the_same_day_without_owner_links_and_in_english(today):
    base, ids = today
    async with client() as s:
        await log_in(s, base, "kasir")
        await s.get(base + "/lang/en?next=/")
        page = await (await s.get(base + "/")).text()
    sections = _sections(page)
    assert list(sections) == ["New orders", "Complaints", "Sales today", "Messages", "Modems"]
    assert "2 new · 1 ready" in sections["New orders"]
    assert "+8% against last Monday up to 16:00 (Rp100.000)" in sections["Sales today"]
    assert "30 h" in sections["Complaints"]
    assert 'href="/admin/modems"' not in page and 'href="/dash/' not in page


def test_the_home_page_follows_orders_complaints_and_messages_not_modem_readings():
    live = LiveFeed()
    seen = live.version("home")
    for topic in ("orders", "complaints", "messages"):
        live.bump(topic)
        assert live.version("home") == seen + 1, topic
        seen += 1
    live.bump("modems")
    assert live.version("home") == seen
