"""Secrets out of everything: the owner's PIN, typed with any keyword or typo, never reaches the pages,
the simulator's history, the JSON API, webhooks, the log or the database file; DEBUG logs carry no
SQL values or tokens. The daemon runs as `smsd-crm run` with an emulated modem; every client is real."""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from smsd_crm.storage.db import Database

from .conftest import SMSD_CRM, query, wait_until, write_config
from .test_web_auth import client, csrf_of, log_in

PIN = "975310"
OWNER = "0811 0000 0001"
TYPED = ["LAPRN 975310", "975310 laporan", "tolong 975310", "LAPORAN975310"]


@pytest.fixture
async def hooks():
    """A webhook receiver on loopback: the bodies it was sent."""
    bodies: list[bytes] = []

    async def take(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return web.Response(status=204)
    app = web.Application()
    app.router.add_post("/hook", take)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield bodies, "http://127.0.0.1:%d/hook" % runner.addresses[0][1]
    await runner.cleanup()


def _cli(config: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run([SMSD_CRM, *args, "-c", str(config)], input=stdin, text=True, check=True,
                          capture_output=True, timeout=60).stdout


async def test_the_owners_pin_is_nowhere_whatever_was_typed(tmp_path, daemons, hooks, monkeypatch):
    bodies, url = hooks
    monkeypatch.setenv("OWNER_PIN", PIN)
    config = write_config(tmp_path, "emulator", extra=f"""
        emulator: {{control_socket: {tmp_path}/emu.sock}}
        logging: {{level: DEBUG}}
        plugins_dir: null
        plugins:
          owner: {{numbers: ['{OWNER}'], pin: {{$env: OWNER_PIN}}}}
          webhooks: {{retry_min: 0.2, endpoints: [{{url: '{url}', secret: rahasia-webhook-0123456789,
                                                   events: [message.received]}}]}}
        """)
    for name, role in (("pemilik", "owner"), ("kasir", "staff")):
        _cli(config, "user", "add", name, "--role", role, "--password-stdin", stdin="mawar-sore-48\n")
    token = _cli(config, "api-client", "add", "kasir-pos").strip().splitlines()[-1]
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    base = await wait_until(lambda: (m := re.search(r"web pages on (http://127\.0\.0\.1:\d+)/", log.read_text()))
                            and m.group(1), 30, "web address in the log")
    db = tmp_path / "data" / "test.sqlite3"
    async with client() as owner:  # the owner tries the commands on the phone simulator, mistyped
        assert (await log_in(owner, base, "pemilik")).status == 302
        for text in TYPED:
            csrf = csrf_of(await (await owner.get(f"{base}/simulator")).text())
            r = await owner.post(f"{base}/simulator/send", data={"csrf": csrf, "phone": OWNER, "text": text})
            assert r.status == 200
        await wait_until(lambda: query(db, "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND state = "
                                           "'handled'") == [(len(TYPED),)], 60, "every SMS handled")
        await wait_until(lambda: len(bodies) == len(TYPED), 60, "a webhook per SMS")
        seen = [await (await owner.get(f"{base}/simulator", params={"phone": OWNER})).text()]
    async with client() as staff:
        assert (await log_in(staff, base, "kasir")).status == 302
        for path in ("/messages", "/messages/conversation?phone=081100000001"):
            page = await (await staff.get(base + path)).text()
            assert "****" in page, path
            seen.append(page)
        page = await (await staff.get(f"{base}/simulator?phone=081100000001")).text()
        assert "nomor pemilik" in page  # the owner's thread is not shown to staff at all
        seen.append(page)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as api:
        seen.append(await (await api.get(f"{base}/api/messages")).text())
    seen += [b.decode() for b in bodies]
    seen.append(log.read_text())
    for found in seen:
        assert not re.search(r"9\D?7\D?5\D?3\D?1\D?0", found), found[-2000:]
    stored = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    assert PIN.encode() not in stored  # not in the database, its WAL or a freed page


async def test_sql_values_never_reach_a_debug_log(tmp_path, caplog):
    """Whoever turns DEBUG on (the CLI's -v, an embedding program, a test run), the database layer logs
    no statement with its values: a session token written to the database stays out of the log."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("aiosqlite").setLevel(logging.NOTSET)
    db = await Database.open(tmp_path / "t.sqlite3")
    try:
        await db.execute("CREATE TABLE t (token TEXT)")
        await db.execute("INSERT INTO t VALUES (?)", ("csrf-geheim-0123456789",))
        assert (await db.fetchone("SELECT token FROM t"))[0] == "csrf-geheim-0123456789"
    finally:
        await db.close()
    assert "csrf-geheim-0123456789" not in caplog.text and "INSERT" not in caplog.text
