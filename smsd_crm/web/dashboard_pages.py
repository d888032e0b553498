"""The owner's dashboard pages: one page per Bokeh view, the BokehJS files, and CSV exports."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from aiohttp import web
from markupsafe import Markup

from ..csv_io.writing import attachment, to_csv
from .auth import may_see_dashboards
from .base import CTX, language, page_error, render, speaker
from .dashboards import PREFIX

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
    speak = speaker(request)
    views = [(v.name, speak.t(v.title_name)) for v in host.views.values()]
    # The live topic "session" changes with nothing shown here: the page follows the login only (logged
    # out elsewhere, disabled, expired: the login form instead of charts that no longer update).
    return render(request, "dashboard.html", script=script, views=views, current=name,
                  sources=host.sources.get(name, []), live="session")


async def sales_csv(request: web.Request) -> web.Response:
    """The sales view's data as CSV, at the level asked for."""
    drill = await _host(request).data.drill()  # the dashboards' own arrays, off the daemon's connection
    year, category = request.query.get("year"), request.query.get("category", "")[:100]
    try:
        if year and category:
            bars = drill.by_product(year, category)
        elif year:
            bars = drill.by_month(year) + drill.by_category(year)
        else:
            bars = drill.by_year()
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    time_key = not category  # keys are years (or months beside categories), not products
    text = to_csv(zoned(["key", "label", "sms_revenue", "till_revenue", "revenue", "units"], request,
                        ("key",) if time_key else ()),
                  ([b.key, b.label, b.sms_revenue, b.till_revenue, b.revenue, b.units] for b in bars))
    name = "-".join(["sales", *(p for p in (year, category) if p)])
    return web.Response(text=text, content_type="text/csv", headers={"Content-Disposition": attachment(f"{name}.csv")})


async def view_csv(request: web.Request) -> web.Response:
    """Any view's data as CSV: ``/dash/<view>.csv?source=<name>`` (the view's named data sources; the
    first when none is given). The numbers are the view's own, from the same memoised computation."""
    from bokeh.document import Document

    host = _host(request)
    name = request.match_info["view"]
    view = host.views.get(name)
    if view is None:
        raise web.HTTPNotFound(text="no such dashboard")
    doc = Document()
    from .dashboards import DocumentHub, data_tables

    await view.make(doc, host.data, DocumentHub())()
    tables = data_tables(doc)
    wanted = request.query.get("source") or next(iter(tables), None)
    if wanted not in tables:
        raise web.HTTPNotFound(text=f"no data source {wanted!r} (this view has: {', '.join(tables)})")
    columns, rows = tables[wanted]
    return web.Response(text=to_csv(zoned(columns, request), rows), content_type="text/csv",
                        headers={"Content-Disposition": attachment(f"{name}-{wanted}.csv")})


TIME_COLUMNS = ("day", "week", "month", "year", "date", "at", "first", "last")


def zoned(columns: list[str], request: web.Request, also: tuple[str, ...] = ()) -> list[str]:
    """Column names with the zone their days and times are in: ``month (Asia/Jakarta)``. Every day,
    month and year is the shop's (``store.timezone``), never UTC's."""
    zone = request.app[CTX].store.timezone
    return [f"{c} ({zone})" if c in TIME_COLUMNS or c in also else c for c in columns]


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
    app.router.add_get(f"{PREFIX}/sales.csv", sales_csv)
    app.router.add_get(PREFIX + "/{view}.csv", view_csv)
    app.router.add_get(PREFIX + "/{view}", dashboard_page)
    app.router.add_get(PREFIX + "/{view}/autoload.js", host.autoload)
    app.router.add_get(PREFIX + "/{view}/ws", host.websocket)
    app.on_shutdown.append(lambda _app: host.stop())
    app.cleanup_ctx.append(follow_logins)
    return [{"path": PREFIX, "key": "nav.dashboards", "role": "owner"}]
