"""The desks against what a busy shop and a hostile visitor do, on a real aiohttp server on loopback with
the built-in plugins on a real SQLite file: a double tap or racing requests text the customer once, a
yes to a stale question does nothing, junk ids are a clear 400, a follow-up reopens an answered ticket,
a close note stays visible, staff text goes out without control characters."""

from __future__ import annotations

import asyncio
import re

import pytest

from smsd_crm.config import parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.models import InboundMessage
from smsd_crm.router import Router
from smsd_crm.storage import users
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.passwords import hash_password

from .conftest import quiet_outbox
from .test_web_auth import Clock, client, csrf_of, log_in

PHONE = "+6281234567890"


@pytest.fixture
async def desk(tmp_path):
    settings = parse_config("web: {port: 0}\n", tmp_path / "c.yaml")
    clock = Clock()
    async with offline_session(settings, clock, third_party=False) as (host, db):
        await users.add_user(db, "kasir", hash_password("mawar-sore-48"), "staff", clock())
        await users.add_user(db, "pemilik", hash_password("mawar-sore-48"), "owner", clock())
        now = clock().isoformat()
        await db.execute("INSERT INTO customers (phone, name, language, created_at, updated_at) "
                         "VALUES (?, 'Siti', 'id', ?, ?)", (PHONE, now, now))
        order = await db.fetchval("INSERT INTO orders (phone, state, total, language, created_at, updated_at) "
                                 "VALUES (?, 'new', 26000, 'id', ?, ?) RETURNING id", (PHONE, now, now))
        await db.execute("INSERT INTO order_lines VALUES (?, 1, 1, 'G01', 'Gula', 2, 13000, 12000)", (order,))
        ticket = await db.fetchval("INSERT INTO complaints (phone, state, language, opened_at) VALUES (?, 'open', 'id', ?) RETURNING id",
                                  (PHONE, now))
        await db.execute("INSERT INTO complaint_notes (complaint_id, at, author, text) VALUES (?, ?, 'customer', 'pecah')",
                         (ticket, now))
        runner = await start_web(WebContext(db, settings.web, settings.store, clock, host, settings=settings))
        try:
            yield "http://%s:%d" % runner.addresses[0][:2], db, host, order, ticket
        finally:
            await runner.cleanup()


async def _texts(db) -> list[str]:
    return [r["text"] for r in await db.fetchall(
        "SELECT text FROM messages WHERE direction = 'out' AND phone = ? ORDER BY id", (PHONE,))]


def _once(page: str) -> str:
    return re.search(r'name="once" value="([^"]+)"', page).group(1)


async def test_a_double_tap_or_racing_posts_answer_once(desk):
    base, db, _, _, ticket = desk
    async with client() as s:
        await log_in(s, base, "kasir")
        page = await (await s.get(f"{base}/complaints")).text()
        form = {"csrf": csrf_of(page), "once": _once(page), "ticket": str(ticket), "action": "close_send",
                "text": "Sudah kami ganti"}
        answers = await asyncio.gather(*(s.post(f"{base}/complaints", data=form, allow_redirects=False)
                                         for _ in range(3)))
        assert [a.status for a in answers] == [302, 302, 302]  # every tap is told it was done: none is a 409
        assert {a.headers["Location"] for a in answers} == {f"/complaints?done=answered_closed&k={ticket}"}
        assert await _texts(db) == [f"K{ticket}: Sudah kami ganti", f"Keluhan K{ticket} kami tutup. Terima kasih "
                                    "atas masukan Anda."]
        # the conversation page's Kirim: the same
        page = await (await s.get(f"{base}/messages/conversation?phone=081234567890")).text()
        form = {"csrf": csrf_of(page), "once": _once(page), "phone": PHONE, "text": "Halo Bu"}
        for _ in range(2):
            r = await s.post(f"{base}/messages/send", data=form, allow_redirects=False)
            assert r.status == 302
        assert (await _texts(db)).count("Halo Bu") == 1
        # a new form (a new token) is a new message
        page = await (await s.get(f"{base}/messages/conversation?phone=081234567890&sent=1")).text()
        assert "SMS Anda masuk antrean kirim" in page
        await s.post(f"{base}/messages/send", data=dict(form, once=_once(page)), allow_redirects=False)
        assert (await _texts(db)).count("Halo Bu") == 2


async def test_a_yes_to_a_stale_question_does_nothing(desk):
    base, db, _, order, _ = desk
    async with client() as kasir, client() as pemilik:
        await log_in(kasir, base, "kasir")
        await log_in(pemilik, base, "pemilik")
        page = await (await kasir.post(f"{base}/orders", data={"csrf": csrf_of(await (await kasir.get(
            f"{base}/orders")).text()), "order": str(order), "to": "cancelled"})).text()
        question = dict(re.findall(r'name="(csrf|once|from|confirm|order|to)" value="([^"]*)"', page))
        assert question["from"] == "new"
        owner_page = await (await pemilik.get(f"{base}/orders")).text()
        owner_q = await (await pemilik.post(f"{base}/orders", data={"csrf": csrf_of(owner_page), "order": str(order),
                                                                     "to": "ready"})).text()
        r = await pemilik.post(f"{base}/orders", data=dict(re.findall(
            r'name="(csrf|once|from|confirm|order|to)" value="([^"]*)"', owner_q)), allow_redirects=False)
        assert r.status == 302
        sent = await _texts(db)
        r = await kasir.post(f"{base}/orders", data=question, allow_redirects=False)
        assert r.status == 409
        assert "sudah diubah orang lain (sekarang siap); tidak ada yang dikirim" in await r.text()
        assert await _texts(db) == sent
        row = await db.fetchone("SELECT state FROM orders WHERE id = ?", (order,))
        assert row["state"] == "ready"


@pytest.mark.parametrize("path, data", [
    ("/orders", {"order": "99999999999999999999", "to": "ready"}),
    ("/orders", {"order": "²", "to": "ready", "confirm": "yes"}),
    ("/orders", {"order": "-1", "to": "ready"}),
    ("/complaints", {"ticket": "99999999999999999999", "action": "answer", "text": "x"}),
    ("/complaints", {"ticket": "①", "action": "close"}),
    ("/complaints", {"ticket": "1", "action": "unheard-of", "text": "x"}),
])
async def test_junk_ids_and_actions_are_a_clear_400(desk, path, data):
    base, db, *_ = desk
    async with client() as s:
        await log_in(s, base, "kasir")
        page = await (await s.get(base + path)).text()
        r = await s.post(base + path, data=dict(data, csrf=csrf_of(page)), allow_redirects=False)
        assert r.status == 400
        assert "tidak ada" in await r.text()
        for query in ("?moved=99999999999999999999&to=ready", "?moved=²&to=ready", "?done=closed&k=²"):
            assert (await s.get(base + path + query)).status == 200
    assert await _texts(db) == []


async def test_notices_only_say_what_happened(desk):
    base, _, _, order, ticket = desk
    async with client() as s:
        await log_in(s, base, "kasir")
        assert "sekarang dibatalkan" not in await (await s.get(f"{base}/orders?moved={order}&to=cancelled")).text()
        assert "ditutup" not in await (await s.get(f"{base}/complaints?done=closed&k={ticket}")).text()
        assert "K5 ditutup" not in await (await s.get(f"{base}/complaints?done=closed&k=5")).text()


async def test_a_refused_reply_comes_back_and_a_close_note_stays_visible(desk):
    base, db, _, _, ticket = desk
    async with client() as s:
        await log_in(s, base, "kasir")
        page = await (await s.get(f"{base}/complaints")).text()
        form = {"csrf": csrf_of(page), "once": _once(page), "ticket": str(ticket)}
        r = await s.post(f"{base}/complaints", data=dict(form, action="answer", text="x" * 601))
        assert r.status == 400 and "paling banyak 600" in await r.text()
        assert "x" * 601 in await r.text()  # what was typed, to copy
        r = await s.post(f"{base}/complaints", data=dict(form, action="close_confirmed",
                                                         text="ganti rugi sudah di kasir \x1b\u202e"),
                         allow_redirects=False)
        assert r.status == 302  # the refused try gave its token back: the same form may act
        notes = await db.fetchall("SELECT author, text FROM complaint_notes WHERE complaint_id = ?", (ticket,))
        assert ("note", "ganti rugi sudah di kasir") in [tuple(n) for n in notes]  # no ESC, no RLO
        # a second person on the closed ticket: refused, and their words shown back
        r = await s.post(f"{base}/complaints", data=dict(form, once="other", action="answer", text="Maaf Bu"))
        assert r.status == 409 and "Maaf Bu" in await r.text()
    assert await _texts(db) == [f"Keluhan K{ticket} kami tutup. Terima kasih atas masukan Anda."]


async def test_staff_text_goes_out_without_control_characters(desk):
    base, db, _, _, ticket = desk
    async with client() as s:
        await log_in(s, base, "kasir")
        page = await (await s.get(f"{base}/complaints")).text()
        await s.post(f"{base}/complaints", data={"csrf": csrf_of(page), "once": _once(page), "ticket": str(ticket),
                                                 "action": "answer", "text": "  a\x00b\u202e\r\nbaris 2 👨‍👩‍👧  "})
    assert await _texts(db) == [f"K{ticket}: ab\nbaris 2 👨‍👩‍👧"]


async def test_more_from_the_customer_reopens_an_answered_ticket(desk, tmp_path):
    base, db, host, _, ticket = desk
    async with client() as s:
        await log_in(s, base, "kasir")
        page = await (await s.get(f"{base}/complaints")).text()
        await s.post(f"{base}/complaints", data={"csrf": csrf_of(page), "once": _once(page), "ticket": str(ticket),
                                                 "action": "answer", "text": "Kami cek"})
    assert (await db.fetchone("SELECT state FROM complaints WHERE id = ?", (ticket,)))["state"] == "answered"
    settings = parse_config("web: {port: 0}\n", tmp_path / "c.yaml")
    router = Router(db, host, settings, quiet_outbox(db, Clock()), Clock())
    await router.accept(InboundMessage("sim1", PHONE, "KOMPLAIN masih bocor juga", Clock()(), sim_id="510"))
    while not router._queue.empty():
        await router.route(router._queue.get_nowait())
    assert (await db.fetchone("SELECT state FROM complaints WHERE id = ?", (ticket,)))["state"] == "open"
    async with client() as s:
        await log_in(s, base, "kasir")
        assert "1 terbuka · 0 dijawab" in await (await s.get(f"{base}/")).text()
