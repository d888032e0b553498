"""The owner's Bokeh dashboards, served through the daemon's aiohttp server.

Bokeh's own server runs on the daemon's loop on an ephemeral loopback port and trusts only
requests that carry a per-process secret header; aiohttp is the only public listener: it checks
the owner login, serves the page and BokehJS from the installed package (no CDN: works offline),
proxies ``autoload.js`` (with only the parameters Bokeh needs and a session id the proxy chose) and
relays the websocket (after checking its Origin and that its own login opened that session). Open
documents are refreshed through ``doc.add_next_tick_callback`` when the live feed reports a change.
Dashboards follow the login (dashboard_sessions.py): closed when it ends, a few per user at most.
docs/architecture.md (dashboards) says which pitfalls this avoids.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from contextlib import suppress
from typing import Any, Callable

import aiohttp
from aiohttp import web

from ..models import View
from .auth import SESSION_COOKIE
from .base import USER
from .dashboard_sessions import Opened, SessionAlive, SessionBook, SpacedCollector, defer_bokeh_collections

LOGGER = logging.getLogger(__name__)
SECRET_HEADER = "X-Smsd-Dashboard"
PREFIX = "/dash"
MAX_MESSAGE = 20 * 1024 * 1024
LIVE_TOPICS = ("orders", "sales", "complaints", "messages")
PER_USER = 8  # Bokeh sessions one user may have open (tabs, phone, PC); one more closes the oldest
COLLECT_SECONDS = 120.0  # at most one full garbage collection this often, after sessions ended
ELEMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")  # an autoload element id


class DocumentHub:
    """Open Bokeh documents and their refresh functions; refreshes go through the document's own
    next-tick callback (changing a session's document from another task is an error)."""

    def __init__(self) -> None:
        self._open: dict[Any, Callable[[], Any]] = {}
        self._pending: set[Any] = set()

    def register(self, doc, refresh: Callable[[], Any]) -> None:
        """Refresh ``doc`` on every change until ``forget(doc)`` (the host calls it when the session
        ends; a document callback would make Bokeh run a full garbage collection on the loop)."""
        self._open[doc] = refresh

    def forget(self, doc) -> None:
        """Stop refreshing ``doc`` (its session ended)."""
        self._open.pop(doc, None)
        self._pending.discard(doc)

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
                 session_seconds: float, *, per_user: int = PER_USER, unused_seconds: float = 15.0,
                 check_seconds: float = 5.0, collect_seconds: float = COLLECT_SECONDS) -> None:
        self.views = {v.name: v for v in views}
        self.data = data
        self.hub = hub
        self.signing_key = signing_key
        self.session_seconds = session_seconds
        self.secret = secrets.token_urlsafe(32)
        self.server = None
        self.client: aiohttp.ClientSession | None = None
        self.book = SessionBook(per_user, self._expire)
        self.unused_seconds = unused_seconds  # an unused Bokeh session lingers this long ...
        self.check_seconds = check_seconds  # ... checked this often
        self.collector = SpacedCollector(collect_seconds)
        self._docs: dict[str, Any] = {}  # Bokeh session id -> its document (forgotten by the hub when it ends)
        self._stopped = False
        self.sources: dict[str, list[str]] = {}  # view -> its named data sources (the CSV exports)

    @property
    def sockets(self) -> dict[web.WebSocketResponse, Opened]:
        """The open websocket relays and the session each serves."""
        return self.book.sockets

    async def start(self) -> None:
        """Start Bokeh's server on this loop (a server made before the loop runs hangs every request)."""
        from bokeh.application import Application
        from bokeh.application.handlers.function import FunctionHandler
        from bokeh.application.handlers.handler import Handler
        from bokeh.server.auth_provider import AuthProvider
        from bokeh.server.server import Server
        from bokeh.settings import settings
        from tornado.ioloop import IOLoop

        settings.resources.set_value("server")  # never a CDN, whatever BOKEH_RESOURCES says
        defer_bokeh_collections()
        secret = self.secret

        class ProxyOnly(AuthProvider):
            @property
            def get_user(self):
                return lambda handler: "proxy" if secrets.compare_digest(
                    handler.request.headers.get(SECRET_HEADER, ""), secret) else None

            @property
            def login_url(self):
                return "/login"

        ended = self._session_destroyed

        class Ended(Handler):  # told when Bokeh discards a session (no document callback: see DocumentHub)
            def modify_document(self, doc) -> None:
                pass

            async def on_session_destroyed(self, session_context) -> None:
                ended(session_context)

        def application(view: View) -> Application:
            return Application(FunctionHandler(lambda doc: self._make(view, doc)), Ended())

        apps = {f"/{v.name}": application(v) for v in self.views.values()}
        self.server = Server(apps, io_loop=IOLoop.current(), address="127.0.0.1", port=0, prefix=PREFIX,
                             auth_provider=ProxyOnly(), include_headers=[], include_cookies=[],
                             exclude_headers=None, sign_sessions=True, secret_key=self.signing_key,
                             session_token_expiration=int(self.session_seconds), use_index=False,
                             redirect_root=False, check_unused_sessions_milliseconds=int(self.check_seconds * 1000),
                             unused_session_lifetime_milliseconds=int(self.unused_seconds * 1000))
        self.server.start()
        # No pool limit of its own (aiohttp's default is 100): sockets are bounded per login above.
        self.client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30),
                                            connector=aiohttp.TCPConnector(limit=0))
        self.collector.start()
        logging.getLogger("tornado.access").setLevel(logging.WARNING)  # one line per request is noise
        LOGGER.info("dashboards: %d view(s); Bokeh server on 127.0.0.1:%d (internal, needs the proxy's key)",
                    len(self.views), self.server.port)

    def _make(self, view: View, doc) -> None:
        self._docs[doc.session_context.id] = doc
        view.make(doc, self.data, self.hub, lang=page_language(doc))

    def _session_destroyed(self, context) -> None:
        doc = self._docs.pop(context.id, None)
        if doc is not None:
            self.hub.forget(doc)
        self.collector.request()

    async def stop(self) -> None:
        """Close the websockets (else SIGTERM waits for them), the client and the server. Idempotent:
        the web server's shutdown and the daemon's exit stack both call it."""
        if self._stopped:
            return
        self._stopped = True
        for ws in list(self.sockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server stopping")
        await self.collector.stop()
        if self.client:
            await self.client.close()
        if self.server:
            self.server.stop()

    async def recheck(self, alive: SessionAlive, user_id: int | None = None) -> int:
        """Close the dashboards of every login that no longer lives (of ``user_id``'s logins only, if
        given): after a logout, a disabled login, a new password or role at once, and periodically for
        logins that expired. Return how many logins ended."""
        return await self.book.recheck(alive, user_id)

    def _expire(self, opened: Opened) -> None:
        """Ask Bokeh to discard a session at its next cleanup (once no connection is left)."""
        from bokeh.protocol.exceptions import ProtocolError

        if self.server is None:
            return
        with suppress(ProtocolError, ValueError):  # already discarded, or never created
            self.server.get_session(f"/{opened.view}", opened.session_id).request_expiration()

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
        """Proxy ``/dash/<view>/autoload.js`` to the internal server with the secret header. Bokeh gets
        only what it needs: the element, the view's own path, the page language, and a new session id
        chosen here and recorded for this login (a session, a token or an absolute URL of the
        visitor's choosing never reaches it). One session more than a user may have closes the oldest."""
        from bokeh.util.token import generate_session_id

        name = request.match_info["view"]
        if name not in self.views:
            raise web.HTTPNotFound(text="no such dashboard")
        element = request.query.get("bokeh-autoload-element", "")
        if not ELEMENT.fullmatch(element):
            raise web.HTTPBadRequest(text="bokeh-autoload-element: letters, digits, - and _")
        params = {"bokeh-autoload-element": element, "bokeh-app-path": f"{PREFIX}/{name}",
                  "bokeh-session-id": generate_session_id(secret_key=self.signing_key, signed=True)}
        if request.query.get("lang") in ("id", "en"):
            params["lang"] = request.query["lang"]
        session = request[USER]
        too_many = self.book.open(Opened(params["bokeh-session-id"], name, session["user_id"],
                                         request.cookies.get(SESSION_COOKIE, "")))
        if too_many:
            await self.book.close(too_many, b"too many dashboards open")
        assert self.client is not None
        url = f"{self.internal}{PREFIX}/{name}/autoload.js"
        async with self.client.get(url, params=params, headers={SECRET_HEADER: self.secret}) as answer:
            body = await answer.read()
            return web.Response(body=body, status=answer.status,
                                content_type=answer.content_type or "application/javascript")

    def _session_of(self, request: web.Request, protocols: list[str]) -> Opened:
        """The session a websocket asks for, if this login opened it (else 403)."""
        from bokeh.util.token import check_token_signature, get_session_id

        refused = web.HTTPForbidden(text="not a dashboard this login opened")
        if len(protocols) != 2 or protocols[0] != "bokeh":
            raise refused
        try:
            if not check_token_signature(protocols[1], secret_key=self.signing_key, signed=True):
                raise refused
            opened = self.book.get(get_session_id(protocols[1]))
        except (ValueError, KeyError, TypeError):
            raise refused from None
        if opened is None or opened.view != request.match_info["view"] \
                or opened.login != request.cookies.get(SESSION_COOKIE, ""):
            raise refused
        return opened

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """Relay BokehJS's websocket to the internal server, frames in order both ways."""
        name = request.match_info["view"]
        origin = request.headers.get("Origin", "")
        if name not in self.views or origin not in (f"http://{request.host}", f"https://{request.host}"):
            raise web.HTTPForbidden(text="websocket from another site refused")
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        opened = self._session_of(request, protocols)
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
        if self.book.get(opened.session_id) is None:  # closed while connecting (a logout, one tab too many)
            await inner.close()
            await outer.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"logged out")
            return outer
        # One websocket per Bokeh session (a tab): a second one for the same session replaces the first,
        # so a login holds at most PER_USER sockets however many it opens with its tokens.
        for older in [ws for ws, o in self.sockets.items() if o.session_id == opened.session_id]:
            await older.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"opened again")
        self.sockets[outer] = opened

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
