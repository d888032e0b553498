"""The owner's dashboard pages: one page per Bokeh view, the BokehJS files, and CSV exports."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from aiohttp import web
from markupsafe import Markup
from smsd_crm_dashboards.spec import PREFIX

from .auth import SESSION_COOKIE, may_see_dashboards
from .base import CTX, USER, language, page_error, render, speaker

LOGGER = logging.getLogger(__name__)
LOGIN_CHECK = 30.0  # seconds between checks that the logins with dashboards open still live (expiry)


def _host(request: web.Request):
    host = request.app[CTX].dashboards
    if host is None:
        raise page_error(web.HTTPNotFound, "error.no_dashboards")
    return host


async def dashboard_index(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"{PREFIX}/{next(iter(_host(request).views))}")


async def dashboard_page(request: web.Request) -> web.Response:
    host = _host(request)
    name = request.match_info["view"]
    if name not in host.views:
        raise page_error(web.HTTPNotFound, "error.not_found")
    element = f"bk-{name}"
    lang = language(request)
    # A plain <script src> (no inline script, so the page keeps a strict CSP). ``lang`` reaches the
    # view through the session's request arguments: its labels follow the page's language.
    script = Markup('<script id="{0}" src="{1}/{2}/autoload.js?bokeh-autoload-element={0}&amp;'
                    'bokeh-app-path={1}/{2}&amp;lang={3}"></script>').format(element, PREFIX, name, lang)
    host.worker.prestart()  # the script below wants the worker: start it while the page travels
    speak = speaker(request)
    views = [(v.name, v.title(speak)) for v in host.views.values()]
    # The live topic "session" changes with nothing shown here: the page follows the login only (logged
    # out elsewhere, disabled, expired: the login form instead of charts that no longer update).
    return render(request, "dashboard.html", script=script, views=views, current=name,
                  sources=host.sources.get(name, []), live="session")


async def view_csv(request: web.Request) -> web.Response:
    """A view's data as CSV: ``/dash/<view>.csv?source=<name>`` (the view's named data sources; the
    first when none is given; the sales view: the drill-down level ``year``/``category`` ask for). The
    numbers are the view's own, made by the dashboards worker from the same memoised computation."""
    name = request.match_info["view"]
    query = {k: request.query[k] for k in ("source", "year", "category", "store") if k in request.query}
    return await _host(request).export(name, query)


async def autoload(request: web.Request) -> web.Response:
    return await _host(request).autoload(request, request[USER]["user_id"], request.cookies.get(SESSION_COOKIE, ""))


async def websocket(request: web.Request) -> web.StreamResponse:
    return await _host(request).websocket(request, request.cookies.get(SESSION_COOKIE, ""))


async def follow_logins(app: web.Application):
    """While the web server runs: every ``LOGIN_CHECK`` seconds, close the dashboards of logins that
    expired or were ended by another process (a logout, a disabled login, a new password or role
    close them at once, see auth.sessions_ended)."""
    ctx = app[CTX]

    async def sweep() -> None:
        while True:
            await asyncio.sleep(LOGIN_CHECK)
            try:
                await ctx.dashboards.recheck(lambda token: may_see_dashboards(ctx, token))
            except Exception:  # a busy database: the next check tries again
                LOGGER.exception("dashboards: checking the logins failed")

    task = asyncio.create_task(sweep(), name="dashboards-logins")
    yield
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


def add_routes(app: web.Application) -> list[dict]:
    """Mount the dashboard pages (when the dashboards run); return their navigation entry."""
    host = app[CTX].dashboards
    if host is None:
        return []
    app.router.add_get(PREFIX, dashboard_index)
    app.router.add_static(f"{PREFIX}/static/", path=host.static_path())
    app.router.add_get(PREFIX + "/{view}.csv", view_csv)
    app.router.add_get(PREFIX + "/{view}", dashboard_page)
    app.router.add_get(PREFIX + "/{view}/autoload.js", autoload)
    app.router.add_get(PREFIX + "/{view}/ws", websocket)
    app.on_shutdown.append(lambda _app: host.stop())
    app.cleanup_ctx.append(follow_logins)
    return [{"path": PREFIX, "key": "nav.dashboards", "role": "owner"}]
