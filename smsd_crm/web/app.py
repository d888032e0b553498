"""The staff and owner web pages: an aiohttp app in the daemon's own loop.

Safe by default: loopback only unless configured; every page but /login needs a
session; every POST carries the session's CSRF token; security headers on every
answer; passwords hashed with scrypt; a lockout after repeated wrong passwords.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable
from urllib.parse import quote, urlparse

import jinja2
from aiohttp import web

from ..config import StoreConfig, WebConfig
from ..storage import users
from ..storage.db import Database
from . import pages
from .passwords import hash_password, verify_password

SESSION_COOKIE = "smsd_session"
LOGIN_CSRF_COOKIE = "smsd_login"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_DUMMY_HASH = hash_password(secrets.token_hex(8))  # answers unknown users as slowly as known ones


@dataclass(frozen=True)
class WebContext:
    """What the pages need; built by the composition root."""

    db: Database
    config: WebConfig
    store: StoreConfig
    clock: Callable[[], datetime]
    host: Any = None  # the PluginHost, for the pages plugins add


CTX = web.AppKey("web_context", WebContext)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
NAV = web.AppKey("nav", list)
USER = web.RequestKey("user", object)  # the logged-in session row (username, role, csrf)


def owner_only(handler: Handler) -> Handler:
    """Mark a page the owner may see and staff may not."""
    handler.owner_only = True  # type: ignore[attr-defined]
    return handler


def render(request: web.Request, name: str, status: int = 200, **values) -> web.Response:
    """A page from a template; every value is HTML-escaped (autoescape)."""
    env = request.app[TEMPLATES]
    user = request.get(USER)
    nav = [n for n in request.app[NAV] if user and (n["role"] == "staff" or user["role"] == "owner")]
    html = env.get_template(name).render(user=user, store=request.app[CTX].store, nav=nav,
                                         csrf_field=lambda: pages.csrf_field(user), **values)
    return web.Response(text=html, content_type="text/html", status=status)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(HEADERS)
        raise
    response.headers.update(HEADERS)
    return response


def _public(request: web.Request) -> bool:
    return request.path in ("/login", "/favicon.ico") or request.path.startswith("/static/")


async def favicon(request: web.Request) -> web.Response:
    return web.Response(status=204)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _public(request):
        return await handler(request)
    ctx = request.app[CTX]
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await users.get_session(ctx.db, token, ctx.clock()) if token else None
    if session is None:
        if request.path.startswith("/api/"):
            raise web.HTTPUnauthorized(text='{"error": "login or token required"}', content_type="application/json")
        raise web.HTTPFound("/login?next=" + quote(request.path_qs, safe=""))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        form = await request.post() if request.content_type.startswith(("application/x-www-form", "multipart/")) else {}
        sent = form.get("csrf") or request.headers.get("X-CSRF-Token", "")
        if not secrets.compare_digest(str(sent), session["csrf"]):
            raise web.HTTPForbidden(text="CSRF token missing or wrong: reload the page and try again")
    if getattr(handler, "owner_only", False) and session["role"] != "owner":
        raise web.HTTPForbidden(text="only the owner may open this page")
    await users.touch_session(ctx.db, token, ctx.clock() + timedelta(minutes=ctx.config.session_minutes))
    request[USER] = session
    return await handler(request)


def _local(target: str) -> str:
    """Only a path on this site (no open redirect)."""
    parsed = urlparse(target)
    return target if target.startswith("/") and not target.startswith("//") and not parsed.netloc else "/"


async def login_page(request: web.Request) -> web.Response:
    # Keep the browser's token if it has one: a second login page (another tab, or the
    # browser's own /favicon.ico request bounced here) must not invalidate the first form.
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (16 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()):
        token = secrets.token_urlsafe(16)
    response = render(request, "login.html", csrf=token, next=_local(request.query.get("next", "/")), error=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", max_age=3600,
                        secure=request.app[CTX].config.secure_cookies)
    return response


async def login(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    form = await request.post()
    if not secrets.compare_digest(str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "-")):
        raise web.HTTPForbidden(text="CSRF token missing or wrong: reload the login page")
    username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:256]
    target = _local(str(form.get("next", "/")))
    user = await users.get_user(ctx.db, username)
    now = ctx.clock()
    if user is not None and user["locked_until"] and datetime.fromisoformat(user["locked_until"]) > now:
        return render(request, "login.html", status=429, csrf=form.get("csrf"), next=target, error="locked")
    # The check runs in a thread (scrypt is slow on purpose) and as slowly for unknown names.
    ok = await asyncio.to_thread(verify_password, password, user["password_hash"] if user else _DUMMY_HASH)
    if user is None or not ok:
        if user is not None:
            await users.record_failure(ctx.db, user["id"], ctx.config.lockout_attempts,
                                       now + timedelta(minutes=ctx.config.lockout_minutes))
        return render(request, "login.html", status=401, csrf=form.get("csrf"), next=target, error="wrong")
    await users.record_success(ctx.db, user["id"])
    token = secrets.token_urlsafe(32)  # a new session id at every login
    await users.create_session(ctx.db, token, user["id"], secrets.token_urlsafe(32), now,
                               now + timedelta(minutes=ctx.config.session_minutes))
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await users.end_session(ctx.db, old)
    response = web.HTTPFound(target)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/",
                        secure=ctx.config.secure_cookies)
    response.del_cookie(LOGIN_CSRF_COOKIE)
    raise response


async def logout(request: web.Request) -> web.Response:
    await users.end_session(request.app[CTX].db, request.cookies.get(SESSION_COOKIE, ""))
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def home(request: web.Request) -> web.Response:
    return render(request, "home.html")


@owner_only
async def users_page(request: web.Request) -> web.Response:
    rows = await request.app[CTX].db.fetchall("SELECT username, role, created_at FROM users ORDER BY username")
    return render(request, "users.html", users=rows)


def make_web_app(ctx: WebContext) -> web.Application:
    """The aiohttp application (routes, middlewares, templates)."""
    app = web.Application(middlewares=[security_headers, authenticate], client_max_size=1024 * 1024)
    app[CTX] = ctx
    core = jinja2.PackageLoader("smsd_crm.web", "templates")
    extra = pages.template_dirs(ctx.host) if ctx.host else []
    app[TEMPLATES] = jinja2.Environment(loader=pages.loader(core, extra), autoescape=True,
                                        undefined=jinja2.StrictUndefined)
    app[NAV] = pages.mount(app, ctx.host, lambda request: lambda name, **v: render(request, name, **v)) \
        if ctx.host else []
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", home)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/admin/users", users_page)
    app.router.add_static("/static/", path=str(__import__("pathlib").Path(__file__).parent / "static"))
    return app


async def start_web(ctx: WebContext) -> web.AppRunner:
    """Serve on the configured address in the running loop; the caller cleans the runner up."""
    runner = web.AppRunner(make_web_app(ctx), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, ctx.config.host, ctx.config.port)
    await site.start()
    return runner
