"""Least privilege on a real loopback server: staff play only test numbers on the phone simulator and
never the owner's; API tokens carry scopes checked per route and a rate limit per token."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from smsd_crm.config import parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.emulator.simulator import PhoneSimulator
from smsd_crm.storage import users
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.passwords import hash_password

from .test_web_auth import Clock, client, csrf_of, log_in

OWNER_YAML = "plugins: {owner: {numbers: ['0811-0000-0001'], pin: '975310'}}\n"


class FakeModem:
    """What the simulator needs of an emulated modem: it records what the simulator delivers."""

    modem_id = "sim1"

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []

    def watch(self, callback) -> None:
        pass

    def deliver(self, phone: str, text: str) -> None:
        self.delivered.append((phone, text))


@asynccontextmanager
async def site(tmp_path, yaml: str = ""):
    """(base url, db, the fake modem) of pages with a phone simulator; logins pemilik and kasir."""
    settings = parse_config("web: {port: 0}\nplugins_dir: null\n" + OWNER_YAML + yaml, tmp_path / "c.yaml")
    clock = Clock()
    modem = FakeModem()
    async with offline_session(settings, clock, third_party=False) as (host, db):
        for name, role in (("pemilik", "owner"), ("kasir", "staff")):
            await users.add_user(db, name, hash_password("mawar-sore-48"), role, clock())
        simulator = PhoneSimulator([modem], clock, mask=host.masker().mask)
        runner = await start_web(WebContext(db, settings.web, settings.store, clock, host, simulator=simulator,
                                            settings=settings))
        try:
            yield "http://%s:%d" % runner.addresses[0][:2], db, modem
        finally:
            await runner.cleanup()


async def _send(s, base: str, phone: str, text: str = "BANTUAN") -> str:
    """Send on the simulator page; the address it leads back to."""
    csrf = csrf_of(await (await s.get(f"{base}/simulator")).text())
    r = await s.post(f"{base}/simulator/send", data={"csrf": csrf, "phone": phone, "text": text},
                     allow_redirects=False)
    assert r.status == 302
    return r.headers["Location"]


async def test_staff_send_only_from_test_numbers_and_never_as_the_owner(tmp_path):
    async with site(tmp_path) as (base, _, modem):
        async with client() as staff:
            await log_in(staff, base, "kasir")
            assert (await _send(staff, base, "0812 0000 1234")).endswith("phone=0812%200000%201234")
            assert "error=range" in await _send(staff, base, "0812 3456 7890")  # a real customer's number
            assert "error=owner_number" in await _send(staff, base, "0811 0000 0001", "LAPORAN 975310")
            page = await (await staff.get(f"{base}/simulator", params={"phone": "0812 3456 7890",
                                                                       "error": "range"})).text()
            assert "bukan nomor uji (+628120000)" in page
        assert modem.delivered == [("+6281200001234", "BANTUAN")]
        async with client() as owner:  # the owner plays any number, their own too
            await log_in(owner, base, "pemilik")
            assert "error" not in await _send(owner, base, "0812 3456 7890")
            assert "error" not in await _send(owner, base, "0811 0000 0001", "LAPORAN 975310")
            history = await (await owner.get(f"{base}/simulator", params={"phone": "0811 0000 0001"})).text()
            assert "LAPORAN ****" in history and "975310" not in history
        assert modem.delivered[1:] == [("+6281234567890", "BANTUAN"), ("+6281100000001", "LAPORAN 975310")]
        async with client() as staff:  # the owner's thread (reports, stock) is not staff's to read
            await log_in(staff, base, "kasir")
            page = await (await staff.get(f"{base}/simulator", params={"phone": "0811 0000 0001"})).text()
            assert "LAPORAN" not in page and "Staf tidak boleh mengirim sebagai nomor pemilik" in page
            page = await (await staff.get(f"{base}/simulator", params={"phone": "0812 3456 7890"})).text()
            assert "BANTUAN" not in page  # a real customer's number: outside the test range, not shown


async def test_the_owner_may_open_every_number_but_their_own_to_staff(tmp_path):
    async with site(tmp_path, "simulator: {any_number: true}\n") as (base, _, modem):
        async with client() as staff:
            await log_in(staff, base, "kasir")
            assert "error" not in await _send(staff, base, "0812 3456 7890")
            assert "error=owner_number" in await _send(staff, base, "+62 811 0000 0001")
        assert modem.delivered == [("+6281234567890", "BANTUAN")]


def test_test_numbers_are_written_as_e164_prefixes(tmp_path):
    from smsd_crm.errors import ConfigError
    with pytest.raises(ConfigError, match="simulator.numbers"):
        parse_config("simulator: {numbers: ['0812 0000']}\n", tmp_path / "c.yaml")


# ------------------------------------------------------------------ API tokens: scopes and rate limit

@asynccontextmanager
async def api_site(tmp_path, yaml: str = ""):
    """(base url, db, the tests' clock, {scopes: Authorization header}) of a real API server."""
    from smsd_crm.storage import api_clients
    settings = parse_config("web: {port: 0}\n" + yaml, tmp_path / "c.yaml")
    clock = Clock()
    async with offline_session(settings, clock, third_party=False) as (host, db):
        tokens = {}
        for name, scopes in (("pos", ("read",)), ("sender", ("send",)), ("both", ("read", "send"))):
            token = await api_clients.add_client(db, name, clock(), scopes)
            tokens[scopes] = {"Authorization": f"Bearer {token}"}
        runner = await start_web(WebContext(db, settings.web, settings.store, clock, host, settings=settings))
        try:
            yield "http://%s:%d" % runner.addresses[0][:2], db, clock, tokens
        finally:
            await runner.cleanup()


async def test_a_token_calls_only_the_routes_of_its_scopes(tmp_path):
    import aiohttp
    sms = {"to": "0812 3456 7890", "text": "Pesanan siap"}
    async with api_site(tmp_path) as (base, db, _, tokens), aiohttp.ClientSession() as s:
        reader, sender, both = tokens[("read",)], tokens[("send",)], tokens[("read", "send")]
        assert (await s.get(f"{base}/api/messages", headers=reader)).status == 200
        assert (await s.get(f"{base}/api/customers", headers=reader)).status == 200
        for path, body in (("/api/messages", sms), ("/api/orders/1/state", {"state": "ready"})):
            r = await s.post(base + path, json=body, headers=reader)
            assert r.status == 403 and "'send' scope" in (await r.json())["error"], path
        assert (await db.fetchone("SELECT COUNT(*) FROM messages"))[0] == 0  # nothing was sent
        assert (await s.post(f"{base}/api/messages", json=sms, headers=sender)).status == 201
        assert (await s.get(f"{base}/api/messages", headers=sender)).status == 403  # sending is not reading
        assert (await s.post(f"{base}/api/messages", json=sms, headers=both)).status == 201
        assert len(await (await s.get(f"{base}/api/messages", headers=both)).json()) == 2
        spec = await (await s.get(f"{base}/api/openapi.json", headers=reader)).json()
        assert spec["paths"]["/api/messages"]["post"]["security"] == [{"token": ["send"]}]
        assert spec["paths"]["/api/orders/{id}"]["get"]["security"] == [{"token": ["read"]}]


async def test_each_token_has_a_rate_limit(tmp_path):
    import aiohttp
    async with api_site(tmp_path, "api: {per_minute: 60, burst: 3}\n") as (base, _, clock, tokens), \
            aiohttp.ClientSession() as s:
        reader, other = tokens[("read",)], tokens[("read", "send")]
        assert [(await s.get(f"{base}/api/customers", headers=reader)).status for _ in range(3)] == [200] * 3
        r = await s.get(f"{base}/api/customers", headers=reader)
        assert r.status == 429 and r.headers["Retry-After"] == "1" and "too many calls" in (await r.json())["error"]
        assert (await s.get(f"{base}/api/openapi.json", headers=reader)).status == 429
        assert (await s.get(f"{base}/api/customers", headers=other)).status == 200  # another token: its own bucket
        clock.now += timedelta(seconds=1)  # a call a second comes back
        assert (await s.get(f"{base}/api/customers", headers=reader)).status == 200
        assert (await s.get(f"{base}/api/customers", headers=reader)).status == 429


def test_new_tokens_read_only_unless_told_and_the_list_shows_scopes(tmp_path):
    import subprocess

    from .conftest import SMSD_CRM
    config = tmp_path / "c.yaml"
    config.write_text("database: {path: data/shop.sqlite3}\n")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([SMSD_CRM, "api-client", *args, "-c", str(config)], capture_output=True, text=True,
                              timeout=60)
    assert "allowed to read." in cli("add", "pos").stdout
    assert "allowed to read and send." in cli("add", "app", "--scope", "send", "--scope", "read").stdout
    assert cli("add", "bad", "--scope", "write").returncode == 2
    listing = cli("list").stdout.splitlines()
    assert listing[0].split()[:2] == ["app", "read"] and listing[0].split()[2] == "send"
    assert listing[1].split()[:3] == ["pos", "read", "active"]


async def test_tokens_made_before_scopes_keep_what_they_could_do(tmp_path):
    from smsd_crm.storage import api_clients
    from smsd_crm.storage.db import Database
    from smsd_crm.storage.migrate import migrate
    from smsd_crm.storage.schema import CORE_MIGRATIONS, core_schema
    db = await Database.open(tmp_path / "old.sqlite3")
    try:
        before = [m for m in CORE_MIGRATIONS if m.name != "m019_api_client_scopes"]
        await migrate(db, [("core", m) for m in before])
        await db.execute("INSERT INTO api_clients (name, token_hash, created_at) VALUES ('kasir-pos', 'h', 'x')")
        await migrate(db, core_schema())
        assert await api_clients.scopes_of(db, "kasir-pos") == {"read", "send"}
    finally:
        await db.close()
