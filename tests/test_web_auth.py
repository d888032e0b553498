"""Login, sessions, CSRF, roles, wrong-login waits, headers and escaping, against a real aiohttp server on loopback."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
import yarl

from smsd_crm.config import StoreConfig, WebConfig
from smsd_crm.storage import users
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import core_schema
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.passwords import hash_password, verify_password


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def site(tmp_path):
    db = await Database.open(tmp_path / "web.sqlite3")
    await migrate(db, core_schema())
    clock = Clock()
    for name, role in (("pemilik", "owner"), ("kasir", "staff")):
        await users.add_user(db, name, hash_password("mawar-sore-48"), role, clock())
    # a name from before names were limited to a-z, digits and ._- (an old database): shown inert
    await db.execute("INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, 'staff', ?)",
                     ("<script>alert(1)</script>", hash_password("mawar-sore-48"), clock().isoformat()))
    runner = await start_web(WebContext(db, WebConfig(port=0, session_minutes=30, lockout_attempts=3),
                                        StoreConfig(name="Toko <b>Uji</b>"), clock))
    host, port = runner.addresses[0][:2]
    assert host == "127.0.0.1"
    yield f"http://{host}:{port}", clock, db
    await runner.cleanup()
    await db.close()


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def log_in(session: aiohttp.ClientSession, base: str, name: str, password: str = "mawar-sore-48"):
    page = await (await session.get(f"{base}/login")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return await session.post(f"{base}/login", data={"username": name, "password": password, "csrf": csrf,
                                                     "next": "/"}, allow_redirects=False)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


async def test_nothing_without_a_login(site):
    base, _, _ = site
    async with client() as s:
        r = await s.get(f"{base}/", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] in ("/login?next=%2F", "/login?next=/")
        r = await s.get(f"{base}/admin/users", allow_redirects=False)
        assert r.status == 302
        r = await s.get(f"{base}/api/messages", allow_redirects=False)
        assert r.status == 401 and "API token is required" in await r.text()
        r = await s.post(f"{base}/logout", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"].startswith("/login")


async def test_login_sets_a_safe_cookie_and_a_new_session_each_time(site):
    base, _, db = site
    async with client() as s:
        r = await log_in(s, base, "kasir")
        assert r.status == 302 and r.headers["Location"] == "/"
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        first = s.cookie_jar.filter_cookies(yarl.URL(base))["smsd_session"].value
        await log_in(s, base, "kasir")
        second = s.cookie_jar.filter_cookies(yarl.URL(base))["smsd_session"].value
        assert first != second
        assert (await db.fetchone("SELECT COUNT(*) FROM web_sessions"))[0] == 1  # the old one ended
        stored = (await db.fetchone("SELECT token_hash FROM web_sessions"))[0]
        assert second not in stored  # only a hash is kept


async def test_csrf_is_required_on_every_post(site):
    base, _, _ = site
    async with client() as s:
        await log_in(s, base, "kasir")
        r = await s.post(f"{base}/logout", data={}, allow_redirects=False)
        assert r.status == 403
        r = await s.post(f"{base}/logout", data={"csrf": "forged"}, allow_redirects=False)
        assert r.status == 403
        page = await (await s.get(f"{base}/")).text()
        r = await s.post(f"{base}/logout", data={"csrf": csrf_of(page)}, allow_redirects=False)
        assert r.status == 302
        r = await s.get(f"{base}/", allow_redirects=False)
        assert r.status == 302  # logged out
    async with client() as s:  # the login form itself carries a token
        r = await s.post(f"{base}/login", data={"username": "kasir", "password": "mawar-sore-48"},
                         allow_redirects=False)
        assert r.status == 403


async def test_staff_cannot_open_owner_pages(site):
    base, _, _ = site
    async with client() as s:
        await log_in(s, base, "kasir")
        r = await s.get(f"{base}/admin/users")
        assert r.status == 403
    async with client() as s:
        await log_in(s, base, "pemilik")
        r = await s.get(f"{base}/admin/users")
        assert r.status == 200


async def test_session_expires_without_use(site):
    base, clock, _ = site
    async with client() as s:
        await log_in(s, base, "kasir")
        clock.now += timedelta(minutes=29)
        assert (await s.get(f"{base}/", allow_redirects=False)).status == 200  # use slides the expiry
        clock.now += timedelta(minutes=29)
        assert (await s.get(f"{base}/", allow_redirects=False)).status == 200
        clock.now += timedelta(minutes=31)
        assert (await s.get(f"{base}/", allow_redirects=False)).status == 302


async def test_wrong_passwords_make_the_client_wait_and_never_lock(site):
    base, clock, _ = site
    async with client() as s:
        for _ in range(3):
            r = await log_in(s, base, "kasir", "salah-salah")
            assert r.status == 401 and "Nama atau kata sandi salah" in await r.text()
        r = await log_in(s, base, "kasir")  # the right password, too early: answered as a wrong one
        assert r.status == 401 and "Nama atau kata sandi salah" in await r.text()
        clock.now += timedelta(seconds=1)  # more in tests/test_login_throttle.py
        r = await log_in(s, base, "kasir")
        assert r.status == 302
        r = await log_in(s, base, "nobody", "whatever-1")  # unknown users look the same
        assert r.status == 401 and "Nama atau kata sandi salah" in await r.text()


async def test_a_session_ends_at_its_absolute_lifetime_however_much_it_is_used(tmp_path):
    assert WebConfig().session_max_hours == 12
    db = await Database.open(tmp_path / "web.sqlite3")
    await migrate(db, core_schema())
    clock = Clock()
    await users.add_user(db, "kasir", hash_password("mawar-sore-48"), "staff", clock())
    runner = await start_web(WebContext(db, WebConfig(port=0, session_minutes=30, session_max_hours=1),
                                        StoreConfig(), clock))
    base = "http://%s:%d" % runner.addresses[0][:2]
    try:
        async with client() as s:
            assert (await log_in(s, base, "kasir")).status == 302
            for _ in range(2):
                clock.now += timedelta(minutes=29)
                assert (await s.get(f"{base}/", allow_redirects=False)).status == 200  # in use: slides
            clock.now += timedelta(minutes=3)  # 61 minutes after the login, 3 after the last page
            r = await s.get(f"{base}/", allow_redirects=False)
            assert r.status == 302 and r.headers["Location"].startswith("/login")
            row = await db.fetchone("SELECT created_at, expires_at FROM web_sessions")
            assert datetime.fromisoformat(row[1]) - datetime.fromisoformat(row[0]) == timedelta(hours=1)
            assert (await log_in(s, base, "kasir")).status == 302  # a new login starts a new hour
            assert (await s.get(f"{base}/", allow_redirects=False)).status == 200
    finally:
        await runner.cleanup()
        await db.close()


async def test_security_headers_everywhere(site):
    base, _, _ = site
    async with client() as s:
        for path in ("/login", "/", "/does-not-exist", "/static/style.css"):
            r = await s.get(f"{base}{path}", allow_redirects=False)
            assert r.headers["X-Frame-Options"] == "DENY", path
            assert "default-src 'self'" in r.headers["Content-Security-Policy"], path
            assert r.headers["X-Content-Type-Options"] == "nosniff", path


async def test_pages_are_never_kept_and_files_are_checked_before_use(site):
    base, _, _ = site
    async with client() as s:
        await log_in(s, base, "pemilik")
        assert (await s.get(f"{base}/")).headers["Cache-Control"] == "no-store"  # a page may hold customers' data
        first = await s.get(f"{base}/static/style.css")
        assert first.headers["Cache-Control"] == "no-cache" and first.headers["ETag"]
        again = await s.get(f"{base}/static/style.css", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status == 304  # a reload costs the daemon a header, not the file


async def test_hostile_text_is_inert(site):
    base, _, _ = site
    async with client() as s:
        await log_in(s, base, "pemilik")
        page = await (await s.get(f"{base}/admin/users")).text()
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<b>Uji</b>" not in page and "&lt;b&gt;Uji&lt;/b&gt;" in page


async def test_no_open_redirect_after_login(site):
    base, _, _ = site
    async with client() as s:
        page = await (await s.get(f"{base}/login?next=//evil.example/x")).text()
        assert 'name="next" value="/"' in page


def test_password_hashes():
    h = hash_password("mawar-sore-48")
    assert h.startswith("scrypt$") and "rahasia" not in h
    assert verify_password("mawar-sore-48", h) and not verify_password("rahasia-124", h)
    assert not verify_password("x", "garbage") and not verify_password("x", "scrypt$1$2$3$!!$??")


async def test_plugin_pages_need_csrf_and_refuse_a_move_that_is_not_allowed(tmp_path):
    from smsd_crm.config import parse_config
    from smsd_crm.daemon import offline_session
    settings = parse_config("web: {port: 0}\n", tmp_path / "c.yaml")
    async with offline_session(settings, third_party=False) as (host, db):
        await users.add_user(db, "kasir", hash_password("mawar-sore-48"), "staff", Clock()())
        await db.execute("INSERT INTO orders (phone, state, total, language, created_at, updated_at) "
                         "VALUES ('+6281234567890', 'done', 1000, 'id', '2026-01-01', '2026-01-01')")
        runner = await start_web(WebContext(db, settings.web, settings.store, Clock(), host))
        base = "http://%s:%d" % runner.addresses[0][:2]
        try:
            async with client() as s:
                await log_in(s, base, "kasir")
                page = await (await s.get(f"{base}/orders")).text()
                assert (await s.post(f"{base}/orders", data={"order": "1", "to": "ready"})).status == 403
                r = await s.post(f"{base}/orders", data={"order": "1", "to": "ready", "csrf": csrf_of(page)})
                assert r.status == 409 and "Pesanan #1 sudah selesai; tidak bisa menjadi siap" in await r.text()
                assert (await db.fetchone("SELECT state FROM orders"))[0] == "done"
                assert (await db.fetchone("SELECT COUNT(*) FROM messages"))[0] == 0  # no SMS
        finally:
            await runner.cleanup()


async def test_complaints_desk_answers_by_sms_and_shows_sms_text_inert(tmp_path):
    from smsd_crm.config import parse_config
    from smsd_crm.daemon import offline_session
    settings = parse_config("web: {port: 0}\n", tmp_path / "c.yaml")
    async with offline_session(settings, third_party=False) as (host, db):
        await users.add_user(db, "kasir", hash_password("mawar-sore-48"), "staff", Clock()())
        ticket = await db.fetchval("INSERT INTO complaints (phone, state, language, opened_at) "
                                  "VALUES ('+6281234567890', 'open', 'id', '2026-11-23T08:00:00+00:00') RETURNING id")
        await db.execute("INSERT INTO complaint_notes (complaint_id, at, author, text) VALUES (?, ?, 'customer', ?)",
                         (ticket, "2026-11-23T08:00:00+00:00", '"><img src=x onerror=alert(1)> telur pecah'))
        runner = await start_web(WebContext(db, settings.web, settings.store, Clock(), host))
        base = "http://%s:%d" % runner.addresses[0][:2]
        try:
            async with client() as s:
                await log_in(s, base, "kasir")
                page = await (await s.get(f"{base}/complaints")).text()
                assert f'id="ticket-{ticket}"' in page
                assert "<img src=x" not in page and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
                assert (await s.post(f"{base}/complaints", data={"ticket": ticket, "text": "x"})).status == 403
                r = await s.post(f"{base}/complaints", data={"ticket": str(ticket), "action": "answer",
                                                             "text": "Maaf, kami ganti hari ini.",
                                                             "csrf": csrf_of(page)})
                assert r.status == 200
                sms = await db.fetchone("SELECT phone, text, state FROM messages WHERE direction = 'out'")
                assert tuple(sms) == ("+6281234567890", f"K{ticket}: Maaf, kami ganti hari ini.", "queued")
                row = await db.fetchone("SELECT state, first_answer_at FROM complaints")
                assert row[0] == "answered" and row[1]
                r = await s.post(f"{base}/complaints", data={"ticket": str(ticket), "action": "close",
                                                             "text": "diganti", "csrf": csrf_of(page)})
                question = await r.text()  # Close asks first, with the typed words kept
                assert f"Tutup keluhan K{ticket}?" in question and ">diganti</textarea>" in question
                assert (await db.fetchone("SELECT state FROM complaints"))[0] == "answered"
                once = re.search(r'name="once" value="([^"]+)"', question).group(1)
                r = await s.post(f"{base}/complaints", data={"ticket": str(ticket), "action": "close_confirmed",
                                                             "text": "diganti", "csrf": csrf_of(page), "once": once})
                assert "Tidak ada keluhan terbuka" in await r.text()
        finally:
            await runner.cleanup()
