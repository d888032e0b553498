"""A dashboard's websocket handed from the daemon to the worker, the connection itself.

The daemon checks a websocket upgrade (the login, the Origin, the Bokeh session that login opened)
and then passes the browser's TCP connection to the worker: its file descriptor travels over a
Unix socket (``SCM_RIGHTS``, unix(7)) with the upgrade request rewritten for the worker's Bokeh
server (only the headers the handshake needs, and the secret header). From then on the bytes flow
between the browser and the worker with no work on the daemon's loop: relaying Bokeh's chart updates
(megabytes for a reloaded view) through that loop made the SMS replies' p99 grow from 28 ms to
250-300 ms with eight dashboards open (docs/benchmarks.md, issue 17).

The daemon keeps a duplicate of each descriptor it handed over (``Handed``): shutting it down
(shutdown(2) acts on the connection, whoever else holds it) ends a dashboard at a logout, when one
tab too many opens, or when the daemon stops. The worker says ``{"ended": id}`` when a connection
ends, and the daemon then closes its duplicate.

Linux only (``SOCK_SEQPACKET``, ``TCP_USER_TIMEOUT``), like the rest of the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from contextlib import suppress
from typing import Callable, Mapping

LOGGER = logging.getLogger(__name__)
MESSAGE_LIMIT = 64 * 1024  # bytes of one handoff message (an id and a request of a few hundred bytes)
CHUNK = 256 * 1024  # bytes copied at once between browser and Bokeh
KEY = re.compile(r"[A-Za-z0-9+/]{22}==")  # Sec-WebSocket-Key: 16 random bytes in base64 (RFC 6455 4.1)
TOKEN = re.compile(r"[A-Za-z0-9_.=-]{1,4096}")  # a Bokeh session token (base64url parts and dots)
GONE_AFTER_MS = 60_000  # unacknowledged data to a vanished phone fails the connection after this


class HandoffError(Exception):
    """The connection could not be handed to the worker (it is not running, or its socket is full)."""


def channel() -> tuple[socket.socket, socket.socket]:
    """The daemon's and the worker's ends of a new handoff channel (message boundaries kept)."""
    daemon_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    daemon_end.setblocking(False)
    return daemon_end, worker_end


def upgrade_request(path: str, headers: Mapping[str, str], protocols: list[str], port: int,
                    secret_header: str, secret: str) -> bytes:
    """The websocket upgrade request the worker's Bokeh server receives instead of the browser's:
    ``path`` (the view's ``/ws``), the browser's key (Bokeh's answer carries its hash, which the
    browser checks), ``protocols`` as checked by the proxy, an Origin Bokeh accepts, the secret
    header. Raises ValueError for a key or protocol that is not what a browser sends (never a line
    break into the request)."""
    key = headers.get("Sec-WebSocket-Key", "")
    if not KEY.fullmatch(key) or headers.get("Sec-WebSocket-Version") != "13":
        raise ValueError("not a version 13 websocket handshake")
    if not all(TOKEN.fullmatch(p) for p in protocols):
        raise ValueError("a websocket protocol Bokeh does not use")
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
             f"Sec-WebSocket-Protocol: {', '.join(protocols)}", f"Origin: http://localhost:{port}",
             f"{secret_header}: {secret}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


class Handed:
    """The daemon's duplicate of a connection it handed to the worker; ``close`` ends the
    connection for both (the shape ``SessionBook`` closes websockets with)."""

    def __init__(self, number: int, connection: socket.socket) -> None:
        self.number = number
        self._connection = connection

    async def close(self, code: int | None = None, message: bytes = b"") -> None:
        """Shut the connection down both ways (the worker's copy sees its end) and close this copy.
        ``code`` and ``message`` are not sent: the bytes on the wire are Bokeh's, mid-frame maybe."""
        self.forget(shut=True)

    def forget(self, *, shut: bool = False) -> None:
        """Close this copy (after shutting the connection down if ``shut``)."""
        if shut:
            with suppress(OSError):
                self._connection.shutdown(socket.SHUT_RDWR)
        self._connection.close()


def hand(channel_end: socket.socket, number: int, connection_fd: int, request: bytes) -> None:
    """Send one connection (its descriptor, duplicated by the kernel) and its rewritten request
    over the daemon's end of the channel. Never blocks; raises HandoffError."""
    message = b"%d\n" % number + request
    if len(message) > MESSAGE_LIMIT:
        raise HandoffError("request too long")
    try:
        socket.send_fds(channel_end, [message], [connection_fd])
    except OSError as exc:  # BlockingIOError included: a worker that stopped taking connections
        raise HandoffError(str(exc)) from None


async def receive(channel_end: socket.socket, port: int, ended: Callable[[int], None]) -> None:
    """The worker's side: take each connection the daemon hands over and join it to Bokeh's server
    on 127.0.0.1:``port`` until the channel closes (the daemon gone); ``ended(number)`` when a
    connection ends. Every connection is a task of its own, cancelled when this returns."""
    loop = asyncio.get_running_loop()
    channel_end.setblocking(False)
    tasks: set[asyncio.Task] = set()
    readable = asyncio.Event()
    loop.add_reader(channel_end.fileno(), readable.set)
    try:
        while True:
            await readable.wait()
            readable.clear()
            while True:
                try:
                    message, fds, _flags, _address = socket.recv_fds(channel_end, MESSAGE_LIMIT, 1)
                except BlockingIOError:
                    break
                if not message and not fds:
                    return  # the daemon's end closed
                taken = [socket.socket(fileno=fd) for fd in fds]
                head, _, request = message.partition(b"\n")
                if len(taken) != 1 or not head.isdigit():
                    LOGGER.warning("dashboards worker: a handoff it cannot read")
                    for connection in taken:
                        connection.close()
                    continue
                number = int(head)
                task = asyncio.create_task(_join(taken[0], request, port), name=f"dashboard-connection-{number}")
                tasks.add(task)
                task.add_done_callback(lambda t, n=number: (tasks.discard(t), ended(n)))
    finally:
        loop.remove_reader(channel_end.fileno())
        for task in list(tasks):
            task.cancel()
        for task in list(tasks):
            with suppress(asyncio.CancelledError):
                await task


def _keepalive(connection: socket.socket) -> None:
    """A phone that vanished (out of Wi-Fi, battery) fails its connection within about a minute
    instead of the kernel's 15 minutes of retries: a copy waiting for it must not wait forever."""
    with suppress(OSError, AttributeError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 30)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 10)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, GONE_AFTER_MS)


async def _join(browser: socket.socket, request: bytes, port: int) -> None:
    """Copy bytes both ways between the browser's connection and a new one to Bokeh, starting with
    ``request`` to Bokeh, until either side ends; then end both (shutdown: the daemon's copy of the
    browser's descriptor would otherwise keep the connection open)."""
    browser.setblocking(False)
    _keepalive(browser)
    writers: list[asyncio.StreamWriter] = []
    try:
        outer_r, outer_w = await asyncio.open_connection(sock=browser, limit=CHUNK)
        writers.append(outer_w)
        inner_r, inner_w = await asyncio.open_connection("127.0.0.1", port, limit=CHUNK)
        writers.append(inner_w)
        inner_w.write(request)
        copies = [asyncio.create_task(_copy(outer_r, inner_w)), asyncio.create_task(_copy(inner_r, outer_w))]
        try:
            await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for copy in copies:
                copy.cancel()
            await asyncio.gather(*copies, return_exceptions=True)
    except OSError:
        pass  # Bokeh's port refused, the browser gone: the connection ends
    finally:
        with suppress(OSError):
            browser.shutdown(socket.SHUT_RDWR)
        for writer in writers:
            writer.close()
        browser.close()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with suppress(OSError):
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
