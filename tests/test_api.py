"""The JSON API on a real loopback server: tokens, validation, the routes plugins add, the OpenAPI
description, and schemathesis against a running daemon."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from smsd_crm.config import parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.storage import api_clients, customers, users
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.passwords import hash_password

from .conftest import SMSD_CRM, wait_until, write_config
from .test_web_auth import Clock, client, log_in

ST = Path(sys.executable).parent / "st"


@pytest.fixture
async def api(tmp_path):
    """(base url, db, headers with a valid token)."""
    settings = parse_config("web: {port: 0}\n", tmp_path / "c.yaml")
    clock = Clock()
    async with offline_session(settings, clock, third_party=False) as (host, db):
        token = await api_clients.add_client(db, "kasir-pos", clock(), scopes=("read", "send"))
        runner = await start_web(WebContext(db, settings.web, settings.store, clock, host))
        base = "http://%s:%d" % runner.addresses[0][:2]
        try:
            yield base, db, {"Authorization": f"Bearer {token}"}
        finally:
            await runner.cleanup()


ROUTES = [("GET", "/api/messages"), ("POST", "/api/messages"), ("GET", "/api/messages/1"), ("GET", "/api/customers"),
          ("GET", "/api/customers/1"), ("GET", "/api/orders"), ("GET", "/api/orders/1"),
          ("POST", "/api/orders/1/state"), ("GET", "/api/complaints"), ("GET", "/api/openapi.json")]


async def test_no_api_call_without_a_valid_token(api):
    base, db, good = api
    await users.add_user(db, "pemilik", hash_password("mawar-sore-48"), "owner", Clock()())
    async with client() as s:
        await log_in(s, base, "pemilik")  # a browser session is no API token
        for headers in ({}, {"Authorization": "Bearer smsd_wrong-token-000000000000000"},
                        {"Authorization": "Basic cGVtaWxpazpyYWhhc2lhLTEyMw=="},
                        {"Authorization": good["Authorization"].replace("Bearer ", "Bearer x")}):
            for method, path in ROUTES:
                r = await s.request(method, base + path, headers=headers, json={})
                assert r.status == 401, (method, path, headers)
                assert r.headers["WWW-Authenticate"] == "Bearer" and "error" in await r.json()
        assert (await s.get(f"{base}/api/customers", headers=good)).status == 200
        assert await api_clients.revoke(db, "kasir-pos", Clock()())
        assert (await s.get(f"{base}/api/customers", headers=good)).status == 401
    row = await db.fetchone("SELECT token_hash, last_used_at FROM api_clients")
    assert good["Authorization"].split()[1] not in row[0] and row[1]  # only the hash is kept


async def test_send_an_sms_and_list_messages(api):
    base, db, headers = api
    async with aiohttp.ClientSession(headers=headers) as s:
        r = await s.post(f"{base}/api/messages", json={"to": "0812-3456-7890", "text": "Pesanan siap 🙂"})
        assert r.status == 201
        sent = await r.json()
        assert sent["phone"] == "+6281234567890" and sent["state"] == "queued" and sent["direction"] == "out"
        assert set(sent) == {"id", "direction", "state", "phone", "address", "text", "created_at", "updated_at"}
        row = await db.fetchone("SELECT plugin, priority, text FROM messages WHERE id = ?", (sent["id"],))
        assert tuple(row) == ("api:kasir-pos", 5, "Pesanan siap 🙂")
        assert [m["id"] for m in await (await s.get(f"{base}/api/messages", params={"direction": "out"})).json()] == [sent["id"]]
        assert await (await s.get(f"{base}/api/messages", params={"direction": "in"})).json() == []
        assert len(await (await s.get(f"{base}/api/messages", params={"phone": "081234567890"})).json()) == 1
        assert await (await s.get(f"{base}/api/messages", params={"phone": "TELKOMSEL"})).json() == []
        assert (await (await s.get(f"{base}/api/messages/{sent['id']}")).json())["text"] == "Pesanan siap 🙂"
        assert (await s.get(f"{base}/api/messages/999")).status == 404


@pytest.mark.parametrize("body, status, field", [
    ({"to": "081234567890"}, 422, "text"),
    ({"to": "081234567890", "text": "   "}, 422, "text"),
    ({"to": "081234567890", "text": "x" * 1531}, 422, "text"),
    ({"to": "TELKOMSEL", "text": "halo"}, 422, None),
    ({"to": 81234567890, "text": "halo"}, 422, "to"),
    ([], 422, None),
])
async def test_bad_sms_requests_get_a_clear_4xx(api, body, status, field):
    base, db, headers = api
    async with aiohttp.ClientSession(headers=headers) as s:
        r = await s.post(f"{base}/api/messages", json=body)
        answer = await r.json()
        assert r.status == status and answer["error"]
        if field:
            assert field in [d["field"] for d in answer["details"]]
    assert (await db.fetchone("SELECT COUNT(*) FROM messages"))[0] == 0


async def test_broken_bodies_and_queries(api):
    base, db, headers = api
    async with aiohttp.ClientSession(headers=headers) as s:
        r = await s.post(f"{base}/api/messages", data=b'{"to": "0812', headers={"Content-Type": "application/json"})
        assert r.status == 400 and "not valid JSON" in (await r.json())["error"]
        r = await s.post(f"{base}/api/messages", data=b'to=0812&text=x')
        assert r.status == 415
        r = await s.post(f"{base}/api/messages", data=b'{"to": "081234567890", "text": "\\ud800"}',
                         headers={"Content-Type": "application/json"})
        assert r.status == 400 and "Unicode" in (await r.json())["error"]
        r = await s.post(f"{base}/api/messages", data=b'\xff\xfe', headers={"Content-Type": "application/json"})
        assert r.status == 400
        for params in ({"limit": "abc"}, {"limit": "0"}, {"limit": "501"}, {"state": "lost"}, {"before": "-1"}):
            r = await s.get(f"{base}/api/messages", params=params)
            assert r.status == 422, params
        assert (await s.get(f"{base}/api/messages/abc")).status == 422
        assert (await s.get(f"{base}/api/messages/99999999999999999999999")).status == 422
    assert (await db.fetchone("SELECT COUNT(*) FROM messages"))[0] == 0


async def test_orders_complaints_and_customers_from_plugins(api):
    base, db, headers = api
    now = Clock()().isoformat()
    await customers.upsert(db, "+6281234567890", Clock()(), name="Siti")
    order = await db.fetchval("INSERT INTO orders (phone, state, total, language, created_at, updated_at) "
                             "VALUES ('+6281234567890', 'new', 26000, 'id', ?, ?) RETURNING id", (now, now))
    await db.execute("INSERT INTO order_lines VALUES (?, 1, 1, 'GLA1', 'Gula 1kg', 2, 13000, 12000)", (order,))
    ticket = await db.fetchval("INSERT INTO complaints (phone, state, language, opened_at) "
                              "VALUES ('+6281234567890', 'open', 'id', ?) RETURNING id", (now,))
    await db.execute("INSERT INTO complaint_notes (complaint_id, at, author, text) VALUES (?, ?, 'customer', 'telur pecah')",
                     (ticket, now))
    async with aiohttp.ClientSession(headers=headers) as s:
        orders = await (await s.get(f"{base}/api/orders", params={"state": "new"})).json()
        assert orders[0]["id"] == order and orders[0]["lines"] == [
            {"code": "GLA1", "name": "Gula 1kg", "quantity": 2, "price": 13000}]
        assert await (await s.get(f"{base}/api/orders", params={"state": "done"})).json() == []
        r = await s.post(f"{base}/api/orders/{order}/state", json={"state": "ready"})
        assert r.status == 200 and (await r.json())["state"] == "ready"
        sms = await db.fetchone("SELECT phone, text FROM messages WHERE direction = 'out'")
        assert tuple(sms) == ("+6281234567890", f"Pesanan #{order} sudah siap. Total Rp26.000. Terima kasih!")
        event = await db.fetchone("SELECT state, by FROM order_events ORDER BY rowid DESC LIMIT 1")
        assert tuple(event) == ("ready", "api:kasir-pos")
        r = await s.post(f"{base}/api/orders/{order}/state", json={"state": "ready"})
        assert r.status == 409 and "cannot become ready" in (await r.json())["error"]
        assert (await s.post(f"{base}/api/orders/{order}/state", json={"state": "new"})).status == 422
        assert (await s.post(f"{base}/api/orders/999/state", json={"state": "done"})).status == 404
        tickets = await (await s.get(f"{base}/api/complaints")).json()
        assert tickets[0]["id"] == ticket and tickets[0]["notes"][0]["text"] == "telur pecah"
        found = await (await s.get(f"{base}/api/customers", params={"q": "0812 3456"})).json()
        assert [c["name"] for c in found] == ["Siti"]
        assert (await (await s.get(f"{base}/api/customers/{found[0]['id']}")).json())["phone"] == "+6281234567890"


async def test_openapi_describes_every_route(api):
    base, _, headers = api
    async with aiohttp.ClientSession(headers=headers) as s:
        spec = await (await s.get(f"{base}/api/openapi.json")).json()
    assert spec["openapi"] == "3.1.0"
    described = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert described == {("GET", "/api/messages"), ("POST", "/api/messages"), ("GET", "/api/messages/{id}"),
                         ("GET", "/api/customers"), ("GET", "/api/customers/{id}"), ("GET", "/api/orders"),
                         ("GET", "/api/orders/{id}"), ("POST", "/api/orders/{id}/state"), ("GET", "/api/complaints")}
    send = spec["paths"]["/api/messages"]["post"]
    assert send["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/SendSms"
    assert {"201", "401", "422"} <= set(send["responses"])
    for ref in re.findall(r'"\$ref": "#/components/schemas/(\w+)"', str(spec).replace("'", '"')):
        assert ref in spec["components"]["schemas"], ref


async def test_schemathesis_finds_no_server_error(tmp_path, emulator, daemons):
    """Property-based requests from the OpenAPI description against `smsd-crm run`: no 5xx, answers match
    the published schemas. (positive_data_acceptance is left out: whether "000" is a phone number is
    decided by the numbering plan, which a JSON schema cannot say.)"""
    config = write_config(tmp_path, emulator.device, extra="plugins_dir: null\napi: {burst: 100000}\n")
    (tmp_path / "data").mkdir()
    out = subprocess.run([SMSD_CRM, "api-client", "add", "schemathesis", "--scope", "read", "--scope", "send",
                          "-c", str(config)], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    token = out.strip().splitlines()[-1]
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    base = await wait_until(lambda: (m := re.search(r"web pages on (http://127\.0\.0\.1:\d+)/", log.read_text()))
                            and m.group(1), 30, "web address in the log")
    proc = await asyncio.create_subprocess_exec(
        str(ST), "run", f"{base}/api/openapi.json", "-H", f"Authorization: Bearer {token}",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", "40",
        "--seed", "20261123", "--no-color", "--report", "junit", "--report-dir", str(tmp_path / "st"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path)
    output = (await asyncio.wait_for(proc.communicate(), 300))[0].decode()
    assert proc.returncode == 0, output[-4000:]
    assert "Tested: 9" in output and "server error" not in output.lower()
    assert token not in log.read_text()  # the token is never logged
