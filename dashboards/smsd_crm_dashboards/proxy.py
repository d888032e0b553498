"""The owner's Bokeh dashboards as the daemon's aiohttp server offers them.

Bokeh's server runs in the dashboards worker (``worker.py``, a process of its own started by
``link.py``) on an ephemeral loopback port and trusts only requests that carry a per-process secret
header; aiohttp is the only public listener: the web pages check the owner login and hand the request
here; this module serves BokehJS from the installed package (no CDN: works offline), proxies
``autoload.js`` (with only the parameters Bokeh needs and a session id the proxy chose), the CSV
exports, and hands the websocket's connection itself to the worker (after checking its Origin and
that its own login opened that session; handoff.py). Dashboards follow the login (sessions.py): closed when it ends, a few per user at most.
docs/architecture.md (dashboards) says which pitfalls this avoids.

No Bokeh document, no analytics and no numpy in this process: it stays small and its loop free.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from smsd_crm.csv_io.writing import attachment

from .handoff import Handed, HandoffError, upgrade_request
from .link import DashboardsUnavailable, WorkerLink
from .sessions import Opened, SessionAlive, SessionBook
from .spec import PREFIX, SECRET_HEADER, ViewSpec

LOGGER = logging.getLogger(__name__)
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
        self._refusals, self._refusal_logged = 0, -60.0
        worker.busy = lambda: bool(self.sockets)
        worker.ended = self._ended

    @property
    def sockets(self) -> dict[Handed, Opened]:
        """The websocket connections handed to the worker and the session each serves."""
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
        for handed in list(self.sockets):
            await handed.close()
        self.sockets.clear()
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
        from bokeh.util.token import check_token_signature, get_session_id, get_token_payload

        refused = web.HTTPForbidden(text="not a dashboard this login opened")
        if len(protocols) != 2 or protocols[0] != "bokeh":
            raise refused
        try:
            if not check_token_signature(protocols[1], secret_key=self.signing_key, signed=True):
                raise refused
            # An expired token (a tab reconnecting after hours) is refused here: handed over, Bokeh
            # would refuse it with a traceback in the log, at every reconnect attempt.
            if float(get_token_payload(protocols[1])["session_expiry"]) <= time.time():
                raise refused
            opened = self.book.get(get_session_id(protocols[1]))
        except (ValueError, KeyError, TypeError):
            raise refused from None
        if opened is None or opened.view != request.match_info["view"] \
                or opened.login != login:
            raise refused
        return opened

    async def websocket(self, request: web.Request, login: str) -> web.StreamResponse:
        """Hand BokehJS's websocket to the worker (``login``: the session cookie of the login asking):
        the connection itself goes to the worker once checked (handoff.py), so no chart update ever
        crosses this process's loop. 403 for another site, another login's session or a handshake
        that is not a browser's; 503 when the worker cannot start."""
        name = request.match_info["view"]
        origin = request.headers.get("Origin", "")
        if name not in self.views or origin not in (f"http://{request.host}", f"https://{request.host}"):
            raise web.HTTPForbidden(text="websocket from another site refused")
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        opened = self._session_of(request, protocols, login)
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise web.HTTPBadRequest(text="a websocket handshake expected")
        await self.internal()  # a worker that ended starts again here: BokehJS reconnects
        assert self.worker.port is not None
        transport = request.transport
        connection = transport.get_extra_info("socket") if transport is not None else None
        if transport is None or connection is None or transport.get_extra_info("sslcontext") is not None:
            raise web.HTTPBadRequest(text="a websocket over a plain TCP connection expected")
        try:
            upgrade = upgrade_request(f"{PREFIX}/{name}/ws", request.headers, protocols,
                                      self.worker.port, SECRET_HEADER, self.worker.spec.secret)
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        if self.book.get(opened.session_id) is None:  # closed while the worker started (a logout, a tab too many)
            raise web.HTTPForbidden(text="not a dashboard this login opened")
        transport.pause_reading()  # from here the browser's bytes are the worker's to read
        mine = socket.socket(fileno=os.dup(connection.fileno()))
        try:
            number = self.worker.hand(connection.fileno(), upgrade)
        except HandoffError as exc:
            mine.close()
            self._refused(exc)
            transport.resume_reading()
            raise web.HTTPServiceUnavailable(text="the dashboards are not available now") from None
        # One connection per Bokeh session (a tab): a second one for the same session replaces the first
        # (once it is handed over), so a login holds at most PER_USER connections whatever it reopens.
        for older in [c for c, o in self.sockets.items() if o.session_id == opened.session_id]:
            self.sockets.pop(older, None)
            await older.close()
        self.sockets[Handed(number, mine)] = opened
        self.book.connected(opened)
        # aiohttp lets go of the connection without a byte more (the worker answers the handshake):
        # closing its descriptor leaves the connection open, the worker and ``mine`` still hold it.
        transport.abort()
        return web.Response()

    def _refused(self, exc: Exception) -> None:
        """Log a connection the worker could not take: at most once a minute, with a count (a worker
        busy for a minute with tabs reconnecting would otherwise write a line per attempt)."""
        self._refusals += 1
        now = time.monotonic()
        if now - self._refusal_logged >= 60:
            LOGGER.warning("dashboards: %d websocket(s) could not be handed to the worker (busy or stopped): %s",
                           self._refusals, exc)
            self._refusals, self._refusal_logged = 0, now

    def _ended(self, number: int | None) -> None:
        """The worker says a handed connection ended (None: the worker ended, and all of them)."""
        for handed in [h for h in self.sockets if number is None or h.number == number]:
            opened = self.sockets.pop(handed)
            handed.forget(shut=number is None)
            self.book.disconnected(opened)
