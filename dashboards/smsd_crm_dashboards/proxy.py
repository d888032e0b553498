"""The owner's Bokeh dashboards as the daemon's aiohttp server offers them.

Bokeh's server runs in the dashboards worker (``worker.py``, a process of its own started by
``link.py``) on an ephemeral loopback port and trusts only requests that carry a per-process secret
header; aiohttp is the only public listener: the web pages check the owner login and hand the request
here; this module serves BokehJS from the installed package (no CDN: works offline), proxies
``autoload.js`` (with only the parameters Bokeh needs and a session id the proxy chose), the CSV
exports, and relays the websocket (after checking its Origin and that its own login opened that
session). Dashboards follow the login (sessions.py): closed when it ends, a few per user at most.
docs/architecture.md (dashboards) says which pitfalls this avoids.

No Bokeh document, no analytics and no numpy in this process: it stays small and its loop free.
"""

from __future__ import annotations

import asyncio
import logging
import re
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from smsd_crm.csv_io.writing import attachment

from .link import DashboardsUnavailable, WorkerLink
from .sessions import Opened, SessionAlive, SessionBook
from .spec import PREFIX, SECRET_HEADER, ViewSpec

LOGGER = logging.getLogger(__name__)
MAX_MESSAGE = 20 * 1024 * 1024
PER_USER = 8  # Bokeh sessions one user may have open (tabs, phone, PC); one more closes the oldest
ELEMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")  # an autoload element id


class DashboardProxy:
    """The aiohttp side of the dashboards: the views' names and titles, the worker link, the sessions
    each login opened."""

    def __init__(self, views: list[ViewSpec], worker: WorkerLink, signing_key: str, *, per_user: int = PER_USER) -> None:
        self.views = {v.name: v for v in views}
        self.worker = worker
        self.signing_key = signing_key
        self.book = SessionBook(per_user, self._expire)
        self.client: aiohttp.ClientSession | None = None
        self._stopped = False
        worker.busy = lambda: bool(self.sockets)

    @property
    def sockets(self) -> dict[web.WebSocketResponse, Opened]:
        """The open websocket relays and the session each serves."""
        return self.book.sockets

    @property
    def sources(self) -> dict[str, list[str]]:
        """Each view's exportable tables, as far as the worker has said."""
        return self.worker.sources

    async def start(self) -> None:
        """The HTTP client to the worker. No pool limit of its own (aiohttp's default is 100): sockets
        are bounded per login."""
        self.client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                                            connector=aiohttp.TCPConnector(limit=0))
        LOGGER.info("dashboards: %d view(s), computed in a worker process of their own", len(self.views))

    async def stop(self) -> None:
        """Close the websockets (else SIGTERM waits for them), the client and the worker. Idempotent:
        the web server's shutdown and the daemon's exit stack both call it."""
        if self._stopped:
            return
        self._stopped = True
        for ws in list(self.sockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server stopping")
        if self.client:
            await self.client.close()
        await self.worker.close()

    async def recheck(self, alive: SessionAlive, user_id: int | None = None) -> int:
        """Close the dashboards of every login that no longer lives (of ``user_id``'s logins only, if
        given): after a logout, a disabled login, a new password or role at once, and periodically for
        logins that expired. Return how many logins ended."""
        return await self.book.recheck(alive, user_id)

    def _expire(self, opened: Opened) -> None:
        """Ask Bokeh to discard a session at its next cleanup (once no connection is left)."""
        self.worker.expire(opened.view, opened.session_id)

    async def internal(self) -> str:
        """The worker's loopback address (starting the worker if needed). Raises HTTP 503."""
        try:
            return f"http://127.0.0.1:{await self.worker.ensure()}"
        except DashboardsUnavailable:
            raise web.HTTPServiceUnavailable(text="the dashboards could not start; the log says why") from None

    def static_path(self) -> str:
        """Where BokehJS is installed (found without importing Bokeh here)."""
        spec = find_spec("bokeh")
        assert spec is not None and spec.origin is not None
        return str(Path(spec.origin).parent / "server" / "static")

    async def state(self) -> dict | None:
        """The worker's state (``Worker.state``: sessions per view, live documents, resident bytes), or
        None when it is not running."""
        if not self.worker.running() or self.client is None:
            return None
        try:
            async with self.client.get(f"http://127.0.0.1:{self.worker.port}{PREFIX}/_state",
                                       headers={SECRET_HEADER: self.worker.spec.secret},
                                       timeout=aiohttp.ClientTimeout(total=10)) as answer:
                return await answer.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def export(self, name: str, query: dict[str, str]) -> web.Response:
        """``/dash/<view>.csv``: the worker makes the file, passed on as it is (``query``: ``source``,
        and the sales view's ``year`` and ``category``)."""
        if name not in self.views:
            raise web.HTTPNotFound(text="no such dashboard")
        assert self.client is not None
        url = f"{await self.internal()}{PREFIX}/_export/{name}"
        try:
            async with self.client.get(url, params=query, headers={SECRET_HEADER: self.worker.spec.secret},
                                       timeout=aiohttp.ClientTimeout(total=300)) as answer:
                body = await answer.read()
                if answer.status != 200:
                    return web.Response(body=body, status=answer.status, content_type="text/plain")
                filename = unquote(answer.headers.get("X-Filename", "")) or f"{name}.csv"
                return web.Response(body=body, content_type="text/csv", charset="utf-8",
                                    headers={"Content-Disposition": attachment(filename)})
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise web.HTTPBadGateway(text=f"dashboards worker: {exc}") from None

    async def autoload(self, request: web.Request, user_id: int, login: str) -> web.Response:
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
        too_many = self.book.open(Opened(params["bokeh-session-id"], name, user_id, login))
        if too_many:
            await self.book.close(too_many, b"too many dashboards open")
        assert self.client is not None
        url = f"{await self.internal()}{PREFIX}/{name}/autoload.js"
        async with self.client.get(url, params=params, headers={SECRET_HEADER: self.worker.spec.secret},
                                   timeout=aiohttp.ClientTimeout(total=120)) as answer:
            body = await answer.read()
            return web.Response(body=body, status=answer.status,
                                content_type=answer.content_type or "application/javascript")

    def _session_of(self, request: web.Request, protocols: list[str], login: str) -> Opened:
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
                or opened.login != login:
            raise refused
        return opened

    async def websocket(self, request: web.Request, login: str) -> web.StreamResponse:
        """Relay BokehJS's websocket to the worker, frames in order both ways (``login``: the session
        cookie of the login asking)."""
        name = request.match_info["view"]
        origin = request.headers.get("Origin", "")
        if name not in self.views or origin not in (f"http://{request.host}", f"https://{request.host}"):
            raise web.HTTPForbidden(text="websocket from another site refused")
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        opened = self._session_of(request, protocols, login)
        assert self.client is not None
        internal = await self.internal()  # a worker that ended starts again here: BokehJS reconnects
        try:
            inner = await self.client.ws_connect(
                f"{internal.replace('http', 'ws')}{PREFIX}/{name}/ws", protocols=protocols,
                headers={SECRET_HEADER: self.worker.spec.secret, "Origin": f"http://localhost:{self.worker.port}"},
                max_msg_size=MAX_MESSAGE, compress=0)
        except aiohttp.ClientError as exc:
            raise web.HTTPBadGateway(text=f"dashboard server refused: {exc}") from None
        # No per-message deflate either way: compressing every chart update cost the daemon's loop a
        # tenth of its time with eight dashboards open (py-spy), for a loopback or shop-LAN hop.
        outer = web.WebSocketResponse(protocols=("bokeh",), max_msg_size=MAX_MESSAGE, heartbeat=30, compress=False)
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
