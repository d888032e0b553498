"""Who may hold a connection to the web pages, and for how long.

aiohttp accepts every connection and keeps one that never sends a request for its keep-alive
timeout (an hour in aiohttp 3.14; for ever in older ones): 1,100 silent connections from a
neighbour on the LAN took every file descriptor, and ``/login`` with them. So each connection
goes through a ``GuardedConnection`` wrapped around aiohttp's own protocol:

- every request has ``web.header_timeout`` seconds for its request line and headers: the first from
  the moment the connection opens, each later one from its first byte (a kept-alive connection that
  trickles its next request one byte at a time is closed like a new one); between requests aiohttp's
  keep-alive timeout (``web.idle_timeout``) closes it;
- a request's body has ``web.body_timeout`` seconds from the end of its headers to arrive in full
  (aiohttp has no timeout of its own there: headers with ``Content-Length: 100`` and no body held a
  connection for ever); then the connection is answered 408 and closed;
- at most ``web.max_connections`` are open. One more closes the oldest connection that is not *in a
  handler* (new, idle, or a request's headers or body still arriving); when every connection is in a
  handler with its whole request (a page being made, a long poll, a websocket), the new one is closed
  at once. So connections that only hold their place push each other out, and a visitor, whose
  browser sends its request at once, gets in;
- what was closed is logged at most once a minute (``Throttled``), never once per connection;
  so are requests aiohttp cannot parse (a TLS hello sent to the http port, a broken header, a NUL in
  the path) and clients that leave while their request is read, which aiohttp logs with a traceback
  each (``QuietServerLog``).

``ConnectionGuard.middleware`` (the app's outermost) tells the guard when a request starts and
ends. The cap is lowered to what the open-file limit allows (``fit_to_open_files``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..limits import Throttled

LOGGER = logging.getLogger(__name__)
# Descriptors kept for everything but web connections: the database (3 files per connection, a
# writer and a reader), the modems, the log, Bokeh's server, webhooks, an accept burst.
FD_RESERVE = 256
# A dashboard's websocket holds the browser's socket and both ends of the relay to Bokeh's server.
FDS_PER_CONNECTION = 3

ProtocolFactory = Callable[[], asyncio.Protocol]
# What a request whose body did not come gets before its connection is closed.
REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   b"Content-Length: 22\r\nConnection: close\r\n\r\nThe body did not come.")


def fit_to_open_files(wanted: int, open_files: int | None) -> int:
    """The connection cap, lowered so that web connections cannot use up the open-file limit."""
    if open_files is None:
        return wanted
    return max(1, min(wanted, (open_files - FD_RESERVE) // FDS_PER_CONNECTION))


class GuardedConnection(asyncio.Protocol):
    """One accepted connection: aiohttp's protocol inside, the guard's bookkeeping around it.

    A connection is *in a handler* while the app runs one of its requests whose body has all arrived
    (a page being made, a long poll, a websocket); otherwise it is *reading* (new, idle between
    requests, a request's headers or body arriving) and the cap may close it.
    """

    def __init__(self, guard: ConnectionGuard, factory: ProtocolFactory) -> None:
        self._guard = guard
        self._factory = factory
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.requests = 0  # requests that reached the app on this connection
        self.running = 0  # requests in the app now (a websocket runs as long as it is open)
        self.request: web.BaseRequest | None = None  # the one in the app now
        self.body_timed_out = False
        self._arrived = False  # bytes came while a handler ran: the next request has begun
        self._timer: asyncio.TimerHandle | None = None  # the header or the body deadline

    @property
    def in_handler(self) -> bool:
        """The app runs a request of this connection whose body has all arrived: never pushed out."""
        return (self.running > 0 and not self.body_timed_out
                and (self.request is None or self.request.content.is_eof()))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not self._guard.admit(self):
            transport.close()
            return
        self._start_timer(self._guard.header_timeout, self._headers_too_slow)  # the first request's
        self.inner = self._factory()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.body_timed_out:
            return  # answered 408 and closing: the rest is not read
        if self.running:
            self._arrived = True  # a body, a websocket's frames, or the next request pipelined
        elif self._timer is None:
            # the first byte of the next request on a kept-alive connection: its headers have
            # web.header_timeout from now, however slowly they trickle
            self._start_timer(self._guard.header_timeout, self._headers_too_slow)
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
        self._cancel_timer()
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def request_started(self, request: web.BaseRequest) -> None:
        self.requests += 1
        self.running += 1
        self.request = request
        self._arrived = False
        self._cancel_timer()  # the headers are in
        if not request.content.is_eof():  # a body to come: web.body_timeout for all of it
            self._start_timer(self._guard.body_timeout, self._body_too_slow)

    def request_ended(self) -> None:
        self.running -= 1
        self.request = None
        self._cancel_timer()
        if not self.running and self._arrived:  # part of the next request is in: its header deadline
            self._start_timer(self._guard.header_timeout, self._headers_too_slow)
        self._arrived = False

    def close(self) -> None:
        """Close the connection (what the client had sent is dropped)."""
        if self.transport is not None:
            self.transport.close()

    def answer_timeout(self) -> None:
        """Answer 408 (unless a response has begun) and close: the request's body did not come."""
        self.body_timed_out = True
        request, transport = self.request, self.transport
        if transport is not None and not transport.is_closing() and (request is None or not request.writer.output_size):
            transport.write(REQUEST_TIMEOUT)
        self.close()

    def _start_timer(self, delay: float, callback: Callable[[], None]) -> None:
        self._cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(delay, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_too_slow(self) -> None:
        self._timer = None
        if not self.running:
            self._guard.timed_out(self)

    def _body_too_slow(self) -> None:
        self._timer = None
        if self.request is not None and not self.request.content.is_eof():
            self._guard.body_too_slow(self)


class ConnectionGuard:
    """The open connections of one web server, and the rules above."""

    def __init__(self, max_connections: int, header_timeout: float, body_timeout: float, *,
                 throttled: Throttled | None = None) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
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
                          "oldest one not in a request to let a new one in", len(self._open))
            self.forget(victim)
            victim.close()
        self._open[conn.transport] = conn
        return True

    def forget(self, conn: GuardedConnection) -> None:
        self._open.pop(conn.transport, None)

    def timed_out(self, conn: GuardedConnection) -> None:
        # Browsers open spare connections they may never use: routine, so only at DEBUG.
        self._log.log(logging.DEBUG, "web: closed a connection whose request line and headers did not "
                      "come within %g s (web.header_timeout)", self.header_timeout)
        self.forget(conn)
        conn.close()

    def body_too_slow(self, conn: GuardedConnection) -> None:
        self._log.log(logging.INFO, "web: answered 408 and closed a connection whose request body did not "
                      "come within %g s (web.body_timeout)", self.body_timeout)
        self.forget(conn)
        conn.answer_timeout()

    def _victim(self) -> GuardedConnection | None:
        """The oldest connection not in a handler (new, idle, or a request's headers or body arriving)."""
        return next((conn for conn in self._open.values() if not conn.in_handler), None)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Tell the connection's bookkeeping that a request is in the app."""
        conn = self._open.get(request.transport)
        if conn is None:
            return await handler(request)
        conn.request_started(request)
        try:
            return await handler(request)
        except Exception:
            if conn.body_timed_out:  # answered 408 and closed: the handler lost its body, nothing to tell
                return web.Response(status=408)
            raise
        finally:
            conn.request_ended()


class QuietServerLog(logging.LoggerAdapter):
    """aiohttp's server logger (``aiohttp.server``) for one app, given to its ``RequestHandler``s.

    aiohttp logs ``Error handling request`` with a full traceback for every request it cannot parse
    and for every client that leaves while its handler reads the body: anyone on the LAN could fill
    the disk with them. Those become one line a minute per kind (the exception's class), without a
    traceback, through ``Throttled``; everything else is logged as aiohttp logs it.
    """

    def __init__(self, throttled: Throttled | None = None,
                 logger: logging.Logger = logging.getLogger("aiohttp.server")) -> None:
        super().__init__(logger, {})
        self._throttled = throttled or Throttled(LOGGER)

    def log(self, level: int, msg: object, *args: Any, exc_info: Any = None, **kwargs: Any) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1] if exc_info is True else None
        remote = args[0] if len(args) == 1 else "?"
        if isinstance(exc, HttpProcessingError):  # the client's doing, not the daemon's: a warning at most
            self._throttled.log(min(level, logging.WARNING), f"web: answered 400 to a request that is not "
                                f"valid HTTP ({type(exc).__name__}) from %s", remote)
        elif isinstance(exc, ConnectionError):
            self._throttled.log(min(level, logging.INFO), f"web: a client left before its request was "
                                f"read ({type(exc).__name__}) from %s", remote)
        else:
            super().log(level, msg, *args, exc_info=exc_info, **kwargs)


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
