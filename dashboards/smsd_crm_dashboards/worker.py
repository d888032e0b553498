"""The dashboards worker: a process of its own running Bokeh's server, the views and their analytics
on the database opened read-only. The daemon starts it (``link.py``) when a dashboard is first
opened, proxies the owner's pages and websockets to it and tells it what changed; whatever the
worker computes, for however long, the daemon's loop (modems, SMS replies) never waits for it.

Protocol, JSON lines: the daemon writes a ``WorkerSpec`` as the first line on stdin, then commands
``{"changed": topic}`` and ``{"expire": [view, session_id]}``; the worker answers on stdout with
``{"ready": port}`` once Bokeh listens on 127.0.0.1, then ``{"sources": {view: [names]}}`` as the
warm-up learns each view's tables (the page's CSV links), and ``{"ended": number}`` when a
websocket connection the daemon handed over (handoff.py) ends. Log records go to stderr, one JSON object per line. The end of stdin (the
daemon stopping it, or gone) ends the worker.

Run as ``python -m smsd_crm_dashboards.worker``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import secrets
import signal
import socket
import sys
from contextlib import suppress
from typing import Any, Callable, TextIO
from urllib.parse import quote

from smsd_crm.config import CostsConfig
from smsd_crm.shop_time import for_zone
from smsd_crm.storage.db import Database, is_postgresql

from .cpus import allowed, pin
from .data import DashboardData
from .documents import DocumentHub, page_language
from .exports import Export, ExportError, sales_csv, tables, view_csv
from .handoff import receive
from .readonly import ReadOnlyDatabase
from .sessions import SpacedCollector, defer_bokeh_collections
from .spec import PREFIX, SECRET_HEADER, WorkerSpec

LOGGER = logging.getLogger("smsd_crm_dashboards.worker")  # not "__main__" when run with -m
NICE = 19  # the worker's scheduling priority, relative to the daemon (nice(1))
REFRESH_SPACING = 1.0  # seconds between two refreshes of one open dashboard, at least
COLLECT_SECONDS = 120.0  # at most one full garbage collection this often, after sessions ended
VIEW_NAME = r"([A-Za-z0-9_-]{1,64})"


class JsonLines(logging.Handler):
    """Log records as JSON lines on a stream (the daemon logs them under their own logger's name)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            self.stream.write(json.dumps({"level": record.levelno, "name": record.name, "msg": message}) + "\n")
            self.stream.flush()
        except Exception:  # a log line must never end the worker
            self.handleError(record)


class TabClosedEarly(logging.Filter):
    """Bokeh (3.9) fails an assertion in its websocket's ``on_close`` when a tab goes away while its
    session is still being made (a reload while the worker computes), and tornado logs that with a
    traceback as an uncaught exception. A reloaded tab is nobody's fault: one line at INFO instead;
    and a chart that could not be sent to a tab that closed is no line at all."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "bokeh.server.views.ws" and record.getMessage().startswith("Failed sending message"):
            return False  # a tab closed while its chart was being sent: what closing a tab is
        exc = record.exc_info[1] if record.exc_info else None
        if record.name == "tornado.application" and isinstance(exc, AssertionError):
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is not None and tb.tb_frame.f_code.co_filename.endswith(os.path.join("bokeh", "server", "connection.py")):
                record.msg, record.args, record.exc_info, record.exc_text = (
                    "a dashboard tab closed while its session was being made", (), None, None)
                record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def loaded(spec: WorkerSpec) -> dict[str, Callable[..., Any]]:
    """Each view's ``make``; one that cannot be imported here is logged and left out (the others
    still work; its page then shows no chart)."""
    views = {}
    for view in spec.views:
        try:
            views[view.name] = view.load()
        except Exception as exc:  # a plugin's view: its import failed in this process
            LOGGER.error("dashboard %s (%s): cannot load %s: %s: %s", view.name, view.plugin or "built-in",
                         view.make, type(exc).__name__, exc)
    return views


class Worker:
    """Bokeh's server with every view, refreshed by the daemon's change notices."""

    def __init__(self, spec: WorkerSpec, say: Callable[[dict], None]) -> None:
        self.spec = spec
        self.say = say  # one message to the daemon
        self.views = loaded(spec)
        # A SQLite file is read on read-only connections of the worker's own; a PostgreSQL server
        # through the storage API, opened in start() (it connects).
        self.data = DashboardData(None if is_postgresql(spec.database) else
                                  ReadOnlyDatabase(spec.database, for_zone(spec.timezone)),
                                  CostsConfig(**spec.costs), spec.delivery_reports, told=True)
        self.hub = DocumentHub(REFRESH_SPACING)
        self.collector = SpacedCollector(COLLECT_SECONDS)
        self.sources: dict[str, list[str]] = {}
        self._docs: dict[str, Any] = {}
        self.server: Any = None

    async def start(self) -> int:
        """Start Bokeh's server on this loop; return its port."""
        if self.data.db is None:
            self.data.db = await Database.open(self.spec.database, for_zone(self.spec.timezone), self.spec.store)
        from bokeh.application import Application
        from bokeh.application.handlers.function import FunctionHandler
        from bokeh.application.handlers.handler import Handler
        from bokeh.server.auth_provider import AuthProvider
        from bokeh.server.server import Server
        from bokeh.settings import settings
        from tornado.ioloop import IOLoop
        from tornado.web import HTTPError

        settings.resources.set_value("server")  # never a CDN, whatever BOKEH_RESOURCES says
        defer_bokeh_collections()
        secret = self.spec.secret

        class ProxyOnly(AuthProvider):
            @property
            def get_user(self):
                return lambda handler: "proxy" if secrets.compare_digest(
                    handler.request.headers.get(SECRET_HEADER, ""), secret) else None

            @property
            def get_login_url(self):  # no login here: refused, quietly (a redirect logged a traceback each)
                def refuse(handler):
                    raise HTTPError(403)
                return refuse

        ended = self._session_destroyed

        class Ended(Handler):  # told when Bokeh discards a session (no document callback: see DocumentHub)
            def modify_document(self, doc) -> None:
                pass

            async def on_session_destroyed(self, session_context) -> None:
                ended(session_context)

        def application(name: str) -> Application:
            return Application(FunctionHandler(lambda doc: self._make(name, doc)), Ended())

        apps = {f"/{name}": application(name) for name in self.views}
        extra = [(f"/_export/{VIEW_NAME}", ExportHandler, {"worker": self}),
                 ("/_state", StateHandler, {"worker": self})]
        self.server = Server(apps, io_loop=IOLoop.current(), address="127.0.0.1", port=0, prefix=PREFIX,
                             auth_provider=ProxyOnly(), include_headers=[], include_cookies=[],
                             exclude_headers=None, sign_sessions=True, secret_key=self.spec.signing_key,
                             session_token_expiration=int(self.spec.session_seconds), use_index=False,
                             redirect_root=False, extra_patterns=extra,
                             check_unused_sessions_milliseconds=int(self.spec.check_seconds * 1000),
                             unused_session_lifetime_milliseconds=int(self.spec.unused_seconds * 1000))
        self.server.start()
        self.collector.start()
        # One line per request is noise, and one per refused request (anything on this PC may knock at
        # the loopback port without the secret) would let it fill the shop's log.
        logging.getLogger("tornado.access").setLevel(logging.ERROR)
        return self.server.port

    def _make(self, name: str, doc) -> None:
        self._docs[doc.session_context.id] = doc
        self.views[name](doc, self.data, self.hub, lang=page_language(doc))

    def _session_destroyed(self, context) -> None:
        doc = self._docs.pop(context.id, None)
        if doc is not None:
            self.hub.forget(doc)
        self.collector.request()

    def expire(self, view: str, session_id: str) -> None:
        """Let Bokeh discard a session at its next cleanup (once no connection is left)."""
        from bokeh.protocol.exceptions import ProtocolError

        try:
            self.server.get_session(f"/{view}", session_id).request_expiration()
        except (ProtocolError, ValueError):  # already discarded, or never created
            pass

    async def source_names(self, name: str) -> list[str]:
        """A view's exportable tables, by name (computed once)."""
        if name not in self.sources:
            self.sources[name] = list(await tables(self.views[name], self.data))
            self.say({"sources": {name: self.sources[name]}})
        return self.sources[name]

    async def warm_up(self) -> None:
        """Compute every view once (on throwaway documents) so the owner's next look finds the numbers
        ready; a failure is logged and the view computes when opened."""
        started = asyncio.get_running_loop().time()
        for name in self.views:
            try:
                await self.source_names(name)
            except Exception:
                LOGGER.exception("dashboard %s: warming up failed", name)
        LOGGER.info("dashboards ready in %.1f s", asyncio.get_running_loop().time() - started)

    async def export(self, name: str, query: dict[str, str]) -> Export:
        """A view's data as CSV (the sales view: the drill-down level ``query`` names). A file is
        made with the customers' names as they are now, not as the open views last read them."""
        self.data.forget(("customers",))
        if name == "sales":  # the drill-down's levels (names are unique: a plugin's view cannot take it)
            return await sales_csv(self.data, query, self.spec.timezone)
        return await view_csv(name, self.views[name], self.data, query.get("source"), self.spec.timezone)

    def state(self) -> dict[str, Any]:
        """What runs here: Bokeh sessions per view, documents refreshed live, resident memory (bytes)."""
        return {"sessions": {name: len(self.server.get_sessions(f"/{name}")) for name in self.views},
                "documents": len(self.hub), "rss": resident_bytes()}

    def command(self, message: dict) -> None:
        """One command from the daemon."""
        if "changed" in message:
            self.data.changed()
            self.hub.changed(message["changed"])
        elif "expire" in message:
            self.expire(*message["expire"])

    async def stop(self) -> None:
        await self.collector.stop()
        if self.server is not None:
            self.server.stop()
        closed = self.data.db.close() if self.data.db is not None else None
        if inspect.isawaitable(closed):
            await closed


def _handlers():
    """The worker's own HTTP endpoints (tornado handlers; made on first use: tornado is Bokeh's)."""
    from tornado.web import HTTPError, RequestHandler

    class Internal(RequestHandler):
        def initialize(self, worker: Worker) -> None:
            self.worker = worker

        def prepare(self) -> None:
            if not secrets.compare_digest(self.request.headers.get(SECRET_HEADER, ""), self.worker.spec.secret):
                raise HTTPError(403)

    class Export(Internal):
        async def get(self, name: str) -> None:
            if name not in self.worker.views:
                self.set_status(404)
                self.finish("no such dashboard")
                return
            query = {k: self.get_query_argument(k) for k in self.request.query_arguments}
            try:
                made = await self.worker.export(name, query)
            except ExportError as exc:
                self.set_status(exc.status)
                self.finish(str(exc))
                return
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("X-Filename", quote(made.filename))  # a header value: no line break can pass
            self.finish(made.text.encode())

    class State(Internal):
        def get(self) -> None:
            self.finish(self.worker.state())

    return Export, State


ExportHandler, StateHandler = _handlers()


def resident_bytes() -> int:
    """This process's resident memory now (Linux ``/proc/self/statm``; 0 elsewhere)."""
    import os

    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


async def serve(spec: WorkerSpec, commands: asyncio.StreamReader, say: Callable[[dict], None],
                handoff: socket.socket) -> None:
    """Run until ``commands`` ends; take the browsers' websocket connections the daemon hands over
    on ``handoff`` (handoff.py)."""
    worker = Worker(spec, say)
    port = await worker.start()
    say({"ready": port})
    warm = asyncio.create_task(worker.warm_up(), name="dashboards-warm-up")
    joined = asyncio.create_task(receive(handoff, port, lambda number: say({"ended": number})),
                                 name="dashboards-handoff")
    try:
        while line := await commands.readline():
            try:
                worker.command(json.loads(line))
            except (ValueError, TypeError, KeyError):
                LOGGER.warning("dashboards worker: a command it cannot read: %r", line[:200])
    finally:
        warm.cancel()
        joined.cancel()
        with suppress(asyncio.CancelledError):
            await joined
        await worker.stop()


def main() -> None:
    """Read the spec from stdin and serve; exit when stdin ends. ``--handoff FD``: the worker's end
    of the handoff channel, inherited from the daemon."""
    if len(sys.argv) != 3 or sys.argv[1] != "--handoff" or not sys.argv[2].isdigit():
        sys.exit("usage: python -m smsd_crm_dashboards.worker --handoff FD (the daemon starts it)")
    handoff = socket.socket(fileno=int(sys.argv[2]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the daemon's terminal: the daemon ends it
    # Below the daemon in the CPU's queue: on a shop's old 2-core PC a chart may wait, an SMS reply not.
    with suppress(OSError):
        os.nice(NICE)
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever a view prints never mixes into the messages to the daemon
    handler = JsonLines(sys.stderr)
    handler.addFilter(TabClosedEarly())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # Bokeh logs three lines per websocket opened and closed: a third of the shop's log with a few tabs
    logging.getLogger("bokeh.server.views.ws").setLevel(logging.WARNING)

    def say(message: dict) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
        spec = WorkerSpec.loads(await reader.readline())
        logging.getLogger().setLevel(spec.log_level)
        # every thread, those numpy and asyncio started already too: os.nice above was the main thread's
        pin(set(spec.cpus) if spec.cpus else allowed(), nice=NICE)
        await serve(spec, reader, say, handoff)

    asyncio.run(run())


if __name__ == "__main__":
    main()
