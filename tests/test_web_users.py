"""Logins on the web: the owner's users page (add, disable, enable, role, reset a password), everyone's
account page (own password), the shop's rules behind them, and the owner's API page; against a real
aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import re

import pytest
from smsd_crm_dashboards.sessions import Opened, SessionBook

from smsd_crm.config import StoreConfig, WebConfig
from smsd_crm.storage import api_clients, users
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import CORE_MIGRATIONS, core_schema
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.passwords import MIN_LENGTH, hash_password, verify_password

from .conftest import wait_until
from .test_web_auth import Clock, client, csrf_of, log_in

NEW = "baru-sekali-9"


@pytest.fixture
async def shop(tmp_path):
    db = await Database.open(tmp_path / "web.sqlite3")
    await migrate(db, core_schema())
    clock = Clock()
    for name, role in (("pemilik", "owner"), ("kasir", "staff")):
        await users.add_user(db, name, hash_password("mawar-sore-48"), role, clock())
    ctx = WebContext(db, WebConfig(port=0, session_minutes=30, lockout_attempts=3), StoreConfig(name="Toko Uji"),
                     clock)
    runner = await start_web(ctx)
    yield "http://%s:%d" % runner.addresses[0][:2], ctx
    await runner.cleanup()
    await db.close()


def said(page: str) -> list[str]:
    """The notices and errors on a page (not the hidden live banner)."""
    return re.findall(r'<p class="(?:notice|error)" role="(?:status|alert)">([^<]*)</p>', page)


async def post(s, base: str, path: str = "/admin/users", **fields) -> tuple[int, str]:
    page = await (await s.get(f"{base}{path}")).text()
    r = await s.post(f"{base}{path}", data={"csrf": csrf_of(page), **fields}, allow_redirects=False)
    return r.status, await r.text()


async def logged_in(s, base: str) -> bool:
    return (await s.get(f"{base}/", allow_redirects=False)).status == 200


async def sessions_of(db, name: str) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM web_sessions s JOIN users u ON u.id = s.user_id "
                            "WHERE u.username = ?", (name,))
    return row[0]


def add(name: str, password: str = "melati-pagi-71", role: str = "staff", again: str | None = None) -> dict:
    return {"action": "add", "username": name, "role": role, "password": password,
            "password2": password if again is None else again}


async def test_a_password_made_of_the_login_s_or_the_shop_s_name_is_refused(shop):
    base, ctx = shop  # the shop is Toko Uji
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        status, page = await post(owner, base, **add("wulandari", "Wulandari2025!"))
        assert status == 400 and "nama login atau nama toko" in said(page)[0]
        owner.cookie_jar.update_cookies({"smsd_lang": "en"})
        status, page = await post(owner, base, **add("wulandari", "T0k0Uj1-2025"))
        assert status == 400 and "made of the login" in said(page)[0]
        status, page = await post(owner, base, action="password", username="kasir", password="Uji#Toko#2025",
                                  password2="Uji#Toko#2025")
        assert status == 400 and "made of the login" in said(page)[0]
        status, page = await post(owner, base, "/account", current="mawar-sore-48", password="!TokoUji2025",
                                  password2="!TokoUji2025")
        assert status == 400 and "made of the login" in said(page)[0]
    assert await users.get_user(ctx.db, "wulandari") is None


async def test_owner_adds_a_login_that_can_log_in(shop):
    base, ctx = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        status, page = await post(owner, base, **add("kasir2"))
        assert status == 200 and said(page) == ["Login kasir2 ditambahkan."]
        assert 'data-user="kasir2"' in page
    row = await users.get_user(ctx.db, "kasir2")
    assert row["role"] == "staff" and row["password_hash"].startswith("scrypt$") and "rahasia" not in row["password_hash"]
    async with client() as staff:
        assert (await log_in(staff, base, "kasir2", "melati-pagi-71")).status == 302
        assert await logged_in(staff, base)


async def test_a_taken_name_a_short_password_and_typos_are_refused(shop):
    base, ctx = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        status, page = await post(owner, base, **add("kasir"))
        assert status == 400 and said(page) == ["Login kasir sudah ada."]
        status, page = await post(owner, base, **add("kasir3", "x" * (MIN_LENGTH - 1)))
        assert status == 400 and said(page) == [f"Kata sandi paling sedikit {MIN_LENGTH} huruf."]
        assert 'value="kasir3"' in page  # the name typed is kept for the next try
        status, page = await post(owner, base, **add("kasir3", "melati-pagi-71", again="melati-pagi-17"))
        assert status == 400 and said(page) == ["Kedua kata sandi tidak sama."]
        status, page = await post(owner, base, **add("dua kata"))
        assert status == 400 and "tanpa spasi" in said(page)[0]
        owner.cookie_jar.update_cookies({"smsd_lang": "en"})
        status, page = await post(owner, base, **add("kasir"))
        assert status == 400 and said(page) == ["A login named kasir already exists."]
        # the CLI's rule, the same constant: exactly MIN_LENGTH characters are enough
        status, page = await post(owner, base, **add("Kasir"))  # the same name to a person
        assert status == 400 and said(page) == ["A login named Kasir already exists."]
        status, page = await post(owner, base, **add("k\u0430sir"))  # a Cyrillic а: a look-alike
        assert status == 400 and "no spaces" in said(page)[0]
        for guessable in ("aaaaaaaa", "password", "12345678", "Bismillah2024!", "abcdefgh"):
            status, page = await post(owner, base, **add("kasir3", guessable))
            assert status == 400 and "too easy to guess" in said(page)[0], guessable
        status, page = await post(owner, base, **add("kasir3", "k9-m3p7q"[:MIN_LENGTH]))
        assert status == 200 and said(page) == ["Login kasir3 added."]
    names = [r["username"] for r in await users.list_users(ctx.db)]
    assert names == ["kasir", "kasir3", "pemilik"]


async def test_a_disabled_login_is_logged_out_and_cannot_log_in_until_enabled(shop):
    base, ctx = shop
    async with client() as owner, client() as staff:
        await log_in(staff, base, "kasir")
        assert await logged_in(staff, base)
        await log_in(owner, base, "pemilik")
        status, page = await post(owner, base, action="disable", username="kasir")
        assert status == 200 and said(page) == ["Login kasir dinonaktifkan; semua sesinya sudah berakhir."]
        assert not await logged_in(staff, base)
        assert await sessions_of(ctx.db, "kasir") == 0
        r = await log_in(staff, base, "kasir")  # the right password
        assert r.status == 403 and "dinonaktifkan" in await r.text()
        assert not await logged_in(staff, base)
        r = await log_in(staff, base, "kasir", "salah-salah")  # a wrong one says only "wrong"
        assert r.status == 401 and "dinonaktifkan" not in await r.text()
        status, page = await post(owner, base, action="enable", username="kasir")
        assert status == 200 and said(page) == ["Login kasir aktif lagi."]
        assert (await log_in(staff, base, "kasir")).status == 302 and await logged_in(staff, base)


async def test_disabling_answers_a_waiting_live_poll_at_once(shop):
    """An open page's long poll is told "logged out" when the login is disabled, not at the next change."""
    base, ctx = shop
    async with client() as owner, client() as staff:
        await log_in(staff, base, "kasir")
        await log_in(owner, base, "pemilik")
        page = await (await owner.get(f"{base}/admin/users")).text()
        poll = asyncio.ensure_future(staff.get(f"{base}/live?topic=orders&v={ctx.live.version('orders')}"))
        await wait_until(lambda: ctx.live.waits == 1, what="the long poll waits")
        r = await owner.post(f"{base}/admin/users", data={"csrf": csrf_of(page), "action": "disable",
                                                          "username": "kasir"})
        assert r.status == 200
        answer = await poll
        assert answer.status == 401 and await answer.json() == {"error": "logged out"}


async def test_the_owner_s_own_long_poll_lives_on_when_another_login_is_disabled(shop):
    base, ctx = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        status, _ = await post(owner, base, **add("kasir2"))
        assert status == 200
        poll = asyncio.ensure_future(owner.get(f"{base}/live?topic=orders&v={ctx.live.version('orders')}"))
        await wait_until(lambda: ctx.live.waits == 1, what="the long poll waits")
        ctx.live.sessions_ended((await users.get_user(ctx.db, "pemilik"))["id"])  # woken, its session lives
        await wait_until(lambda: ctx.live.waits == 2, what="waiting again")
        assert not poll.done()
        ctx.live.bump("orders")
        answer = await poll
        assert answer.status == 200 and (await answer.json())["v"] == ctx.live.version("orders")


async def test_a_reset_password_ends_every_session_and_only_the_new_one_works(shop):
    base, ctx = shop
    async with client() as owner, client() as phone, client() as pc:
        await log_in(phone, base, "kasir")
        await log_in(pc, base, "kasir")
        await log_in(owner, base, "pemilik")
        status, page = await post(owner, base, action="password", username="kasir", password=NEW, password2=NEW)
        assert status == 200 and said(page) == ["Kata sandi kasir diganti; sesi lainnya sudah berakhir."]
        assert not await logged_in(phone, base) and not await logged_in(pc, base)
        assert await logged_in(owner, base)
        assert (await log_in(phone, base, "kasir")).status == 401
        assert (await log_in(phone, base, "kasir", NEW)).status == 302
        status, page = await post(owner, base, action="password", username="kasir", password="1234", password2="1234")
        assert status == 400 and said(page) == [f"Kata sandi paling sedikit {MIN_LENGTH} huruf."]
        assert verify_password(NEW, (await users.get_user(ctx.db, "kasir"))["password_hash"])


async def test_own_password_change_needs_the_current_one_and_ends_the_other_sessions(shop):
    base, ctx = shop
    async with client() as phone, client() as pc:
        await log_in(phone, base, "kasir")
        await log_in(pc, base, "kasir")
        status, page = await post(phone, base, "/account", current="salah-salah", password=NEW, password2=NEW)
        assert status == 400 and said(page) == ["Kata sandi sekarang salah."]
        status, page = await post(phone, base, "/account", current="mawar-sore-48", password=NEW, password2=NEW + "x")
        assert status == 400 and said(page) == ["Kedua kata sandi tidak sama."]
        assert verify_password("mawar-sore-48", (await users.get_user(ctx.db, "kasir"))["password_hash"])
        assert await logged_in(pc, base)
        status, page = await post(phone, base, "/account", current="mawar-sore-48", password=NEW, password2=NEW)
        assert status == 200 and said(page) == ["Kata sandi Anda sudah diganti; sesi Anda yang lain sudah berakhir."]
        assert await logged_in(phone, base) and not await logged_in(pc, base)
        assert (await log_in(pc, base, "kasir")).status == 401
        assert (await log_in(pc, base, "kasir", NEW)).status == 302


async def test_the_shop_keeps_an_active_owner(shop):
    base, ctx = shop
    last = "Toko harus punya paling sedikit satu pemilik aktif: tambah atau aktifkan pemilik lain dulu."
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        for fields in ({"action": "disable", "username": "pemilik"},
                       {"action": "role", "username": "pemilik", "role": "staff"}):
            status, page = await post(owner, base, **fields)
            assert status == 409 and said(page) == [last]
        status, _ = await post(owner, base, **add("pemilik2", role="owner"))
        assert status == 200
        status, page = await post(owner, base, action="disable", username="pemilik2")
        assert status == 200
        status, page = await post(owner, base, action="role", username="pemilik", role="staff")
        assert status == 409 and said(page) == [last]  # a disabled owner does not count
        status, page = await post(owner, base, action="enable", username="pemilik2")
        assert status == 200
        status, _ = await post(owner, base, action="role", username="pemilik", role="staff")
        assert status == 302  # demoted: off to the home page, and the users page is no longer theirs
        assert (await owner.get(f"{base}/admin/users")).status == 403
    row = await users.get_user(ctx.db, "pemilik")
    assert row["role"] == "staff" and row["disabled_at"] is None


async def test_staff_cannot_reach_the_owner_s_pages(shop):
    base, ctx = shop
    async with client() as staff:
        await log_in(staff, base, "kasir")
        for path in ("/admin/users", "/api"):
            r = await staff.get(f"{base}{path}", headers={"Accept": "text/html"})
            assert r.status == 403 and "hanya untuk pemilik" in await r.text(), path
        page = await (await staff.get(f"{base}/account")).text()
        r = await staff.post(f"{base}/admin/users", data={"csrf": csrf_of(page), **add("penyusup")})
        assert r.status == 403
        r = await staff.post(f"{base}/admin/users", data={"csrf": csrf_of(page), "action": "disable",
                                                          "username": "pemilik"})
        assert r.status == 403
    assert await users.get_user(ctx.db, "penyusup") is None
    assert (await users.get_user(ctx.db, "pemilik"))["disabled_at"] is None


async def test_every_form_needs_its_csrf_field(shop):
    base, ctx = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        for path, fields in (("/admin/users", add("kasir9")), ("/admin/users", {"action": "disable", "username": "kasir"}),
                             ("/account", {"current": "mawar-sore-48", "password": NEW, "password2": NEW})):
            r = await owner.post(f"{base}{path}", data=fields, allow_redirects=False, headers={"Accept": "text/html"})
            assert r.status == 403 and "kedaluwarsa" in await r.text(), path
    assert await users.get_user(ctx.db, "kasir9") is None
    assert (await users.get_user(ctx.db, "kasir"))["disabled_at"] is None
    assert verify_password("mawar-sore-48", (await users.get_user(ctx.db, "pemilik"))["password_hash"])


async def test_wrong_current_passwords_lock_the_login_like_wrong_logins(shop):
    base, ctx = shop
    async with client() as staff:
        await log_in(staff, base, "kasir")
        for _ in range(3):
            status, _ = await post(staff, base, "/account", current="salah-salah", password=NEW, password2=NEW)
            assert status == 400
        status, page = await post(staff, base, "/account", current="mawar-sore-48", password=NEW, password2=NEW)
        assert status == 400 and said(page) == ["Terlalu banyak percobaan; coba lagi nanti."]
    assert verify_password("mawar-sore-48", (await users.get_user(ctx.db, "kasir"))["password_hash"])


async def test_the_api_page_describes_every_route_for_the_owner(shop):
    base, ctx = shop
    await api_clients.add_client(ctx.db, "kasir-pos", ctx.clock())
    async with client() as owner:
        r = await owner.get(f"{base}/api", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"].startswith("/login")  # a page, not a 401 JSON
        await log_in(owner, base, "pemilik")
        r = await owner.get(f"{base}/api")
        page = await r.text()
        assert r.status == 200 and r.content_type == "text/html"
        for route in ("get-api-messages", "post-api-messages", "get-api-messages-id", "get-api-customers",
                      "get-api-customers-id"):
            assert f'id="{route}"' in page, route
        assert 'id="shape-SendSms"' in page and 'href="#shape-MessageOut"' in page
        assert "Cara mendapat token" in page and "smsd-crm api-client add" in page
        assert "kasir-pos" in page  # the clients there are
        assert (await owner.get(f"{base}/api/openapi.json")).status == 401  # the JSON still needs a token


async def test_the_dashboards_of_an_ended_login_close():
    class Socket:
        closed = None

        async def close(self, code, message):
            self.closed = message

    book = SessionBook(8)
    mine, kept, other = Socket(), Socket(), Socket()
    book.sockets.update({mine: Opened("s1", "sales", 1, "a"), kept: Opened("s2", "sales", 1, "b"),
                         other: Opened("s3", "sales", 2, "c")})

    async def alive(login: str) -> bool:
        return login != "a"  # login "a" ended (user 1's other login "b" lives on)
    assert await book.recheck(alive, user_id=1) == 1
    assert mine.closed == b"logged out" and kept.closed is None and other.closed is None


async def test_logins_made_before_disabling_existed_are_active(tmp_path):
    db = await Database.open(tmp_path / "old.sqlite3")
    try:
        await migrate(db, [("core", m) for m in CORE_MIGRATIONS if m.name != "m017_users_disabled"])
        await db.execute("INSERT INTO users (username, password_hash, role, created_at) "
                         "VALUES ('pemilik', 'x', 'owner', '2026-01-01')")
        assert await migrate(db, [("core", m) for m in CORE_MIGRATIONS]) == ["core:m017_users_disabled"]
        assert (await users.get_user(db, "pemilik"))["disabled_at"] is None
    finally:
        await db.close()
