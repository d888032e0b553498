"""The JSON API: core routes (messages, customers) and the routes plugins add, behind client tokens.

Every route is an ``ApiRoute``: its pydantic models validate the call (422 with
the field and the reason, never a 500) and describe it in ``/api/openapi.json``.
Each call is counted against its token's rate limit (429 with ``Retry-After``),
then the token must hold the route's scope (403), ``read`` or ``send``.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator

from .. import phones
from ..config import ApiConfig
from ..errors import ApiProblem, StartupError
from ..models import ApiRoute
from ..storage import api_clients, customers, messages
from . import openapi
from .api_access import LIMITER, RateLimiter
from .base import CLIENT, CTX, MAX_SMS_TEXT, send_sms

LOGGER = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
OPENAPI = web.AppKey("openapi", dict)


@dataclass(frozen=True)
class ApiCall:
    """One validated API call as a route handler sees it."""

    client: str
    path: Any = None
    query: Any = None
    body: Any = None


# ------------------------------------------------------------------ core routes

class MessageOut(BaseModel):
    """An SMS in or out. ``state``: in: received, handled, failed; out: queued, sending, sent,
    delivered, failed, cancelled."""

    id: int
    direction: Literal["in", "out"]
    state: str
    phone: str | None
    address: str
    text: str
    created_at: str
    updated_at: str


class MessageQuery(BaseModel):
    """Filters for the message list."""

    direction: Literal["in", "out"] | None = None
    state: Literal["received", "handled", "failed", "queued", "sending", "sent", "delivered",
                   "cancelled"] | None = None
    phone: str | None = Field(None, max_length=40, description="any spelling: 0812..., +62812...")
    before: int | None = Field(None, ge=1, le=2**62, description="only ids below this (paging)")
    limit: int = Field(100, ge=1, le=500)


class SendSms(BaseModel):
    """An SMS to send. Long texts go out as several parts; emoji are fine."""

    to: str = Field(min_length=3, max_length=40, description="the number: 0812..., +62812...")
    text: str = Field(min_length=1, max_length=MAX_SMS_TEXT)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the text is blank")
        return v


class ItemId(BaseModel):
    """The item in the path."""

    id: int = Field(ge=1, le=2**62)


class CustomerOut(BaseModel):
    """A customer record."""

    id: int
    phone: str
    name: str | None
    address: str | None
    birthday: str | None
    language: str
    created_at: str


class CustomerQuery(BaseModel):
    """Search by name or number; empty lists the most recently changed."""

    q: str = Field("", max_length=100)
    limit: int = Field(50, ge=1, le=500)


def _phone(raw: str, ctx) -> str:
    phone = phones.normalize(raw, ctx.store.country)
    if phone is None:
        raise ApiProblem(422, f"not a phone number: {raw[:40]!r}")
    return phone


async def list_messages(call: ApiCall, ctx) -> list[dict]:
    q = call.query
    phone = None
    if q.phone:
        phone = phones.normalize(q.phone, ctx.store.country)
        if phone is None:
            return []  # no message can be from a number that does not exist
    rows = await messages.list_messages(ctx.db, direction=q.direction, state=q.state, before=q.before,
                                        phone=phone, limit=q.limit)
    return [dict(r) for r in rows]


async def _message(ctx, message_id: int) -> dict:
    # Another store's message is not this store's to show (a chain's ids are shared).
    row = await ctx.db.fetchone("SELECT * FROM messages WHERE id = ? AND store_id = ?", (message_id, ctx.db.store))
    if row is None:
        raise ApiProblem(404, f"message {message_id} does not exist")
    return dict(row)


async def get_message(call: ApiCall, ctx) -> dict:
    return await _message(ctx, call.path.id)


async def send_message(call: ApiCall, ctx) -> dict:
    return await _message(ctx, await send_sms(ctx, _phone(call.body.to, ctx), call.body.text, f"api:{call.client}"))


def _customer(c) -> CustomerOut:
    return CustomerOut(id=c.id, phone=c.phone, name=c.name, address=c.address, birthday=c.birthday,
                       language=c.language, created_at=c.created_at.isoformat())


async def list_customers(call: ApiCall, ctx) -> list[CustomerOut]:
    found = await customers.search(ctx.db, call.query.q, limit=call.query.limit)
    return [_customer(c) for c in found]


async def get_customer(call: ApiCall, ctx) -> CustomerOut:
    customer = await customers.get_by_id(ctx.db, call.path.id)
    if customer is None:
        raise ApiProblem(404, f"customer {call.path.id} does not exist")
    return _customer(customer)


CORE_ROUTES = [
    ApiRoute("GET", "/api/messages", list_messages, "List messages, newest first", response=list[MessageOut],
             query=MessageQuery, tag="messages"),
    ApiRoute("POST", "/api/messages", send_message, "Send an SMS (queued now, sent by the modem pool)",
             response=MessageOut, body=SendSms, status=201, tag="messages",
             problems={422: "not a phone number, or the text is empty or too long"}),
    ApiRoute("GET", "/api/messages/{id}", get_message, "One message", response=MessageOut, path_params=ItemId,
             tag="messages"),
    ApiRoute("GET", "/api/customers", list_customers, "Search customers by name or number",
             response=list[CustomerOut], query=CustomerQuery, tag="customers"),
    ApiRoute("GET", "/api/customers/{id}", get_customer, "One customer", response=CustomerOut, path_params=ItemId,
             tag="customers"),
]


# ------------------------------------------------------------------ dispatch

def _problem(status: int, message: str, details: list | None = None, **headers: str) -> web.Response:
    body = {"error": message, **({"details": details} if details else {})}
    return web.json_response(body, status=status, headers=headers or None)


def _over_limit(request: web.Request) -> web.Response | None:
    """429 when this token has used its calls (``api.per_minute``, ``api.burst``), else None."""
    wait = request.app[LIMITER].take(request[CLIENT])
    if not wait:
        return None
    LOGGER.info("API client %s over its rate limit", request[CLIENT])
    return _problem(429, "too many calls with this token; try again after Retry-After seconds",
                    **{"Retry-After": str(max(1, math.ceil(wait)))})


def _details(exc: ValidationError) -> list[dict]:
    # Only where and why: pydantic's "input" may echo a secret or a huge value back.
    return [{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()]


def _valid_text(value: Any) -> bool:
    """Whether every string in a decoded value can be stored (lone surrogates cannot)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


async def _parse_body(request: web.Request, model) -> Any:
    if request.content_type != "application/json":
        raise ApiProblem(415, "send the body as application/json")
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise ApiProblem(413, "the body is too large")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(400, "the body is not valid JSON") from None
    if not _valid_text(data):
        raise ApiProblem(400, "the body holds text that is not valid Unicode")
    return data


def _handler(route: ApiRoute, ctx: Any, adapter: TypeAdapter | None):
    async def handle(request: web.Request) -> web.Response:
        refused = _over_limit(request)
        if refused is not None:
            return refused
        if route.needs not in await api_clients.scopes_of(request.app[CTX].db, request[CLIENT]):
            return _problem(403, f"this token may not call this route: it needs the {route.needs!r} scope "
                                 f"(smsd-crm api-client add NAME --scope {route.needs})")
        try:
            path = route.path_params.model_validate(dict(request.match_info)) if route.path_params else None
            query_values = {k: request.query.getone(k) for k in request.query}
            if not _valid_text(query_values):
                raise ApiProblem(400, "the query holds text that is not valid Unicode")
            query = route.query.model_validate(query_values) if route.query else None
            body = route.body.model_validate(await _parse_body(request, route.body)) if route.body else None
            result = await route.handler(ApiCall(request[CLIENT], path, query, body), ctx)
        except ValidationError as exc:
            return _problem(422, "a field is missing or not valid", _details(exc))
        except ApiProblem as exc:
            return _problem(exc.status, exc.message)
        # Validating the result too keeps every answer to the published shape (no stray columns).
        data = adapter.dump_python(adapter.validate_python(result, from_attributes=True), mode="json") \
            if adapter else result
        return web.json_response(data, status=route.status)
    return handle


async def openapi_json(request: web.Request) -> web.Response:
    return _over_limit(request) or web.json_response(request.app[OPENAPI])


def add_routes(app: web.Application, host) -> None:
    """Mount core and plugin API routes and their OpenAPI description."""
    ctx = app[CTX]
    limits = ctx.settings.api if ctx.settings is not None else ApiConfig()
    app[LIMITER] = RateLimiter(limits.per_minute, limits.burst, ctx.clock)
    routes: list[tuple[ApiRoute, Any]] = [(r, ctx) for r in CORE_ROUTES]
    for plugin, route in host.api_routes() if host else []:
        if not route.path.startswith("/api/") or route.path == "/api/openapi.json":
            raise StartupError(f"plugin {plugin!r}: API path {route.path!r} must start with /api/")
        routes.append((route, host.contexts[plugin]))
    for route, route_ctx in routes:
        adapter = TypeAdapter(route.response) if route.response is not None else None
        app.router.add_route(route.method, route.path, _handler(route, route_ctx, adapter))
    app[OPENAPI] = openapi.describe([r for r, _ in routes], f"{ctx.store.name} · smsd-crm API")
    app.router.add_get("/api/openapi.json", openapi_json)
