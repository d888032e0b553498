"""The staff and owner web pages and the JSON API: one aiohttp app in the daemon's own loop.

This module only assembles: middlewares (``auth``), core pages (customers,
messages, modems, plugins, simulator, users, account, the API's description),
the pages and API routes plugins add, the live-refresh long poll, templates and
static files.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import jinja2
from aiohttp import web

from ..errors import StartupError
from ..limits import open_file_limit
from ..storage import users
from . import (
    admin_pages,
    api,
    api_page,
    campaign_pages,
    customer_pages,
    dashboard_pages,
    home_page,
    message_pages,
    pages,
    passwords,
    simulator_page,
    user_pages,
)
from .auth import (
    SESSION_COOKIE,
    authenticate,
    choose_language,
    error_pages,
    json_error,
    keep_files,
    login,
    login_page,
    logout,
    security_headers,
)
from .base import CTX, HASHING, NAV, TEMPLATES, THROTTLE, USER, WebContext, live_versions
from .connections import ConnectionGuard, GuardedSite, QuietServerLog, fit_to_open_files
from .hosts import check_host, read_forms
from .passwords import Hashing
from .throttle import LoginThrottle

LOGGER = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
__all__ = ["WebContext", "make_web_app", "start_web"]


async def favicon(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def live(request: web.Request) -> web.Response:
    """Long poll: answers with the topic's version once it differs from ``v`` (or after ~25 s); 401 at
    once when this session is ended meanwhile (the login disabled, its password changed)."""
    topic = request.query.get("topic", "")[:40]
    try:
        seen = int(request.query.get("v", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="v must be a number") from None
    ctx = request.app[CTX]
    while (version := await ctx.live.wait(topic, seen, user_id=request[USER]["user_id"])) is None:
        if await users.get_session(ctx.db, request.cookies.get(SESSION_COOKIE, ""), ctx.clock()) is None:
            raise json_error(web.HTTPUnauthorized, "logged out")
    return web.json_response({"v": version})


def make_web_app(ctx: WebContext) -> web.Application:
    """The aiohttp application (routes, middlewares, templates)."""
    app = web.Application(middlewares=[security_headers, error_pages, check_host, read_forms, authenticate,
                                       live_versions],
                          client_max_size=1024 * 1024)
    app.on_response_prepare.append(keep_files)
    app[CTX] = ctx
    app[THROTTLE] = LoginThrottle(ctx.config.lockout_attempts, timedelta(minutes=ctx.config.lockout_minutes))
    app[HASHING] = Hashing()
    core = jinja2.PackageLoader("smsd_crm.web", "templates")
    extra = pages.template_dirs(ctx.host) if ctx.host else []
    app[TEMPLATES] = jinja2.Environment(loader=pages.loader(core, extra), autoescape=True,
                                        undefined=jinja2.StrictUndefined)
    nav: list[dict] = []
    nav += customer_pages.add_routes(app)
    nav += message_pages.add_routes(app)
    nav += pages.mount(app, ctx.host) if ctx.host else []
    nav += simulator_page.add_routes(app)
    nav += dashboard_pages.add_routes(app)
    nav += campaign_pages.add_routes(app)
    nav += admin_pages.add_routes(app)
    nav += user_pages.add_routes(app)
    nav += api_page.add_routes(app)
    app[NAV] = nav
    api.add_routes(app, ctx.host)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/lang/{code}", choose_language)
    app.router.add_get("/", home_page.home)
    app.router.add_get("/live", live)
    app.on_shutdown.append(lambda _app: _close_live(ctx))
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static("/static/", path=str(STATIC))
    return app


async def _close_live(ctx: WebContext) -> None:
    if ctx.live is not None:
        ctx.live.close()


async def start_web(ctx: WebContext) -> web.AppRunner:
    """Serve on the configured address in the running loop; the caller cleans the runner up.

    Connections are guarded (``connections.py``): a header timeout for every request, a body timeout,
    aiohttp's keep-alive timeout as the idle timeout, a cap that fits the open-file limit, and requests
    aiohttp cannot parse logged once a minute per kind.
    """
    # The dummy hash unknown names are checked against, made before the first login (not during it).
    await asyncio.to_thread(passwords.dummy_hash, passwords.COST)
    config = ctx.config
    cap = fit_to_open_files(config.max_connections, open_file_limit())
    if cap < config.max_connections:
        LOGGER.warning("web.max_connections lowered from %d to %d to fit the open-file limit (ulimit -n)",
                       config.max_connections, cap)
    guard = ConnectionGuard(cap, config.header_timeout, config.body_timeout)
    app = make_web_app(ctx)
    app.middlewares.insert(0, guard.middleware)  # outermost: it sees every request, errors included
    # logger: requests aiohttp cannot parse are logged once a minute per kind, not with a traceback each
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=config.idle_timeout, logger=QuietServerLog())
    await runner.setup()
    site = GuardedSite(runner, guard, config.host, config.port)
    try:
        await site.start()
    except OSError as exc:  # the port taken (another smsd-crm, a second demo), an address not on this PC
        await runner.cleanup()
        raise StartupError(f"web: cannot listen on {config.host}:{config.port}: {exc.strerror or exc} "
                           "(another program uses that port? choose another with web.port)") from None
    return runner
