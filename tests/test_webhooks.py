"""Webhooks: signed with HMAC, retried with backoff when the receiver fails, never holding up a reply.
The daemon runs as `smsd-crm run`; the receiver is a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timezone

import pytest
from aiohttp import web
from smsd_crm_webhooks import event_payload, sign, verify_signature

from smsd_crm import ComplaintOpened, Message, MessageReceived, OrderPlaced
from smsd_crm.emulator.pty_modem import next_reply

from .conftest import query, wait_until, write_config

SECRET = "rahasia-webhook-0123456789"


def test_signature_covers_timestamp_and_body():
    body = b'{"id":1}'
    signature = sign(SECRET, "1795000000", body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature(SECRET, "1795000000", body, signature, now=1795000000)
    assert not verify_signature(SECRET, "1795000001", body, signature, now=1795000000)
    assert not verify_signature(SECRET, "1795000000", b'{"id":2}', signature, now=1795000000)
    assert not verify_signature("another-secret-0123456789", "1795000000", body, signature, now=1795000000)


def test_a_replayed_old_delivery_is_refused_and_a_fresh_one_passes():
    body = b'{"id":1,"event":"order.placed"}'
    sent = int(time.time())
    old = str(sent - 301)  # a delivery captured five minutes and a second ago, replayed now: refused
    assert not verify_signature(SECRET, old, body, sign(SECRET, old, body))
    fresh = str(sent)
    assert verify_signature(SECRET, fresh, body, sign(SECRET, fresh, body))
    assert verify_signature(SECRET, str(sent - 290), body, sign(SECRET, str(sent - 290), body))  # a slow network
    ahead = str(sent + 400)  # a timestamp from the future is no way round it
    assert not verify_signature(SECRET, ahead, body, sign(SECRET, ahead, body))
    for odd in ("", "-5", "1e9", "１７９５０００００", "9" * 40):
        assert not verify_signature(SECRET, odd, body, sign(SECRET, odd, body), now=1795000000)


def test_event_payloads():
    at = datetime(2026, 11, 23, 9, tzinfo=timezone.utc)
    msg = Message(id=7, phone="+6281234567890", sender="081234567890", text="halo", received_at=at, modem_id="sim1")
    assert event_payload(MessageReceived(msg)) == ("message.received", {
        "message_id": 7, "phone": "+6281234567890", "sender": "081234567890", "text": "halo",
        "received_at": at.isoformat(), "modem_id": "sim1"})
    assert event_payload(OrderPlaced(3, "+6281234567890", 26000)) == (
        "order.placed", {"order_id": 3, "phone": "+6281234567890", "total": 26000})
    assert event_payload(ComplaintOpened(4, "+6281234567890", "pecah"))[0] == "complaint.opened"
    assert event_payload(object()) is None


class Receiver:
    """A webhook receiver that holds its very first request until released, and answers 500 to the
    first two posts of every delivery, then 204."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, bytes]] = []
        self.first_arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((dict(request.headers), body))
        self.changed.set()
        if len(self.requests) == 1:
            self.first_arrived.set()
            await asyncio.wait_for(self.release.wait(), 60)
        seen = sum(1 for h, _ in self.requests if h["X-Smsd-Delivery"] == request.headers["X-Smsd-Delivery"])
        return web.Response(status=500 if seen <= 2 else 204)


@pytest.fixture
async def receiver():
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield rec, "http://127.0.0.1:%d/hook" % runner.addresses[0][1]
    await runner.cleanup()


async def test_a_failing_receiver_is_retried_and_never_holds_up_the_reply(tmp_path, emulator, daemons, receiver):
    rec, url = receiver
    config = write_config(tmp_path, emulator.device, extra=f"""
        plugins_dir: null
        plugins:
          webhooks:
            retry_min: 0.2
            retry_max: 1
            timeout: 90
            endpoints:
              - url: {url}
                secret: {SECRET}
                events: [message.received, complaint.opened]
        """)
    (tmp_path / "data").mkdir()
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    replies = emulator.subscribe("+6281234567890")
    emulator.deliver("081234567890", "KOMPLAIN telur pecah")
    await asyncio.wait_for(rec.first_arrived.wait(), 30)
    # The receiver is still holding the first webhook: the customer's reply must not wait for it.
    assert (await next_reply(replies, 30)).startswith("Keluhan Anda tercatat dengan nomor K1")
    assert not rec.release.is_set()
    rec.release.set()
    db = tmp_path / "data" / "test.sqlite3"
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered'")
                     == [(2,)], 60, "both deliveries delivered")
    by_delivery: dict[str, list] = {}
    for headers, body in rec.requests:
        assert verify_signature(SECRET, headers["X-Smsd-Timestamp"], body, headers["X-Smsd-Signature"])
        assert not verify_signature("x" * 20, headers["X-Smsd-Timestamp"], body, headers["X-Smsd-Signature"])
        payload = json.loads(body)
        assert payload["event"] == headers["X-Smsd-Event"] and str(payload["id"]) == headers["X-Smsd-Delivery"]
        by_delivery.setdefault(headers["X-Smsd-Delivery"], []).append(payload)
    events = {p[0]["event"]: p for p in by_delivery.values()}
    assert set(events) == {"message.received", "complaint.opened"}
    assert events["message.received"][0]["data"]["text"] == "KOMPLAIN telur pecah"
    assert events["complaint.opened"][0]["data"] == {"ticket_id": 1, "phone": "+6281234567890", "text": "telur pecah"}
    # Each delivery failed twice (the first one held, then 500) before it was taken: three posts, same body.
    assert [len(p) for p in by_delivery.values()] == [3, 3] and len(rec.requests) == 6
    for posts in by_delivery.values():
        assert posts[0] == posts[1] == posts[2]
    assert query(db, "SELECT attempts, last_error FROM webhook_deliveries") == [(3, None), (3, None)]
    assert SECRET not in log.read_text()
    assert "webhook message.received to 127.0.0.1: HTTP 500 (attempt 1" in log.read_text() or \
        "webhook complaint.opened to 127.0.0.1: HTTP 500 (attempt 1" in log.read_text()
