"""Who may hold a connection to the web pages, and for how long.

aiohttp accepts every connection and keeps one that never sends a request for its keep-alive
timeout (an hour in aiohttp 3.14; for ever in older ones): 1,100 silent connections from a
neighbour on the LAN took every file descriptor, and ``/login`` with them. So each connection
goes through a ``GuardedConnection`` wrapped around aiohttp's own protocol:

- it has ``web.header_timeout`` seconds to get its first request to the pages (request line and
  headers read), else it is closed; between requests aiohttp's keep-alive timeout
  (``web.idle_timeout``) closes it;
- at most ``web.max_connections`` are open. One more closes the oldest connection that has not
  sent a request yet, else the one idle longest between requests; when every connection is in
  the middle of a request, the new one is closed at once. So silent connections push each other
  out, and a visitor, whose browser sends its request at once, gets in;
- what was closed is logged at most once a minute (``Throttled``), never once per connection.

``ConnectionGuard.middleware`` (the app's outermost) tells the guard when a request starts and
ends. The cap is lowered to what the open-file limit allows (``fit_to_open_files``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

from aiohttp import web

from ..limits import Throttled

LOGGER = logging.getLogger(__name__)
# Descriptors kept for everything but web connections: the database (3 files per connection, a
# writer and a reader), the modems, the log, Bokeh's server, webhooks, an accept burst.
FD_RESERVE = 256
# A dashboard's websocket holds the browser's socket and both ends of the relay to Bokeh's server.
FDS_PER_CONNECTION = 3

ProtocolFactory = Callable[[], asyncio.Protocol]


def fit_to_open_files(wanted: int, open_files: int | None) -> int:
    """The connection cap, lowered so that web connections cannot use up the open-file limit."""
    if open_files is None:
        return wanted
    return max(1, min(wanted, (open_files - FD_RESERVE) // FDS_PER_CONNECTION))


class GuardedConnection(asyncio.Protocol):
    """One accepted connection: aiohttp's protocol inside, the guard's bookkeeping around it."""

    def __init__(self, guard: ConnectionGuard, factory: ProtocolFactory) -> None:
        self._guard = guard
        self._factory = factory
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.requests = 0  # requests that reached the app on this connection
        self.running = 0  # requests in the app now (a websocket runs as long as it is open)
        self.idle_since: float | None = None  # None: new, in a request, or a request arriving
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not self._guard.admit(self):
            transport.close()
            return
        self._timer = asyncio.get_running_loop().call_later(self._guard.header_timeout, self._no_request)
        self.inner = self._factory()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.requests and not self.running:
            self.idle_since = None  # the next request is arriving: not idle any more
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard.forget(self)
        if self._timer is not None:
            self._timer.cancel()
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def request_started(self) -> None:
        self.requests += 1
        self.running += 1
        self.idle_since = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def request_ended(self, now: float) -> None:
        self.running -= 1
        if not self.running:
            self.idle_since = now

    def close(self) -> None:
        """Close the connection (what the client had sent is dropped)."""
        if self.transport is not None:
            self.transport.close()

    def _no_request(self) -> None:
        self._timer = None
        if not self.requests:
            self._guard.timed_out(self)


class ConnectionGuard:
    """The open connections of one web server, and the rules above."""

    def __init__(self, max_connections: int, header_timeout: float, *,
                 clock: Callable[[], float] = time.monotonic, throttled: Throttled | None = None) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self._clock = clock
        self._log = throttled or Throttled(LOGGER)
        self._open: dict[Any, GuardedConnection] = {}  # by transport, oldest first

    def __len__(self) -> int:
        return len(self._open)

    def protocol_factory(self, factory: ProtocolFactory) -> ProtocolFactory:
        """The factory to give ``create_server``: ``factory``'s protocols, guarded."""
        return lambda: GuardedConnection(self, factory)

    def admit(self, conn: GuardedConnection) -> bool:
        """Make room for ``conn`` (closing another) or refuse it."""
        if len(self._open) >= self.max_connections:
            victim = self._victim()
            if victim is None:
                self._log.log(logging.WARNING, "web: %d connections open, all in a request "
                              "(web.max_connections): refused a new one", len(self._open))
                return False
            self._log.log(logging.WARNING, "web: %d connections open (web.max_connections): closed the "
                          "oldest one without a request to let a new one in", len(self._open))
            self.forget(victim)
            victim.close()
        self._open[conn.transport] = conn
        return True

    def forget(self, conn: GuardedConnection) -> None:
        self._open.pop(conn.transport, None)

    def timed_out(self, conn: GuardedConnection) -> None:
        # Browsers open spare connections they may never use: routine, so only at DEBUG.
        self._log.log(logging.DEBUG, "web: closed a connection that sent no request within %g s "
                      "(web.header_timeout)", self.header_timeout)
        self.forget(conn)
        conn.close()

    def _victim(self) -> GuardedConnection | None:
        longest_idle: GuardedConnection | None = None
        for conn in self._open.values():
            if not conn.requests:
                return conn  # the oldest that never sent a request
            if conn.idle_since is not None and (longest_idle is None or conn.idle_since < longest_idle.idle_since):
                longest_idle = conn
        return longest_idle

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Tell the connection's bookkeeping that a request is in the app."""
        conn = self._open.get(request.transport)
        if conn is None:
            return await handler(request)
        conn.request_started()
        try:
            return await handler(request)
        finally:
            conn.request_ended(self._clock())


class GuardedSite(web.BaseSite):
    """aiohttp's ``TCPSite``, with every connection going through ``guard``."""

    def __init__(self, runner: web.BaseRunner, guard: ConnectionGuard, host: str, port: int,
                 *, backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self._guard = guard
        self._host = host
        self._port = port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None, "the runner is set up first"
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(server), self._host, self._port, backlog=self._backlog)
