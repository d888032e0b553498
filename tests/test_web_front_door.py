"""The web's front door: the Host check (DNS rebinding) and redirects that stay on this site, against a
real aiohttp server on loopback."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from smsd_crm.config import StoreConfig, WebConfig, parse_config
from smsd_crm.errors import ConfigError
from smsd_crm.storage import users
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import core_schema
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.base import CTX, USER, local
from smsd_crm.web.hosts import host_allowed
from smsd_crm.web.pages import PageView
from smsd_crm.web.passwords import hash_password

from .test_web_auth import Clock, client, csrf_of


@pytest.fixture
async def site(tmp_path):
    db = await Database.open(tmp_path / "web.sqlite3")
    await migrate(db, core_schema())
    clock = Clock()
    await users.add_user(db, "kasir", hash_password("mawar-sore-48"), "staff", clock())
    runner = await start_web(WebContext(db, WebConfig(port=0, allowed_hosts=["Toko.LAN."]), StoreConfig(), clock))
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", port, db
    await runner.cleanup()
    await db.close()


HOSTILE_HOSTS = ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil.example",
                 "toko.lan.evil.example", "127.0.0.1:80x", "[::1", "[::1]x", "", "10.0.0.5"]


@pytest.mark.parametrize("hostile", HOSTILE_HOSTS)
async def test_a_foreign_host_is_refused_before_anything_else(site, hostile):
    base, _, db = site
    async with client() as s:
        # A page asks for the home page: refused, not redirected to the login (no login work at all)
        r = await s.get(f"{base}/", headers={"Host": hostile, "Accept": "text/html"}, allow_redirects=False)
        assert r.status == 421
        page = await r.text()
        assert "Alamat ini bukan alamat halaman toko" in page and "web.allowed_hosts" in page
        port = base.rsplit(":", 1)[1]
        assert f"http://127.0.0.1:{port}/" in page  # where the pages are, with the port
        assert r.headers["X-Frame-Options"] == "DENY"  # still the protective headers
        # A rebound login form: no form, no cookie
        r = await s.get(f"{base}/login", headers={"Host": hostile}, allow_redirects=False)
        assert r.status == 421 and "Set-Cookie" not in r.headers
        assert "not one of the shop's addresses" in await r.text()  # a program gets the English words
        r = await s.post(f"{base}/login", headers={"Host": hostile},
                         data={"username": "kasir", "password": "mawar-sore-48", "csrf": "x"},
                         allow_redirects=False)
        assert r.status == 421 and "Set-Cookie" not in r.headers
        assert (await s.get(f"{base}/api/messages", headers={"Host": hostile})).status == 421
    assert (await db.fetchone("SELECT COUNT(*) FROM web_sessions"))[0] == 0


async def test_loopback_and_configured_names_are_served(site):
    base, port, _ = site
    async with client() as s:
        for good in (f"127.0.0.1:{port}", "127.0.0.1", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}", "[::1]",
                     "127.0.0.2", f"toko.lan:{port}", "TOKO.lan", "toko.lan."):
            r = await s.get(f"{base}/login", headers={"Host": good}, allow_redirects=False)
            assert r.status == 200, good
        page = await (await s.get(f"{base}/login")).text()  # the client's own Host header
        assert csrf_of(page)


def test_host_rule():
    allowed = frozenset({"toko.lan"})
    assert host_allowed("192.168.1.10:8080", allowed, local_address="192.168.1.10")  # the address reached
    assert host_allowed("[::ffff:127.0.0.1]:8080", allowed)
    assert host_allowed("[fe80::1]:8080", allowed, local_address="fe80::1%eth0")
    assert not host_allowed("192.168.1.11:8080", allowed, local_address="192.168.1.10")
    assert not host_allowed("192.168.1.10:8080", allowed)
    assert not host_allowed(None, allowed)
    assert not host_allowed("toko.lan:99999999", allowed)


def test_allowed_hosts_are_checked_in_config(tmp_path):
    settings = parse_config("web: {allowed_hosts: [Toko.Lan., 192.168.1.10, 'fe80::1']}\n", tmp_path / "c.yaml")
    assert settings.web.allowed_hosts == ["toko.lan", "192.168.1.10", "fe80::1"]
    for wrong in ("http://toko.lan", "toko.lan:8080", "toko lan", "*.lan", "-toko.lan", ""):
        with pytest.raises(ConfigError, match="web.allowed_hosts"):
            parse_config(f"web: {{allowed_hosts: ['{wrong}']}}\n", tmp_path / "c.yaml")


SAME_SITE = ["/", "/orders", "/orders?moved=5&to=ready", "/complaints#ticket-3", "/customers?q=Budi%20Santoso",
             "/x?next=//elsewhere", "/%E2%9C%93"]
OTHER_SITES = ["//evil.example", "/\\evil.example", "\\\\evil.example", "/%5Cevil.example", "/%5cevil.example",
               "/%2F%2Fevil.example", "%2F%2Fevil.example", "/%252F%252Fevil.example", "/\t/evil.example",
               "/\n/evil.example", "/%09/evil.example", "/%0d%0aSet-Cookie:%20x=1", "/x\r\nSet-Cookie: x=1",
               "https://evil.example/", "http:/evil.example", "javascript:alert(1)", " /orders", "orders",
               "", "/" + "a" * 3000, "/caf\u00e9", "/x\x00y", "/x\x7f"]


@pytest.mark.parametrize("target", SAME_SITE)
def test_same_site_paths_are_kept(target):
    assert local(target) == target


@pytest.mark.parametrize("target", OTHER_SITES)
def test_other_sites_go_home(target):
    assert local(target) == "/"


@pytest.mark.parametrize("target", ["/\\evil.example", "//evil", "/%5Cevil", "/\t/evil", "https://evil.example"])
def test_a_plugin_page_redirects_only_on_this_site(target):
    app = web.Application()
    app[CTX] = WebContext(None, WebConfig(), StoreConfig(), Clock())
    request = make_mocked_request("POST", "/orders", app=app)
    request[USER] = {"username": "kasir", "role": "staff", "csrf": "c", "user_id": 1}
    with pytest.raises(web.HTTPFound) as found:
        PageView(request, {}, None).redirect(target)
    assert found.value.location == "/"
    with pytest.raises(web.HTTPFound) as found:
        PageView(request, {}, None).redirect("/orders?moved=5&to=ready")
    assert found.value.location == "/orders?moved=5&to=ready"


async def test_language_switch_and_login_go_back_only_on_this_site(site):
    base, _, _ = site
    async with client() as s:
        for target in ("/%5Cevil.example", "/\\evil.example", "//evil.example"):
            r = await s.get(f"{base}/lang/en", params={"next": target}, allow_redirects=False)
            assert r.status == 302 and r.headers["Location"] == "/", target
        page = await (await s.get(f"{base}/login")).text()
        r = await s.post(f"{base}/login", data={"username": "kasir", "password": "mawar-sore-48",
                                               "csrf": csrf_of(page), "next": "/\\evil.example"},
                         allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/"


@pytest.mark.parametrize("content_type, body", [
    ("multipart/form-data; boundary=", b"anything"),  # no boundary: aiohttp cannot find its start
    ("application/x-www-form-urlencoded; charset=xx-bogus", b"username=a&password=b"),  # unknown charset
    ("application/x-www-form-urlencoded", b"username=\xff\xfe&password=b"),  # bytes that are not UTF-8
])
async def test_a_broken_form_body_is_a_400_without_a_traceback(site, caplog, content_type, body):
    base, _, _ = site
    async with client() as s:
        for _ in range(3):
            r = await s.post(f"{base}/login", data=body, headers={"Content-Type": content_type},
                             allow_redirects=False)
            assert r.status == 400
    assert not [rec for rec in caplog.records if rec.exc_info or "Error handling request" in rec.getMessage()]
