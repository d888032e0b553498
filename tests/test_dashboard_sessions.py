"""Dashboards follow the login that opened them (issue 15), against a real aiohttp server on loopback
with the real dashboards worker process (Bokeh's server) behind it and a real websocket client
speaking Bokeh's protocol: closed at logout, expiry, a lost owner role; a few Bokeh sessions per user;
their teardown; Bokeh's collections spaced out; only the parameters Bokeh needs reach it; CSV file
names that cannot break the header."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import queue
import re
import signal
import threading
from datetime import timedelta

import aiohttp
import pytest
from bokeh.models import Div
from bokeh.util.token import get_session_id
from smsd_crm_dashboards.handoff import upgrade_request
from smsd_crm_dashboards.link import WorkerLink
from smsd_crm_dashboards.proxy import DashboardProxy
from smsd_crm_dashboards.sessions import SpacedCollector
from smsd_crm_dashboards.spec import ViewSpec, WorkerSpec
from smsd_crm_dashboards.views import BUILTIN
from yarl import URL

from smsd_crm.config import StoreConfig, WebConfig
from smsd_crm.storage import users
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import core_schema
from smsd_crm.web import dashboard_pages
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.passwords import hash_password

from .conftest import wait_until
from .test_web_auth import Clock, client, csrf_of, log_in

PER_USER = 3


def tiny(doc, data, hub, lang=None):
    """A view with one counter, changed by every refresh (what a live update looks like). It runs in
    the worker process: the request arguments Bokeh kept go to the file $TINY_ARGUMENTS names."""
    if os.environ.get("TINY_ARGUMENTS"):
        with open(os.environ["TINY_ARGUMENTS"], "a") as f:
            f.write(json.dumps(sorted((k, [v.decode() for v in vs]) for k, vs in
                                      doc.session_context.request.arguments.items())) + "\n")
    marker = Div(text="0", name="revision")

    async def refresh() -> None:
        marker.text = str(int(marker.text) + 1)
    doc.add_root(marker)
    hub.register(doc, refresh)
    return refresh


@pytest.fixture
async def shop(request, tmp_path, monkeypatch):
    # a session nobody connects to is dropped after 50 ms (the teardown tests); a test that reads a
    # session after creating it asks for them to be kept (``@pytest.mark.parametrize("shop", [3600], indirect=True)``)
    unused = getattr(request, "param", 0.05)
    monkeypatch.setattr(dashboard_pages, "LOGIN_CHECK", 0.05)  # expiry noticed at once, not within 30 s
    db = await Database.open(tmp_path / "web.sqlite3")
    await migrate(db, core_schema())
    clock = Clock()
    for name, role in (("pemilik", "owner"), ("istri", "owner"), ("kasir", "staff")):
        await users.add_user(db, name, hash_password("mawar-sore-48"), role, clock())
    spec = WorkerSpec(str(tmp_path / "web.sqlite3"), "Asia/Jakarta", {}, False,
                      [ViewSpec("tiny", "dash.view.sales", f"{__name__}:tiny", plugin="tests"), BUILTIN[0]],
                      "a-test-signing-key", "a-test-secret", 3600, unused_seconds=unused, check_seconds=0.05)
    host = DashboardProxy(spec.views, WorkerLink(spec), spec.signing_key, per_user=PER_USER)
    await host.start()
    ctx = WebContext(db, WebConfig(port=0, session_minutes=30), StoreConfig(name="Toko Uji"), clock, dashboards=host)
    runner = await start_web(ctx)
    yield "http://%s:%d" % runner.addresses[0][:2], ctx, host
    await runner.cleanup()
    await host.stop()
    await db.close()


async def autoload(s, base: str, **extra) -> str:
    """What the dashboard page's script tag loads: the view's autoload.js (its session token inside)."""
    r = await s.get(f"{base}/dash/tiny/autoload.js", params={"bokeh-autoload-element": "bk-tiny",
                                                             "bokeh-app-path": "/dash/tiny", "lang": "id", **extra})
    assert r.status == 200, await r.text()
    return await r.text()


def token_of(script: str) -> str:
    return re.search(r'\\?"token\\?":\\?"([^"\\]+)', script).group(1)


async def open_socket(s, base: str, token: str):
    ws = await s.ws_connect(f"{base.replace('http', 'ws')}/dash/tiny/ws", protocols=("bokeh", token),
                            headers={"Origin": base}, max_msg_size=0)
    assert (await next_message(ws))["msgtype"] == "ACK"
    return ws


async def next_message(ws) -> dict:
    """One whole Bokeh message (header, metadata, content, buffers); a close is returned as such."""
    frames = []
    while len(frames) < 3:
        msg = await ws.receive(timeout=30)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return {"msgtype": "closed", "type": msg.type, "extra": msg.extra}
        frames.append(json.loads(msg.data))
    for _ in range(2 * frames[0].get("num_buffers", 0)):
        await ws.receive(timeout=30)
    return {"msgtype": frames[0]["msgtype"], "content": frames[2]}


async def a_live_update_arrives(ws, host: DashboardProxy) -> None:
    host.worker.changed("orders")
    message = await next_message(ws)
    assert message["msgtype"] == "PATCH-DOC", message


async def closed_already(ws, host: DashboardProxy) -> None:
    """The socket was closed by the server before the action's answer: a change made now never
    reaches it (what is read next is the close)."""
    host.worker.changed("orders")
    message = await next_message(ws)
    assert message["msgtype"] == "closed", message
    assert ws.closed


async def closed_later(ws, host: DashboardProxy) -> None:
    """The server closes the socket (waited for), and a change made afterwards never reaches it."""
    message = await next_message(ws)
    assert message["msgtype"] == "closed", message
    host.worker.changed("orders")
    assert (await next_message(ws))["msgtype"] == "closed"


async def at_most(host: DashboardProxy, count: int) -> bool:
    return await sessions(host) <= count


async def sessions(host: DashboardProxy) -> int:
    """Bokeh sessions of the tiny view in the worker."""
    return (await host.state())["sessions"]["tiny"]


async def post_form(s, base: str, path: str, **fields):
    page = await (await s.get(f"{base}/account")).text()
    return await s.post(f"{base}{path}", data={"csrf": csrf_of(page), **fields}, allow_redirects=False)


async def test_a_logout_closes_the_dashboards_of_that_login_and_only_those(shop):
    base, ctx, host = shop
    async with client() as pc, client() as phone:
        await log_in(pc, base, "pemilik")
        await log_in(phone, base, "pemilik")
        ws = await open_socket(pc, base, token_of(await autoload(pc, base)))
        other = await open_socket(phone, base, token_of(await autoload(phone, base)))
        await a_live_update_arrives(ws, host)
        await next_message(other)
        r = await post_form(pc, base, "/logout")
        assert r.status == 302 and r.headers["Location"] == "/login"
        await closed_already(ws, host)
        # the same user's other login (the phone) keeps its live dashboard
        assert (await next_message(other))["msgtype"] == "PATCH-DOC"
        assert not other.closed
        await other.close()
    assert host.book.count(1) == 1  # the phone's session is still on record; the PC's is gone


async def test_an_expired_login_s_dashboards_close(shop):
    base, ctx, host = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        ws = await open_socket(owner, base, token_of(await autoload(owner, base)))
        await a_live_update_arrives(ws, host)
        ctx.clock.now += timedelta(minutes=31)  # no page asked for in 30 minutes: the login expired
        await closed_later(ws, host)


async def test_a_login_that_is_no_longer_the_owner_s_stops_seeing_dashboards(shop):
    base, ctx, host = shop
    async with client() as owner, client() as wife:
        await log_in(owner, base, "pemilik")
        await log_in(wife, base, "istri")
        ws = await open_socket(wife, base, token_of(await autoload(wife, base)))
        await a_live_update_arrives(ws, host)
        r = await post_form(owner, base, "/admin/users", action="role", username="istri", role="staff")
        assert r.status == 200
        await closed_already(ws, host)


async def test_a_websocket_joins_only_a_session_its_own_login_opened(shop):
    base, ctx, host = shop
    async with client() as owner, client() as other:
        await log_in(owner, base, "pemilik")
        await log_in(other, base, "istri")
        token = token_of(await autoload(owner, base))
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await open_socket(other, base, token)  # a token seen elsewhere is no way in
        assert refused.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await open_socket(owner, base, token[:-4] + "AAAA")  # nor a forged one
        ws = await open_socket(owner, base, token)
        await a_live_update_arrives(ws, host)
        await ws.close()


async def test_an_expired_token_is_refused_by_the_daemon_not_handed_over(shop):
    # Handed over, Bokeh refused it with a traceback in the log at every reconnect of an old tab.
    from bokeh.util.token import generate_jwt_token
    base, ctx, host = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        session_id = get_session_id(token_of(await autoload(owner, base)))
        expired = generate_jwt_token(session_id, secret_key=host.signing_key, signed=True, expiration=-10)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await open_socket(owner, base, expired)
        assert refused.value.status == 403 and not host.sockets
        fresh = generate_jwt_token(session_id, secret_key=host.signing_key, signed=True, expiration=300)
        ws = await open_socket(owner, base, fresh)  # the same session with a live token works
        await a_live_update_arrives(ws, host)
        await ws.close()


async def test_a_user_keeps_a_few_bokeh_sessions_and_one_more_closes_the_oldest(shop):
    base, ctx, host = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        tokens = [token_of(await autoload(owner, base)) for _ in range(PER_USER)]
        sockets = [await open_socket(owner, base, t) for t in tokens]
        for _ in range(5):  # five more tabs: each closes the oldest
            tokens.append(token_of(await autoload(owner, base)))
        for ws in sockets:
            assert (await next_message(ws))["msgtype"] == "closed"
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await open_socket(owner, base, tokens[0])  # an evicted session cannot be joined again
        await wait_until(lambda: at_most(host, PER_USER), 30, "sessions discarded")
        ws = await open_socket(owner, base, tokens[-1])  # the newest work
        await a_live_update_arrives(ws, host)
        await ws.close()
    assert host.book.count(1) == PER_USER


async def test_a_tab_still_open_outlives_views_opened_and_left_on_another_device(shop):
    # The PC keeps one dashboard open; the phone looks at one view after another (each left behind):
    # the cap closes the phone's left views, not the PC's open tab.
    base, ctx, host = shop
    async with client() as pc, client() as phone:
        await log_in(pc, base, "pemilik")
        await log_in(phone, base, "pemilik")
        ws = await open_socket(pc, base, token_of(await autoload(pc, base)))
        for _ in range(PER_USER + 3):
            left = await open_socket(phone, base, token_of(await autoload(phone, base)))
            await left.close()
            await wait_until(lambda: len(host.sockets) == 1, 30, "the worker said the phone's view ended")
        await a_live_update_arrives(ws, host)
        assert not ws.closed and host.book.count(1) == PER_USER
        await ws.close()


async def test_a_session_has_one_websocket_a_second_replaces_the_first(shop):
    # One login must not hold sockets without bound by reusing its tokens (others' dashboards would starve).
    base, ctx, host = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        token = token_of(await autoload(owner, base))
        first = await open_socket(owner, base, token)
        sockets = [await open_socket(owner, base, token) for _ in range(3)]
        for ws in (first, *sockets[:-1]):
            assert (await next_message(ws))["msgtype"] == "closed"
        await a_live_update_arrives(sockets[-1], host)  # the newest works
        await sockets[-1].close()


async def test_a_dashboard_updates_while_the_daemon_s_loop_is_held(shop):
    # The connection is the worker's once the daemon checked it (handoff.py): a chart update reaches
    # the browser even while the daemon's loop is busy (a relay through that loop made every SMS reply
    # wait behind megabytes of chart updates). A browser in a thread of its own, the loop held here.
    base, ctx, host = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        token = token_of(await autoload(owner, base))
        cookie = "; ".join(f"{k}={m.value}" for k, m in owner.cookie_jar.filter_cookies(URL(base)).items())
        heard: queue.Queue = queue.Queue()
        let_go = threading.Event()

        def browser() -> None:
            async def run() -> None:
                async with aiohttp.ClientSession() as s:
                    ws = await s.ws_connect(f"{base.replace('http', 'ws')}/dash/tiny/ws", protocols=("bokeh", token),
                                            headers={"Origin": base, "Cookie": cookie}, max_msg_size=0)
                    heard.put((await next_message(ws))["msgtype"])
                    heard.put((await next_message(ws))["msgtype"])
                    let_go.wait(60)
                    await ws.close()
            asyncio.run(run())
        thread = threading.Thread(target=browser)
        thread.start()
        try:
            assert await asyncio.to_thread(heard.get, timeout=60) == "ACK"
            await wait_until(lambda: bool(host.sockets), 30, "the connection handed to the worker")
            host.worker.changed("orders")
            held = heard.get(timeout=60)  # blocks this loop, the daemon's, until the update arrived
            assert held == "PATCH-DOC"
        finally:
            let_go.set()
            await asyncio.to_thread(thread.join, 60)
    await wait_until(lambda: not host.sockets, 30, "the closed dashboard forgotten")  # the worker said so


async def test_a_dashboard_whose_worker_dies_is_closed_not_left_hanging(shop):
    # The daemon holds a copy of each connection it handed over: were it not shut when the worker dies,
    # the browser would wait on a connection nobody serves instead of reconnecting to the next worker.
    base, ctx, host = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        ws = await open_socket(owner, base, token_of(await autoload(owner, base)))
        await a_live_update_arrives(ws, host)
        os.kill(host.worker.pid, signal.SIGKILL)
        assert (await next_message(ws))["msgtype"] == "closed"
        await wait_until(lambda: not host.sockets, 30, "the connection forgotten")
        ws = await open_socket(owner, base, token_of(await autoload(owner, base)))  # a new worker serves
        await a_live_update_arrives(ws, host)
        await ws.close()


def test_a_handshake_is_rewritten_with_only_what_bokeh_needs():
    headers = {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
               "Cookie": "smsd_session=secret", "X-Forwarded-For": "10.0.0.9"}
    request = upgrade_request("/dash/sales/ws", headers, ["bokeh", "abc.def"], 4321, "X-S", "s3")
    head = request.decode().split("\r\n")
    assert head[0] == "GET /dash/sales/ws HTTP/1.1" and request.endswith(b"\r\n\r\n")
    assert "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" in head and "X-S: s3" in head
    assert "Sec-WebSocket-Protocol: bokeh, abc.def" in head and "Origin: http://localhost:4321" in head
    assert b"secret" not in request and b"10.0.0.9" not in request  # the login cookie stays in the daemon
    for key, protocols in (("dGhlIHNhbXBsZSBub25jZQ==\r\nX-Evil: 1", ["bokeh"]), ("short==", ["bokeh"]),
                           ("dGhlIHNhbXBsZSBub25jZQ==", ["bokeh", "a\r\nX-Evil: 1"])):
        with pytest.raises(ValueError):
            upgrade_request("/dash/sales/ws", {**headers, "Sec-WebSocket-Key": key}, protocols, 1, "X-S", "s")
    with pytest.raises(ValueError):
        upgrade_request("/dash/sales/ws", {**headers, "Sec-WebSocket-Version": "8"}, ["bokeh"], 1, "X-S", "s")


async def test_ended_sessions_are_torn_down(shop):
    base, ctx, host = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        for _ in range(4):
            sockets = [await open_socket(owner, base, token_of(await autoload(owner, base))) for _ in range(PER_USER)]
            for ws in sockets:
                await ws.close()

        async def all_gone() -> bool:
            state = await host.state()
            return not state["sessions"]["tiny"] and not state["documents"]
        await wait_until(all_gone, 60, "every session discarded and no longer refreshed")
        assert (await owner.get(f"{base}/login")).status in (200, 302)  # the web still answers


async def test_ended_sessions_make_one_collection_later_not_one_each(monkeypatch):
    # Bokeh would run a full collection per ended session (0.6-0.75 s on a big heap): in the worker
    # they are spaced out instead, so one closed tab never freezes the other dashboards.
    collections = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args) or 0)
    collector = SpacedCollector(0.01)
    collector.start()
    for _ in range(20):
        collector.request()
    await wait_until(lambda: collections, 10, "the deferred collection")
    await collector.stop()
    assert len(collections) == 1


@pytest.mark.parametrize("shop", [3600], indirect=True)
async def test_autoload_forwards_only_what_bokeh_needs(shop, tmp_path, monkeypatch):
    base, ctx, host = shop
    arguments_file = tmp_path / "arguments.jsonl"
    monkeypatch.setenv("TINY_ARGUMENTS", str(arguments_file))  # the worker starts with the first autoload
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        script = await autoload(owner, base, **{"bokeh-absolute-url": "http://evil.example/",
                                                "resources": "none", "x-extra": "1"})
        assert "evil.example" not in script and "/dash/static/js/bokeh.min.js" in script
        assert await sessions(host) == 1
        arguments = dict(json.loads(arguments_file.read_text().splitlines()[0]))
        assert set(arguments) == {"bokeh-autoload-element", "bokeh-app-path", "lang"}
        assert arguments["bokeh-app-path"] == ["/dash/tiny"]
        r = await owner.get(f"{base}/dash/tiny/autoload.js", params={
            "bokeh-autoload-element": '"></div><script>alert(1)</script>', "bokeh-app-path": "/dash/tiny"})
        assert r.status == 400
        # a session id of the visitor's choosing is not used: the proxy picks a new one each time
        chosen = get_session_id(token_of(script))
        again = await autoload(owner, base, **{"bokeh-session-id": chosen})
        assert token_of(again) != token_of(script) and await sessions(host) == 2


async def test_a_line_break_in_a_csv_name_is_no_header_break(shop):
    base, ctx, host = shop
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        r = await owner.get(f"{base}/dash/sales.csv", params={"year": "2026", "category": 'Bumbu"\r\nX-Evil: 1 ✓'})
        assert r.status == 200 and "X-Evil" not in r.headers
        assert r.headers["Content-Disposition"] == (
            "attachment; filename=\"sales-2026-Bumbu_X-Evil__1__.csv\"; "
            "filename*=UTF-8''sales-2026-Bumbu%22X-Evil%3A%201%20%E2%9C%93.csv")
        assert (await r.text()).splitlines()[0] == "key,label,sms_revenue,till_revenue,revenue,units"

