"""Built-in plugin: webhooks. Tells other programs (a POS, a delivery app) about inbound messages,
new orders, new complaints and delivery reports by HTTP POST, signed with HMAC-SHA256.

Never on the SMS path: ``track_event`` only stores a delivery row (durable across
restarts); a background task posts it, retrying with backoff. Receivers check
``X-Smsd-Signature: sha256=<hex>`` = HMAC-SHA256(secret, "<X-Smsd-Timestamp>.<body>") and that the
timestamp is at most five minutes old (see :func:`verify_signature`: a captured delivery replayed
later is refused), and de-duplicate on ``X-Smsd-Delivery`` (a retry, or a replay within the five
minutes, carries the same id). Every attempt is signed afresh with the time it is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

import aiohttp
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr

from smsd_crm import (
    ComplaintOpened,
    DeliveryReported,
    MessageReceived,
    Migration,
    OrderPlaced,
    PluginConfig,
    PluginContext,
    hookimpl,
)

EventName = Literal["message.received", "order.placed", "complaint.opened", "delivery.report"]
ALL_EVENTS: list[str] = ["message.received", "order.placed", "complaint.opened", "delivery.report"]
BATCH = 20
IDLE_CHECK = 5.0  # seconds between looks for rows queued by another process (a CLI command)
MAX_AGE = 300.0  # seconds a signed delivery is good for (either way: the two clocks may differ a little)


class Endpoint(BaseModel):
    """One receiver: its URL, the shared secret for the signature, and the events it wants."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: AnyHttpUrl
    secret: SecretStr = Field(min_length=16, description="shared with the receiver; at least 16 characters")
    events: list[EventName] = Field(default_factory=lambda: list(ALL_EVENTS))


class WebhooksConfig(PluginConfig):
    """Where to post events, and how hard to try."""

    endpoints: list[Endpoint] = Field(default_factory=list)
    max_attempts: int = Field(10, ge=1, description="tries per delivery before it is marked failed")
    retry_min: float = Field(5.0, gt=0, description="seconds before the first retry, doubling each time")
    retry_max: float = Field(3600.0, gt=0)
    timeout: float = Field(10.0, gt=0, le=120, description="seconds a receiver may take to answer")


@hookimpl
def register_config_model():
    """The webhooks plugin's config section."""
    return WebhooksConfig


@hookimpl
def register_migrations():
    """Deliveries waiting, done or given up."""
    return [Migration("m001_deliveries", """
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    url             TEXT NOT NULL,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL,                -- the exact JSON posted (what the signature covers)
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
""")]


def event_payload(event: object) -> tuple[str, dict] | None:
    """(event name, data) for the events webhooks carry, else None (pure)."""
    if isinstance(event, MessageReceived):
        m = event.message
        return "message.received", {"message_id": m.id, "phone": m.phone, "sender": m.sender, "text": m.text,
                                    "received_at": m.received_at.isoformat(), "modem_id": m.modem_id}
    if isinstance(event, OrderPlaced):
        return "order.placed", {"order_id": event.order_id, "phone": event.phone, "total": event.total}
    if isinstance(event, ComplaintOpened):
        return "complaint.opened", {"ticket_id": event.ticket_id, "phone": event.phone, "text": event.text}
    if isinstance(event, DeliveryReported):
        return "delivery.report", {"message_id": event.message_id, "state": event.state, "status": event.status}
    return None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Smsd-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str, *, now: float | None = None,
                     max_age: float = MAX_AGE) -> bool:
    """For receivers: whether ``signature`` (the header) is ours for this body and timestamp, and the
    timestamp (``X-Smsd-Timestamp``, Unix seconds) is within ``max_age`` seconds of ``now`` (the
    receiver's clock, ``time.time()`` when not given). A delivery captured and replayed later fails;
    within the window, de-duplicate on ``X-Smsd-Delivery``."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > max_age:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def _wake(ctx: PluginContext) -> None:
    wake = ctx.state.get("wake")
    if wake is not None:
        wake.set()


@hookimpl
async def track_event(event, ctx: PluginContext) -> None:
    """Store one delivery per interested endpoint; the sender task posts it."""
    config: WebhooksConfig = ctx.config  # type: ignore[assignment]
    found = event_payload(event) if config.endpoints else None
    if found is None:
        return
    name, data = found
    now = ctx.now()
    async with ctx.db.transaction():
        for endpoint in config.endpoints:
            if name not in endpoint.events:
                continue
            delivery = await ctx.db.fetchval(
                "INSERT INTO webhook_deliveries (url, event, body, state, next_attempt_at, created_at) "
                "VALUES (?, ?, '', 'pending', ?, ?) RETURNING id", (str(endpoint.url), name, now.isoformat(), now.isoformat()))
            body = json.dumps({"id": delivery, "event": name, "at": now.isoformat(), "data": data},
                              ensure_ascii=False, separators=(",", ":"))
            await ctx.db.execute("UPDATE webhook_deliveries SET body = ? WHERE id = ?", (body, delivery))
    _wake(ctx)


async def _post(session: aiohttp.ClientSession, endpoint: Endpoint, row: dict, now: datetime) -> str | None:
    """Post one delivery; None when the receiver took it (2xx), else the reason."""
    body = row["body"].encode()
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", "User-Agent": "smsd-crm-webhooks",
               "X-Smsd-Event": row["event"], "X-Smsd-Delivery": str(row["id"]), "X-Smsd-Timestamp": timestamp,
               "X-Smsd-Signature": sign(endpoint.secret.get_secret_value(), timestamp, body)}
    try:
        async with session.post(str(endpoint.url), data=body, headers=headers, allow_redirects=False) as response:
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status}"
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return type(exc).__name__


async def _deliver_due(ctx: PluginContext, session: aiohttp.ClientSession) -> None:
    config: WebhooksConfig = ctx.config  # type: ignore[assignment]
    endpoints = {str(e.url): e for e in config.endpoints}
    now = ctx.now()
    rows = await ctx.db.fetchall(
        "SELECT * FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        (now.isoformat(), BATCH))
    for row in rows:
        endpoint = endpoints.get(row["url"])
        if endpoint is None:
            await ctx.db.execute("UPDATE webhook_deliveries SET state = 'failed', last_error = ? WHERE id = ?",
                                 ("endpoint no longer in config.yaml", row["id"]))
            continue
        error = await _post(session, endpoint, row, ctx.now())
        attempts = row["attempts"] + 1
        if error is None:
            await ctx.db.execute("UPDATE webhook_deliveries SET state = 'delivered', attempts = ?, delivered_at = ?, "
                                 "last_error = NULL WHERE id = ?", (attempts, ctx.now().isoformat(), row["id"]))
            continue
        host = urlsplit(row["url"]).hostname  # never the whole URL: it may carry a token
        give_up = attempts >= config.max_attempts
        delay = min(config.retry_max, config.retry_min * 2 ** (attempts - 1))
        await ctx.db.execute(
            "UPDATE webhook_deliveries SET state = ?, attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
            ("failed" if give_up else "pending", attempts, error,
             (ctx.now() + timedelta(seconds=delay)).isoformat(), row["id"]))
        ctx.log.warning("webhook %s to %s: %s (attempt %d%s)", row["event"], host, error, attempts,
                        ", giving up" if give_up else f", next in {delay:g} s")


async def _next_due(ctx: PluginContext) -> float:
    row = await ctx.db.fetchone("SELECT MIN(next_attempt_at) AS due FROM webhook_deliveries WHERE state = 'pending'")
    if row is None or row["due"] is None:
        return IDLE_CHECK
    return max(0.0, min(IDLE_CHECK, (datetime.fromisoformat(row["due"]) - ctx.now()).total_seconds()))


async def _sender(ctx: PluginContext) -> None:
    config: WebhooksConfig = ctx.config  # type: ignore[assignment]
    wake: asyncio.Event = ctx.state["wake"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=config.timeout)) as session:
        while True:
            wake.clear()
            try:
                await _deliver_due(ctx, session)
                pause = await _next_due(ctx)
            except Exception:  # a database hiccup must not end webhooks until the next restart
                ctx.log.exception("webhook sender: will try again in %g s", IDLE_CHECK)
                pause = IDLE_CHECK
            try:
                async with asyncio.timeout(pause):
                    await wake.wait()
            except TimeoutError:
                pass


@hookimpl
def startup(ctx: PluginContext) -> None:
    """Start the sender (in the daemon, when endpoints are configured)."""
    if ctx.in_daemon and ctx.config.endpoints:  # type: ignore[attr-defined]
        ctx.state["wake"] = asyncio.Event()
        ctx.spawn(_sender(ctx), "sender")
