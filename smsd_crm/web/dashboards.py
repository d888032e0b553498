"""The owner's Bokeh dashboards, served through the daemon's aiohttp server.

Bokeh's own server runs on the daemon's loop on an ephemeral loopback port and trusts only
requests that carry a per-process secret header; aiohttp is the only public listener: it checks
the owner login, serves the page and BokehJS from the installed package (no CDN: works offline),
proxies ``autoload.js`` and relays the websocket (after checking its Origin). Open documents are
refreshed through ``doc.add_next_tick_callback`` when the live feed reports a change.
See ../shared/design/dashboards.md for the pitfalls this avoids.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Callable

import aiohttp
from aiohttp import web

from .base import USER

LOGGER = logging.getLogger(__name__)
SECRET_HEADER = "X-Smsd-Dashboard"
PREFIX = "/dash"
MAX_MESSAGE = 20 * 1024 * 1024
LIVE_TOPICS = ("orders", "sales", "complaints", "messages")


@dataclass(frozen=True)
class View:
    """One dashboard: its URL name, the catalogue name of its menu title (``dash.view.sales``), and
    ``make(doc, data, hub, lang=None)`` that fills a Bokeh Document (labels from the catalogue in
    ``lang``, the page's language; Indonesian when None)."""

    name: str
    title_name: str
    make: Callable[..., None]


class DocumentHub:
    """Open Bokeh documents and their refresh functions; refreshes go through the document's own
    next-tick callback (changing a session's document from another task is an error)."""

    def __init__(self) -> None:
        self._open: dict[Any, Callable[[], Any]] = {}
        self._pending: set[Any] = set()

    def register(self, doc, refresh: Callable[[], Any]) -> None:
        """Refresh ``doc`` on every change until its session ends."""
        self._open[doc] = refresh
        doc.on_session_destroyed(lambda _context: self._open.pop(doc, None))

    def __len__(self) -> int:
        return len(self._open)

    def changed(self, topic: str | None = None) -> None:
        """Something the dashboards show changed: schedule one refresh per open document."""
        if topic is not None and topic not in LIVE_TOPICS:
            return
        for doc, refresh in list(self._open.items()):
            if doc in self._pending:
                continue  # a burst of orders makes one refresh, not one per order
            self._pending.add(doc)

            async def run(doc=doc, refresh=refresh) -> None:
                self._pending.discard(doc)
                await refresh()
            try:
                doc.add_next_tick_callback(run)
            except Exception:  # the session is going away
                self._pending.discard(doc)
                self._open.pop(doc, None)



def page_language(doc) -> str | None:
    """The language the page asked for: ``lang`` in autoload.js's query, which Bokeh keeps in the
    session's request arguments (None for a document without a session: warm-up, CSV export)."""
    try:
        value = (doc.session_context.request.arguments.get("lang") or [b""])[0]
    except AttributeError:
        return None
    value = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return value if value in ("id", "en") else None


def data_tables(doc) -> dict[str, tuple[list[str], list[list]]]:
    """A view's exportable data: its named ColumnDataSources (what the charts draw) and the tables it
    offered with ``smsd_crm_dashboards.common.export``; name -> (columns, rows)."""
    from bokeh.models import ColumnDataSource

    out = {}
    for source in doc.select({"type": ColumnDataSource}):
        if source.name:
            columns = list(source.data)
            out[source.name] = (columns, [list(r) for r in zip(*(list(source.data[c]) for c in columns))])
    for name, (columns, rows) in doc.template_variables.get("exports", {}).items():
        out[name] = (columns, rows())
    return out

class BokehHost:
    """The internal Bokeh server (started inside the running loop) and the aiohttp glue to it."""

    def __init__(self, views: list[View], data: Any, hub: DocumentHub, signing_key: str,
                 session_seconds: float) -> None:
        self.views = {v.name: v for v in views}
        self.data = data
        self.hub = hub
        self.signing_key = signing_key
        self.session_seconds = session_seconds
        self.secret = secrets.token_urlsafe(32)
        self.server = None
        self.client: aiohttp.ClientSession | None = None
        self.sockets: dict[web.WebSocketResponse, tuple[int, str]] = {}  # open relays: (user id, session hash)
        self._stopped = False
        self.sources: dict[str, list[str]] = {}  # view -> its named data sources (the CSV exports)

    async def start(self) -> None:
        """Start Bokeh's server on this loop (a server made before the loop runs hangs every request)."""
        from bokeh.application import Application
        from bokeh.application.handlers.function import FunctionHandler
        from bokeh.server.auth_provider import AuthProvider
        from bokeh.server.server import Server
        from bokeh.settings import settings
        from tornado.ioloop import IOLoop

        settings.resources.set_value("server")  # never a CDN, whatever BOKEH_RESOURCES says
        secret = self.secret

        class ProxyOnly(AuthProvider):
            @property
            def get_user(self):
                return lambda handler: "proxy" if secrets.compare_digest(
                    handler.request.headers.get(SECRET_HEADER, ""), secret) else None

            @property
            def login_url(self):
                return "/login"

        apps = {f"/{v.name}": Application(FunctionHandler(
            lambda doc, v=v: v.make(doc, self.data, self.hub, lang=page_language(doc))))
            for v in self.views.values()}
        self.server = Server(apps, io_loop=IOLoop.current(), address="127.0.0.1", port=0, prefix=PREFIX,
                             auth_provider=ProxyOnly(), include_headers=[], include_cookies=[],
                             exclude_headers=None, sign_sessions=True, secret_key=self.signing_key,
                             session_token_expiration=int(self.session_seconds), use_index=False,
                             redirect_root=False, check_unused_sessions_milliseconds=5000,
                             unused_session_lifetime_milliseconds=15000)
        self.server.start()
        self.client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        logging.getLogger("tornado.access").setLevel(logging.WARNING)  # one line per request is noise
        LOGGER.info("dashboards: %d view(s); Bokeh server on 127.0.0.1:%d (internal, needs the proxy's key)",
                    len(self.views), self.server.port)

    async def stop(self) -> None:
        """Close the websockets (else SIGTERM waits for them), the client and the server. Idempotent:
        the web server's shutdown and the daemon's exit stack both call it."""
        if self._stopped:
            return
        self._stopped = True
        for ws in list(self.sockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server stopping")
        if self.client:
            await self.client.close()
        if self.server:
            self.server.stop()

    async def end_sessions(self, user_id: int, keep: str | None = None) -> None:
        """Close the dashboards a user has open (disabled, a new password), except those of the session
        whose hash is ``keep``: a view the owner may no longer see stops updating at once."""
        for ws, (owner, session) in list(self.sockets.items()):
            if owner == user_id and session != keep:
                await ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"logged out")

    async def warm_up(self) -> None:
        """Compute every view once in the background (on throwaway documents) so the owner's first look
        finds the numbers ready; a failure is logged and the view computes when opened."""
        from bokeh.document import Document

        started = asyncio.get_running_loop().time()
        for view in self.views.values():
            try:
                doc = Document()
                await view.make(doc, self.data, DocumentHub())()
                self.sources[view.name] = list(data_tables(doc))
            except Exception:
                LOGGER.exception("dashboard %s: warming up failed", view.name)
        LOGGER.info("dashboards ready in %.1f s", asyncio.get_running_loop().time() - started)

    @property
    def internal(self) -> str:
        """The Bokeh server's loopback address."""
        return f"http://127.0.0.1:{self.server.port}"

    def static_path(self) -> str:
        """Where BokehJS is installed."""
        from bokeh.settings import settings

        return str(settings.bokehjs_path())

    def script(self, name: str) -> str:
        """The ``<script src=.../autoload.js>`` tag that embeds a view (relative URLs: any host name works)."""
        from bokeh.embed import server_document

        return server_document(f"{PREFIX}/{name}", relative_urls=True)

    async def autoload(self, request: web.Request) -> web.Response:
        """Proxy ``/dash/<view>/autoload.js`` to the internal server with the secret header."""
        name = request.match_info["view"]
        if name not in self.views:
            raise web.HTTPNotFound(text="no such dashboard")
        assert self.client is not None
        url = f"{self.internal}{PREFIX}/{name}/autoload.js"
        async with self.client.get(url, params=request.query, headers={SECRET_HEADER: self.secret}) as answer:
            body = await answer.read()
            return web.Response(body=body, status=answer.status,
                                content_type=answer.content_type or "application/javascript")

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """Relay BokehJS's websocket to the internal server, frames in order both ways."""
        name = request.match_info["view"]
        origin = request.headers.get("Origin", "")
        if name not in self.views or origin not in (f"http://{request.host}", f"https://{request.host}"):
            raise web.HTTPForbidden(text="websocket from another site refused")
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        assert self.client is not None
        try:
            inner = await self.client.ws_connect(
                f"{self.internal.replace('http', 'ws')}{PREFIX}/{name}/ws", protocols=protocols,
                headers={SECRET_HEADER: self.secret, "Origin": f"http://localhost:{self.server.port}"},
                max_msg_size=MAX_MESSAGE)
        except aiohttp.ClientError as exc:
            raise web.HTTPBadGateway(text=f"dashboard server refused: {exc}") from None
        outer = web.WebSocketResponse(protocols=("bokeh",), max_msg_size=MAX_MESSAGE, heartbeat=30)
        await outer.prepare(request)
        session = request[USER]
        self.sockets[outer] = (session["user_id"], session["token_hash"])

        async def pump(source, sink) -> None:
            async for msg in source:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await sink.send_str(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    await sink.send_bytes(msg.data)
                else:
                    break
        try:
            async with asyncio.TaskGroup() as tg:
                up = tg.create_task(pump(outer, inner))
                down = tg.create_task(pump(inner, outer))
                done, _ = await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
                for task in (up, down):
                    task.cancel()
        except* (aiohttp.ClientError, ConnectionResetError):
            pass
        finally:
            self.sockets.pop(outer, None)
            await inner.close()
            await outer.close()
        return outer
