"""The pieces of campaigns on their own: sizing texts, quiet hours, what the owner may type after @,
birthdays, and the recipient bookkeeping on a real SQLite file."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from smsd_crm.campaigns.audience import Audience, from_word
from smsd_crm.campaigns.greetings import birthday_key
from smsd_crm.campaigns.preview import preview, render, size
from smsd_crm.campaigns.runner import quiet_until
from smsd_crm.config import OutboxConfig, parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.errors import CampaignError
from smsd_crm.outbox import Outbox
from smsd_crm.storage import campaigns as store
from smsd_crm.storage.messages import CAMPAIGN_PRIORITY

from .conftest import quiet_outbox
from .test_router import pipeline  # noqa: F401  (the in-process router fixture)

JAKARTA = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)


async def queue_for(db, cid: int, phone: str, text: str, now) -> int | None:
    """Queue one recipient as the campaign runner does: through the outbox, marked in one transaction."""
    async with db.transaction():
        if not await store.still_pending(db, cid, phone):
            return None
        message_id = await Outbox(db, OutboxConfig(), lambda: now).enqueue(
            phone, text, priority=CAMPAIGN_PRIORITY, plugin="core:campaign", campaign_id=cid)
        await store.mark_queued(db, cid, phone, message_id)
    return message_id


def test_sizes_encodings_and_the_character_that_forces_ucs2():
    assert size("a" * 160) == size("a" * 160) and size("a" * 160).parts == 1
    assert size("a" * 161).parts == 2 and size("a" * 306).parts == 2 and size("a" * 307).parts == 3
    assert size("€" * 80).parts == 1 and size("€" * 81).parts == 2  # two septets each
    ucs = size("Diskon 🎉 hari ini")
    assert (ucs.encoding, ucs.ucs2_because, ucs.parts) == ("UCS-2", "🎉", 1)
    assert size("x" * 70 + "é").encoding == "GSM-7"  # é is in the GSM-7 alphabet
    assert size("ą" + "x" * 70).parts == 2  # 71 UCS-2 characters
    assert render("Halo {nama}, poin {poin} {unknown}", {"nama": "Budi", "poin": "12"}) == "Halo Budi, poin 12 {unknown}"
    p = preview(["a" * 10, "b" * 200, "c"], tariff=350)
    assert (p.recipients, p.parts_each.parts, p.total_parts, p.cost) == (3, 2, 4, 1400)
    assert p.describe() == "3 recipients, 2 SMS part(s) each, GSM-7, 4 parts, about Rp1.400"


def test_quiet_hours_across_midnight_and_within_a_day():
    night = (time(21), time(8))
    at = lambda h, m=0: datetime(2026, 11, 23, h, m, tzinfo=JAKARTA)  # noqa: E731
    assert quiet_until(at(22, 30), *night) == datetime(2026, 11, 24, 8, 0, tzinfo=JAKARTA)
    assert quiet_until(at(7, 59), *night) == datetime(2026, 11, 23, 8, 0, tzinfo=JAKARTA)
    assert quiet_until(at(8), *night) is None and quiet_until(at(20, 59), *night) is None
    assert quiet_until(at(21), *night) == datetime(2026, 11, 24, 8, 0, tzinfo=JAKARTA)
    lunch = (time(12), time(13))
    assert quiet_until(at(12, 30), *lunch) == at(13) and quiet_until(at(13), *lunch) is None


def test_what_the_owner_may_type_after_the_at_sign():
    assert from_word("@tetap", []) == Audience("class", "regular")
    assert from_word("@PROMO", []) == Audience("class", "deal_seeker")
    assert from_word("@champions", []) == Audience("segment", "Champions")
    assert from_word("@at-risk", []) == Audience("segment", "At Risk")
    assert from_word("@cantlosethem", []) == Audience("segment", "Can't Lose Them")
    assert from_word("@arisan", ["arisan"]) == Audience("plugin", "arisan")
    assert from_word("@nope", []) is None
    for bad in (("class", "vip"), ("segment", "Whales"), ("inactive", "x"), ("category", None), ("everyone", None)):
        with pytest.raises(CampaignError):
            Audience(*bad)


def test_birthdays_on_the_28th_of_february_include_the_29th_in_other_years():
    assert birthday_key(date(2027, 2, 28)) == ["02-28", "02-29"]
    assert birthday_key(date(2028, 2, 28)) == ["02-28"] and birthday_key(date(2028, 2, 29)) == ["02-29"]


async def test_recipients_are_unique_and_withdrawn_rows_go_back_to_pending(tmp_path):
    settings = parse_config("database: {path: c.sqlite3}\n", tmp_path / "c.yaml")
    async with offline_session(settings, third_party=False) as (_, db):
        cid = await store.create(db, name="t", text={"id": "Halo"}, audience={"kind": "all"}, now=NOW)
        assert await store.start(db, cid, ["+62811", "+62812", "+62811", "+62813"], NOW) == 3  # nobody twice
        assert await store.start(db, cid, ["+62814"], NOW) == 0  # only a draft starts
        for phone in await store.next_pending(db, cid, 2):
            assert await queue_for(db, cid, phone, "Halo", NOW)
        assert await store.in_flight(db) == 2
        assert await store.pause(db, cid, NOW)
        assert await store.in_flight(db) == 0  # withdrawn: cancelled in the outbox ...
        assert (await store.progress(db, cid))["pending"] == 3  # ... and pending again
        assert await queue_for(db, cid, "+62811", "Halo", NOW) is None  # paused: nothing is queued
        assert await store.resume(db, cid, NOW)
        await queue_for(db, cid, "+62811", "Halo", NOW)
        assert await store.cancel(db, cid, NOW)
        counts = await store.progress(db, cid)
        assert (counts["skipped"], counts["pending"], await store.in_flight(db)) == (3, 0, 0)
        assert not await store.finish_if_complete(db, cid, NOW)  # cancelled stays cancelled
        assert (await store.get(db, cid)).state == "cancelled"


async def test_an_order_can_cite_a_campaigns_promo_code(pipeline):
    from smsd_crm.csv_io.catalog import parse_products
    from smsd_crm.storage import catalog
    send, db = pipeline
    rows, _ = parse_products("code,name,category,price,cost\nB01,Beras 5kg,Sembako,78000,70000\n")
    await catalog.import_rows(db, rows, NOW)
    await store.create(db, name="hemat", text={"id": "x"}, audience={"kind": "all"}, now=NOW, promo_code="HEMAT10")
    messages = await send("PESAN beras 2 kode hemat10")
    assert messages[-1]["text"].startswith("Pesanan #1: 2x Beras 5kg Rp156.000")
    messages = await send("PESAN beras 1, KODE: NGAWUR", sender="081299990000")  # unknown: ordered, no code
    assert messages[-1]["text"].startswith("Pesanan #2: 1x Beras 5kg")
    assert [tuple(r) for r in await db.fetchall("SELECT id, promo_code FROM orders ORDER BY id")] == [
        (1, "HEMAT10"), (2, None)]


async def test_campaign_results_count_what_followed_each_message(tmp_path, database_target):
    """On both engines (the window was SQLite's strftime modifier: every campaign page 500 on PostgreSQL)."""
    from smsd_crm.analytics.campaign_results import results
    from smsd_crm.storage import consent
    where = f"url: '{database_target}'" if isinstance(database_target, str) else f"path: {database_target}"
    settings = parse_config(f"database: {{{where}}}\n", tmp_path / "c.yaml")
    async with offline_session(settings, third_party=False) as (_, db):
        cid = await store.create(db, name="minyak", text={"id": "Diskon"}, audience={"kind": "all"}, now=NOW,
                                 promo_code="MINYAK")
        phones = ["+6281300000001", "+6281300000002", "+6281300000003", "+6281300000004"]
        await store.start(db, cid, phones, NOW)
        for phone in phones[:3]:
            mid = await queue_for(db, cid, phone, "Diskon " + "x" * 200, NOW)  # two parts each
            state = "delivered" if phone == phones[0] else "sent"
            await db.execute("UPDATE messages SET state = ?, updated_at = ? WHERE id = ?",
                             (state, "2026-11-23T03:00:00+00:00", mid))
        await store.skip(db, cid, phones[3], "opted out")
        # after the SMS: #1 buys twice within the week (one SMS order citing the code), #2 buys on day 9
        # (too late), #3 opts out the next day; someone who got no SMS cites the code too
        order = ("INSERT INTO orders (phone, state, total, language, created_at, updated_at, promo_code) "
                 "VALUES (?, 'done', ?, 'id', ?, ?, ?)")
        await db.execute(order, (phones[0], 50000, "2026-11-24T01:00:00+00:00", "2026-11-24T01:00:00+00:00", "MINYAK"))
        await db.execute("INSERT INTO sales (receipt, phone, sold_at, total, created_at) VALUES "
                         "('r1', ?, '2026-11-25T10:00:00+07:00', 20000, '2026-11-25')", (phones[0],))
        await db.execute(order, (phones[1], 90000, "2026-12-02T01:00:00+00:00", "2026-12-02T01:00:00+00:00", None))
        await db.execute(order, ("+6285700000000", 30000, "2026-11-24T05:00:00+00:00", "2026-11-24T05:00:00+00:00",
                                 "MINYAK"))
        await db.execute(order, (phones[0], 10000, "2026-11-22T01:00:00+00:00", "2026-11-22T01:00:00+00:00", None))
        await consent.set_promotions(db, phones[2], False, datetime(2026, 11, 24, tzinfo=timezone.utc),
                                     message_id=None, source="sms")
        [r] = await results(db, days=7)
        assert (r.recipients, r.sent, r.delivered, r.failed, r.skipped, r.parts) == (4, 3, 1, 0, 1, 6)
        assert (r.opted_out_after, r.buyers, r.purchases, r.revenue) == (1, 1, 2, 70000)
        assert (r.code_orders, r.code_revenue) == (2, 80000)
        if db.engine != "sqlite":
            return  # the view on PostgreSQL: test_dashboard_views.py
        # the messages dashboard shows them, and exports them
        from bokeh.document import Document
        from smsd_crm_dashboards import messages as messages_view
        from smsd_crm_dashboards.data import DashboardData
        from smsd_crm_dashboards.documents import DocumentHub, data_tables
        from smsd_crm_dashboards.readonly import ReadOnlyDatabase
        doc = Document()
        await messages_view.make(doc, DashboardData(ReadOnlyDatabase(db.path)), DocumentHub(), today=date(2026, 12, 5))()
        assert "minyak" in doc.get_model_by_name("campaigns").text and "Rp70.000" in doc.get_model_by_name(
            "campaigns").text
        columns, rows = data_tables(doc)["campaigns"]
        assert dict(zip(columns, rows[0]))["revenue"] == 70000


async def test_a_scheduled_campaign_starts_at_its_time(tmp_path):
    from datetime import timedelta
    settings = parse_config("database: {path: s.sqlite3}\n", tmp_path / "c.yaml")
    async with offline_session(settings, third_party=False) as (_, db):
        cid = await store.create(db, name="besok", text={"id": "x"}, audience={"kind": "all"}, now=NOW,
                                 start_at=NOW + timedelta(hours=1))
        assert await store.start(db, cid, ["+62811"], NOW) == 1
        assert (await store.get(db, cid)).state == "scheduled"
        assert await store.activate_due(db, NOW + timedelta(minutes=59)) == []
        assert await store.activate_due(db, NOW + timedelta(hours=1)) == [cid]
        assert (await store.get(db, cid)).state == "running"


async def test_greetings_are_made_once_per_occasion_for_the_opted_in(tmp_path):
    from smsd_crm.campaigns.greetings import Greetings
    settings = parse_config("database: {path: g.sqlite3}\ncampaigns:\n  greetings:\n    birthday: true\n"
                            "    winback_days: 30\n"
                            "    holidays: [{name: lebaran, date: 2026-11-23, text: {id: 'Selamat Idul Fitri {nama}'}}]\n",
                            tmp_path / "c.yaml")
    async with offline_session(settings, third_party=False) as (_, db):
        for phone, born in (("+6281300000001", "1990-11-23"), ("+6281300000002", "1985-02-01"),
                            ("+6281300000003", "2001-11-23")):
            await db.execute("INSERT INTO customers (phone, birthday, created_at, updated_at) VALUES (?, ?, ?, ?)",
                             (phone, born, "2026-01-01", "2026-01-01"))
        await db.execute("INSERT INTO consent (phone, promotions, updated_at) VALUES ('+6281300000003', 0, 'x')")
        for receipt, phone, day in (("w1", "+6281300000002", "2026-10-24"), ("w2", "+6281300000001", "2026-10-24"),
                                    ("w3", "+6281300000001", "2026-11-01")):  # only #2 last bought 30 days ago
            await db.execute("INSERT INTO sales (receipt, phone, sold_at, total, created_at) VALUES (?, ?, ?, 1, 'x')",
                             (receipt, phone, day + "T10:00:00+07:00"))
        greetings = Greetings(db, settings.campaigns.greetings, lambda: NOW)
        assert await greetings.schedule(NOW.astimezone(JAKARTA).replace(hour=8)) == []  # before send_at (09:00)
        made = await greetings.schedule(NOW.astimezone(JAKARTA))  # 10:00 in Jakarta
        assert len(made) == 3
        birthday, holiday, winback = [await store.get(db, c) for c in made]
        assert (winback.kind, winback.occasion) == ("winback", "winback-2026-11-23")
        assert [r[0] for r in await db.fetchall("SELECT phone FROM campaign_recipients WHERE campaign_id = ?",
                                                (winback.id,))] == ["+6281300000002"]
        assert (birthday.occasion, holiday.occasion) == ("birthday-2026-11-23", "holiday-lebaran-2026")
        assert [r[0] for r in await db.fetchall("SELECT phone FROM campaign_recipients WHERE campaign_id = ?",
                                                (birthday.id,))] == ["+6281300000001"]
        assert (await store.progress(db, holiday.id))["recipients"] == 2
        assert await greetings.schedule(NOW.astimezone(JAKARTA)) == []  # the same day again
        again = Greetings(db, settings.campaigns.greetings, lambda: NOW)  # a restart
        assert await again.schedule(NOW.astimezone(JAKARTA)) == []


SEGMENT_PLUGIN = '''
from smsd_crm import Segment, hookimpl



async def _members(ctx):
    return ["+6281300000002", "+6285799999999"]  # the second is not a customer


@hookimpl
def register_segments():
    return [Segment("arisan", "Arisan members", _members)]
'''


async def test_a_plugins_segment_is_an_audience_and_unknown_targets_list_the_choices(tmp_path):
    from smsd_crm.campaigns.service import CampaignService
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "arisan.py").write_text(SEGMENT_PLUGIN)
    settings = parse_config("database: {path: p.sqlite3}\nplugins_dir: plugins\n", tmp_path / "c.yaml")
    async with offline_session(settings, lambda: NOW, third_party=False) as (host, db):
        for i in (1, 2, 3):
            await db.execute("INSERT INTO customers (phone, name, created_at, updated_at) VALUES (?, ?, 'x', 'x')",
                             (f"+628130000000{i}", f"Bu {i}"))
        service = CampaignService(db, settings, lambda: NOW, host)
        started = await service.broadcast("Arisan {nama}", target="@arisan", notify_phone=None, name="arisan")
        assert started.preview.recipients == 1 and started.preview.sample == "Arisan Bu 2"
        assert [r[0] for r in await db.fetchall("SELECT phone FROM campaign_recipients")] == ["+6281300000002"]
        with pytest.raises(LookupError) as choices:
            await service.broadcast("x", target="@nope", notify_phone=None, name="x")
        assert "@arisan" in str(choices.value) and "@tetap" in str(choices.value) and "@champions" in str(choices.value)


async def test_the_runner_fills_in_names_and_points_and_keeps_the_weekly_cap(tmp_path):
    from smsd_crm.campaigns.runner import CampaignRunner
    from smsd_crm.campaigns.service import CampaignService
    settings = parse_config("database: {path: w.sqlite3}\ncampaigns: {quiet_hours: null, weekly_cap: 1}\n",
                            tmp_path / "c.yaml")
    async with offline_session(settings, lambda: NOW, third_party=False) as (host, db):
        await db.execute("INSERT INTO customers (phone, name, language, created_at, updated_at) VALUES "
                         "('+6281300000001', 'Budi', 'id', 'x', 'x'), ('+6281300000002', NULL, 'en', 'x', 'x')")
        await db.execute("INSERT INTO points_ledger (phone, delta, reason, ref, at) VALUES "
                         "('+6281300000001', 120, 'till', 's1', 'x')")
        runner = CampaignRunner(db, settings, host, quiet_outbox(db, lambda: NOW), lambda: NOW, sending_modems=1)
        service = CampaignService(db, settings, lambda: NOW, host)
        texts = {"id": "Halo {nama}, poin Anda {poin}", "en": "Hello {nama}, you have {poin} points"}
        first = await service.create(name="a", text=texts, audience=Audience())
        await service.start(first)
        await runner.tick()
        sent = {r[0]: r[1] for r in await db.fetchall("SELECT phone, text FROM messages WHERE campaign_id = ?",
                                                      (first,))}
        assert sent == {"+6281300000001": "Halo Budi, poin Anda 120",
                        "+6281300000002": "Hello Customer, you have 0 points"}
        second = await service.create(name="b", text="Lagi {nama}", audience=Audience())
        await service.start(second)
        await runner.tick()  # the window is full (2 queued): nothing more is queued yet
        assert (await store.progress(db, second))["pending"] == 2
        await db.execute("UPDATE messages SET state = 'sent' WHERE campaign_id = ?", (first,))
        await runner.tick()
        assert [tuple(r) for r in await db.fetchall("SELECT state, reason FROM campaign_recipients "
                                                    "WHERE campaign_id = ?", (second,))] == [
            ("skipped", "weekly cap"), ("skipped", "weekly cap")]
        assert (await store.get(db, first)).state == "done" and (await store.get(db, second)).state == "done"


async def test_a_campaign_paused_while_the_runner_feeds_it_stops_the_feeding(tmp_path):
    from smsd_crm.campaigns.runner import IDLE_WAIT, CampaignRunner
    settings = parse_config("database: {path: q.sqlite3}\ncampaigns: {quiet_hours: null}\n", tmp_path / "c.yaml")
    async with offline_session(settings, lambda: NOW, third_party=False) as (host, db):
        await db.execute("INSERT INTO customers (phone, created_at, updated_at) VALUES ('+6281300000001', 'x', 'x')")
        runner = CampaignRunner(db, settings, host, quiet_outbox(db, lambda: NOW), lambda: NOW, sending_modems=1)
        cid = await store.create(db, name="t", text={"id": "x"}, audience={"kind": "all"}, now=NOW)
        await store.start(db, cid, ["+6281300000001"], NOW)
        campaign = await store.get(db, cid)
        await store.pause(db, cid, NOW)  # after the runner read the running campaigns, before it queued
        assert await runner._feed(campaign, "+6281300000001", NOW) == "stopped"
        assert await asyncio.wait_for(runner.tick(), 5) == IDLE_WAIT  # and a look finds nothing running
        assert await store.in_flight(db) == 0
