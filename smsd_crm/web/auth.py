"""Who may see what: security headers, sessions and CSRF for pages, tokens for the API, login.

Safe by default: every page but /login needs a session; every POST carries the
session's CSRF token; the API takes only ``Authorization: Bearer`` tokens (never
cookies, so no CSRF there); growing waits after wrong passwords (``throttle``) that never keep
a login's own browsers out; a session ends after a while unused and after ``web.session_max_hours``.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from urllib.parse import quote

from aiohttp import web

from ..config import WebConfig
from ..errors import StorageUnavailable
from ..storage import api_clients, app_secrets, users
from .base import (
    CLIENT,
    CTX,
    HASHING,
    LANG_COOKIE,
    LANGUAGES,
    THROTTLE,
    USER,
    Handler,
    WebContext,
    local,
    page_error,
    render,
    speaker,
)
from .passwords import MAX_LENGTH, HashingBusy, needs_rehash
from .throttle import DEVICE_DAYS, client_keys, device_cookie_name, device_key, make_device_cookie

SESSION_COOKIE = "smsd_session"
LOGIN_CSRF_COOKIE = "smsd_login"
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# Bokeh draws with inline styles; no inline script is needed (the page loads autoload.js by src).
DASHBOARD_CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
                 "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
PUBLIC = ("/login", "/favicon.ico")
DEVICE_SECRET = "login_device_key"  # app_secrets: signs the browsers that logged in before (throttle)


def session_expiry(config: WebConfig, created: datetime, now: datetime) -> datetime:
    """When a session used ``now`` ends: ``session_minutes`` unused, and never later than
    ``session_max_hours`` after its login, however much it is used."""
    return min(now + timedelta(minutes=config.session_minutes), created + timedelta(hours=config.session_max_hours))


def json_error(cls: type[web.HTTPException], message: str, **headers: str) -> web.HTTPException:
    return cls(text=json.dumps({"error": message}), content_type="application/json", headers=headers or None)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The same protective headers on every answer, errors included."""
    headers = dict(HEADERS)
    if request.path.startswith("/dash/") or request.path == "/dash":
        headers["Content-Security-Policy"] = DASHBOARD_CSP
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a redirect to the login, a refusal: never kept (no-store)
        exc.headers.update(headers)
        raise
    if not response.prepared:  # a handed-over websocket: its connection is the worker's
        response.headers.update(headers)
    return response


async def keep_files(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: files, not pages, are kept by the browser. BokehJS's URLs carry its
    version (``?v=``): never asked again; ours are checked (an ETag, 304). With "no-store" every
    dashboard reload made the daemon send BokehJS's megabytes again, on the loop that answers SMS.
    Only a file found is kept (a file's status is known only now, as it is sent): a login redirect
    or a 404 kept for a year would leave the dashboards without BokehJS."""
    if request.path.startswith(("/static/", "/dash/static/")) and response.status in (200, 304):
        response.headers["Cache-Control"] = "private, max-age=31536000, immutable" \
            if request.path.startswith("/dash/static/") and request.query.get("v") else "no-cache"


GENERIC_ERRORS = {400: "error.bad_request", 403: "error.owner_only", 404: "error.not_found", 409: "error.conflict"}


def _wants_page(request: web.Request) -> bool:
    """A browser asking for a page (not the API, the long poll, a file, a CSV or a websocket)."""
    path = request.path
    return (request.method in ("GET", "POST") and "text/html" in request.headers.get("Accept", "")
            and not path.startswith(("/api/", "/static/", "/dash/static/")) and path != "/live"
            and not path.endswith((".csv", "/autoload.js", "/ws")))


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A refusal or a missing page is a proper page (header, menu) in the reader's language."""
    try:
        return await handler(request)
    except StorageUnavailable:
        # No page frame (it reads the database): one line in the reader's language, retry advised.
        text = speaker(request).t("error.database_down")
        if request.path.startswith("/api/"):
            raise json_error(web.HTTPServiceUnavailable, text, **{"Retry-After": "5"}) from None
        return web.Response(status=503, text=text, headers={"Retry-After": "5", "Cache-Control": "no-store"})
    except web.HTTPException as exc:
        if exc.status < 400 or not _wants_page(request):
            raise
        name, values = getattr(exc, "text_name", (GENERIC_ERRORS.get(exc.status, "error.bad_request"), {}))
        return render(request, "error.html", status=exc.status, message=(name, values),
                      title_name=f"error.title.{exc.status if exc.status in GENERIC_ERRORS else 'other'}")


def _public(request: web.Request) -> bool:
    return request.path in PUBLIC or request.path.startswith(("/static/", "/lang/"))


async def _api_client(request: web.Request) -> str:
    ctx = request.app[CTX]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    name = None
    if scheme.lower() == "bearer" and 20 <= len(token.strip()) <= 200:
        name = await api_clients.client_for(ctx.db, token.strip(), ctx.clock())
    if name is None:
        raise json_error(web.HTTPUnauthorized, "a valid API token is required (Authorization: Bearer ...)",
                         **{"WWW-Authenticate": "Bearer"})
    return name


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pages need a session (and CSRF on POST); the API needs a token; owner pages need the owner."""
    if _public(request):
        return await handler(request)
    if request.path.startswith("/api/"):  # /api itself is the owner's page describing the API
        request[CLIENT] = await _api_client(request)
        return await handler(request)
    ctx = request.app[CTX]
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await users.get_session(ctx.db, token, ctx.clock()) if token else None
    if session is None:
        if request.path == "/live":
            raise json_error(web.HTTPUnauthorized, "logged out")
        raise web.HTTPFound("/login?next=" + quote(request.path_qs, safe=""))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        form = await request.post() if request.content_type.startswith(("application/x-www-form", "multipart/")) else {}
        sent = form.get("csrf") or request.headers.get("X-CSRF-Token", "")
        if not secrets.compare_digest(str(sent), session["csrf"]):
            request[USER] = session  # the error page shows the header and menu
            raise page_error(web.HTTPForbidden, "error.csrf")
    owner_page = getattr(handler, "owner_only", False) or request.path == "/dash" or request.path.startswith("/dash/")
    if owner_page and session["role"] != "owner":
        request[USER] = session
        raise page_error(web.HTTPForbidden, "error.owner_only")
    if request.path != "/live":  # an open page polling for changes is not activity: it may expire
        created = datetime.fromisoformat(session["created_at"])
        await users.touch_session(ctx.db, token, session_expiry(ctx.config, created, ctx.clock()))
    request[USER] = session
    return await handler(request)


async def may_see_dashboards(ctx: WebContext, token: str) -> bool:
    """Whether the login with this cookie still lives and is the owner's (the dashboards' rule)."""
    session = await users.get_session(ctx.db, token, ctx.clock()) if token else None
    return session is not None and session["role"] == "owner"


async def sessions_ended(ctx: WebContext, user_id: int) -> None:
    """Sessions of ``user_id`` ended or changed (a logout, disabled, a new password or role): what is
    open of them follows at once. Long polls wake (each asks whether its own session lives); the
    dashboards of its logins that ended, or may no longer see them, close."""
    ctx.live.sessions_ended(user_id)
    if ctx.dashboards is not None:
        await ctx.dashboards.recheck(lambda token: may_see_dashboards(ctx, token), user_id)


async def login_page(request: web.Request) -> web.Response:
    # Keep the browser's token if it has one: a second login page (another tab, or the
    # browser's own /favicon.ico request bounced here) must not invalidate the first form.
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (16 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()):
        token = secrets.token_urlsafe(16)
    response = render(request, "login.html", csrf=token, next=local(request.query.get("next", "/")), error=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", max_age=3600,
                        secure=request.app[CTX].config.secure_cookies)
    return response


async def login(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    form = await request.post()
    if not secrets.compare_digest(str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "-")):
        # A login page left open past its token's hour, or cookies cleared: a fresh form that says so.
        token = secrets.token_urlsafe(16)
        response = render(request, "login.html", status=403, csrf=token, error="expired",
                          next=local(str(form.get("next", "/"))))
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", max_age=3600,
                            secure=ctx.config.secure_cookies)
        return response
    # One character over the limits: a longer name or password is simply wrong, never cut to a right one.
    username = str(form.get("username", ""))[:users.MAX_NAME + 1]
    password = str(form.get("password", ""))[:MAX_LENGTH + 1]
    target = local(str(form.get("next", "/")))
    wrong = lambda: render(request, "login.html", status=401, csrf=form.get("csrf"), next=target,  # noqa: E731
                           error="wrong")
    now, throttle = ctx.clock(), request.app[THROTTLE]
    secret = await app_secrets.get_or_create(ctx.db, DEVICE_SECRET, now)
    device = device_key(secret, username, request.cookies.get(device_cookie_name(username), ""), now)
    keys = [device] if device else client_keys(request.remote, username)
    if throttle.wait(keys, now):
        return wrong()  # too early to check at all: the same answer as a wrong password, known name or not
    throttle.wrong(keys, now)  # until proven right: parallel guesses wait too
    user = await users.get_user(ctx.db, username)
    # The check runs in a thread (scrypt is slow on purpose), against a dummy hash for unknown names.
    try:
        right = await request.app[HASHING].verify(password, user["password_hash"] if user else None,
                                                  known=device is not None)
    except HashingBusy:  # a flood of logins: say so at once rather than hold the connection for a minute
        throttle.right(keys, clear=None)  # not a wrong try: nothing was checked
        response = render(request, "login.html", status=503, csrf=form.get("csrf"), next=target, error="busy")
        response.headers["Retry-After"] = "5"
        return response
    if not right or user is None:
        return wrong()
    throttle.right(keys, clear=device)
    if user["disabled_at"] is not None:  # said only to whoever knows the password
        return render(request, "login.html", status=403, csrf=form.get("csrf"), next=target, error="disabled")
    if needs_rehash(user["password_hash"]):  # made at an older cost: the same password at today's
        await users.rehash(ctx.db, user["id"], user["password_hash"], await request.app[HASHING].hash(password))
    raise await _logged_in(request, user, target, secret)


async def _logged_in(request: web.Request, user, target: str, secret: str) -> web.HTTPFound:
    """A new session (a new id at every login) and its cookie; the browser is known from now on."""
    ctx = request.app[CTX]
    now = ctx.clock()
    token = secrets.token_urlsafe(32)
    await users.create_session(ctx.db, token, user["id"], secrets.token_urlsafe(32), now,
                               session_expiry(ctx.config, now, now))
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await users.end_session(ctx.db, old)
    response = web.HTTPFound(target)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/",
                        secure=ctx.config.secure_cookies)
    response.set_cookie(device_cookie_name(user["username"]), make_device_cookie(secret, user["username"], now),
                        httponly=True, samesite="Strict", path="/login", max_age=DEVICE_DAYS * 86400,
                        secure=ctx.config.secure_cookies)
    response.del_cookie(LOGIN_CSRF_COOKIE)
    return response


async def logout(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    await users.end_session(ctx.db, request.cookies.get(SESSION_COOKIE, ""))
    await sessions_ended(ctx, request[USER]["user_id"])
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def choose_language(request: web.Request) -> web.Response:
    """``/lang/en?next=/orders``: remember the visitor's page language (a harmless preference)."""
    code = request.match_info["code"]
    if code not in LANGUAGES:
        raise web.HTTPNotFound(text="language: id or en")
    response = web.HTTPFound(local(request.query.get("next", "/")))
    response.set_cookie(LANG_COOKIE, code, samesite="Lax", max_age=365 * 86400, path="/",
                        secure=request.app[CTX].config.secure_cookies)
    raise response
