"""The daemon's end of the dashboards worker (``worker.py``): starts it when a dashboard is wanted,
tells it what changed, starts it again after a crash when it is next wanted, and stops it after
``idle_seconds`` with no dashboard open, which gives its memory back to the shop PC.

Nothing here waits on the worker without a bound, and nothing on the SMS path waits on it at all:
change notices are written to its stdin without waiting (a worker busy computing reads them later).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
from contextlib import suppress
from dataclasses import replace
from typing import Callable

from .cpus import allowed, pin, split
from .handoff import HandoffError, channel, hand
from .spec import WorkerSpec

LOGGER = logging.getLogger(__name__)
START_TIMEOUT = 120.0  # seconds for the worker to import Bokeh and listen (an old PC, a cold disk)
STOP_TIMEOUT = 5.0  # seconds for it to end once told, before it is killed
LINE_LIMIT = 1 << 20  # bytes of one line from the worker (a message, a log record)
BACKLOG = 64 * 1024  # bytes of unread change notices; beyond this one more adds nothing (a refresh is due)


async def _line(stream: asyncio.StreamReader) -> bytes:
    """The next line (b"" at the end). A line over the reader's limit (a view printing megabytes) is
    skipped with a note instead of ending the reading: a pipe nobody reads would freeze the worker."""
    while True:
        try:
            return await stream.readline()
        except ValueError:  # asyncio has dropped the over-long line (or what it had of it)
            LOGGER.warning("dashboards worker: a line over %d bytes left out", LINE_LIMIT)


def _cpus(numbers: set[int]) -> str:
    return ",".join(str(n) for n in sorted(numbers))


class DashboardsUnavailable(Exception):
    """The worker could not be started (the log says why)."""


class WorkerLink:
    """One worker process at a time. ``busy()`` says whether a dashboard is open (a websocket relayed):
    the worker is stopped only when it has said False for ``idle_seconds``."""

    def __init__(self, spec: WorkerSpec, *, idle_seconds: float = 600.0, busy: Callable[[], bool] = lambda: False,
                 python: str = sys.executable, start_timeout: float = START_TIMEOUT, own_cpu: bool = True) -> None:
        self.spec = spec
        # while a worker runs, the daemon on one CPU and the worker on the others (cpus.py); the CPUs
        # the daemon may use are read again at each start (an operator's taskset meanwhile holds)
        self.own_cpu = own_cpu
        self.cpus = allowed()
        self._split: tuple[set[int], set[int]] | None = None
        self._pinned = False
        self.idle_seconds = idle_seconds
        self.busy = busy
        self.ended: Callable[[int | None], None] = lambda number: None  # a handed connection ended (None: all)
        self.python = python
        self.start_timeout = start_timeout
        self.port: int | None = None
        self.sources: dict[str, list[str]] = {}  # view -> its tables, as the worker reported them
        self.starts = 0  # how many workers were started (a restart after a crash counts)
        self._proc: asyncio.subprocess.Process | None = None
        self._channel: socket.socket | None = None  # the daemon's end of the handoff channel (handoff.py)
        self._handed = 0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._last_used = 0.0
        self._idle_task: asyncio.Task | None = None
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The running worker's process id."""
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    def running(self) -> bool:
        return self.pid is not None and self.port is not None

    async def ensure(self) -> int:
        """The worker's port, starting it if it is not running. Raises DashboardsUnavailable."""
        self.touch()
        if self.running():
            assert self.port is not None
            return self.port
        async with self._lock:
            if not self.running():
                if self._closed:
                    raise DashboardsUnavailable("the daemon is stopping")
                await self._start()
            assert self.port is not None
            return self.port

    def prestart(self) -> None:
        """Start the worker in the background if it is not running (a dashboard page is being shown:
        its script will want the worker a moment later). A failure is logged."""
        if not self.running() and not self._lock.locked() and not self._closed:
            self._own(self._quietly_ensure(), "dashboards-worker-prestart")

    async def _quietly_ensure(self) -> None:
        try:
            await self.ensure()
        except DashboardsUnavailable:
            pass  # logged by _start; the page's script asks again

    def touch(self) -> None:
        """A dashboard was used now (idle time counts from here)."""
        self._last_used = asyncio.get_running_loop().time()

    async def _start(self) -> None:
        await self._end()  # a worker that ended: its pipes and tasks (and the daemon's CPUs back)
        self.cpus = allowed()
        self._split = split(self.cpus) if self.own_cpu else None
        daemon_end, worker_end = channel()
        try:
            proc = await asyncio.create_subprocess_exec(
                self.python, "-m", "smsd_crm_dashboards.worker", "--handoff", str(worker_end.fileno()),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                limit=LINE_LIMIT, pass_fds=[worker_end.fileno()])
        except BaseException:
            daemon_end.close()
            raise
        finally:
            worker_end.close()  # the worker's now; the channel ends when the worker does
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self._proc, self._channel = proc, daemon_end
        self._own(self._relay_log(proc.stderr), "dashboards-worker-log")
        spec = replace(self.spec, cpus=sorted(self._split[1])) if self._split else self.spec
        proc.stdin.write(spec.dumps().encode())  # on the pipe, never on the command line (ps shows that)
        try:
            async with asyncio.timeout(self.start_timeout):
                while True:
                    line = await proc.stdout.readline()
                    if not line:
                        code = await proc.wait()
                        if self._closed:  # the daemon is stopping: it ended the worker itself
                            raise DashboardsUnavailable("the daemon is stopping")
                        raise DashboardsUnavailable(f"the dashboards worker ended at start (exit code {code})")
                    message = self._read(line)
                    if "ready" in message:
                        self.port = int(message["ready"])
                        break
        except TimeoutError:
            self._kill()
            LOGGER.error("the dashboards worker did not start within %.0f s (a view that hangs when imported?)",
                         self.start_timeout)
            raise DashboardsUnavailable("the dashboards worker did not start in time") from None
        except DashboardsUnavailable as exc:
            if not self._closed:
                LOGGER.error("%s", exc)
            raise
        self.starts += 1
        if self._split:
            self._pinned = pin(self._split[0])
            if not self._pinned:
                pin(self.cpus)  # half done is worse than not at all
                LOGGER.warning("dashboards: this system does not let the daemon keep a CPU of its own "
                               "(sched_setaffinity refused); replies may wait while charts are computed")
        self._own(self._read_messages(proc), "dashboards-worker-messages")
        self._own(self._watch(proc), "dashboards-worker-watch")
        if self._idle_task is None or self._idle_task.done():
            self._idle_task = self._own(self._stop_when_idle(), "dashboards-worker-idle")
        LOGGER.info("dashboards worker started (pid %d, Bokeh on 127.0.0.1:%d%s)", proc.pid, self.port,
                    f"; CPUs numbered from 0: the worker on {_cpus(self._split[1])}, the daemon keeps "
                    f"{_cpus(self._split[0])} until the worker stops" if self._split and self._pinned else "")

    def _own(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _read(self, line: bytes) -> dict:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            LOGGER.warning("dashboards worker said something unreadable: %r", line[:200])
            return {}
        if isinstance(message.get("sources"), dict):
            self.sources.update(message["sources"])
        if isinstance(message.get("ended"), int):
            self.ended(message["ended"])
        return message

    def hand(self, connection_fd: int, request: bytes) -> int:
        """Hand a browser's websocket connection to the running worker (handoff.py); return its
        number (the worker's ``ended`` notice names it). Raises HandoffError."""
        if not self.running() or self._channel is None:
            raise HandoffError("the dashboards worker is not running")
        self._handed += 1
        hand(self._channel, self._handed, connection_fd, request)
        return self._handed

    async def _read_messages(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await _line(proc.stdout):
            self._read(line)

    async def _relay_log(self, stream: asyncio.StreamReader) -> None:
        """The worker's log records, logged here under their own logger's name (one log for the shop)."""
        while line := await _line(stream):
            try:
                record = json.loads(line)
                name, level, message = str(record["name"]), int(record["level"]), str(record["msg"])
            except (ValueError, KeyError, TypeError):  # not a record: a warning, a print, Python's last words
                LOGGER.warning("dashboards worker: %s", line.decode(errors="replace").rstrip())
                continue
            # Straight to the daemon's own handlers (its log file, its format), at the worker's level:
            # a logger of the same name here may have handlers of its own (Bokeh adds one to "bokeh"
            # when a plugin imports it in the daemon) that would bypass them.
            root = logging.getLogger()
            if level >= root.getEffectiveLevel():
                root.handle(logging.LogRecord(name, level, "(dashboards worker)", 0, "%s", (message,), None))

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if self._proc is proc and not self._closed:
            self.port = None
            self._unpin()
            self.ended(None)  # its connections with it: the browsers reconnect to the next worker
            LOGGER.error("dashboards worker ended unexpectedly (exit code %s); it starts again when a dashboard "
                         "is next opened or reconnects", code)

    async def _stop_when_idle(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(1.0, self.idle_seconds / 4))
            if self.busy():
                self.touch()
            elif self.running() and loop.time() - self._last_used >= self.idle_seconds:
                LOGGER.info("dashboards worker stopped: no dashboard open for %.0f s (its memory is given back)",
                            self.idle_seconds)
                async with self._lock:
                    await self._end()

    def changed(self, topic: str | None = None) -> None:
        """Something the dashboards show changed (a live-feed listener; never waits)."""
        self._send({"changed": topic})

    def expire(self, view: str, session_id: str) -> None:
        """Let Bokeh discard a session (its login ended, or one tab too many)."""
        self._send({"expire": [view, session_id]})

    def _send(self, message: dict) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None or proc.stdin.is_closing():
            return
        if proc.stdin.transport.get_write_buffer_size() > BACKLOG:
            return  # the worker is busy computing: it has notices enough to refresh when it is back
        proc.stdin.write(json.dumps(message).encode() + b"\n")

    def _kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            with suppress(ProcessLookupError):
                self._proc.kill()

    def _unpin(self) -> None:
        if self._pinned:
            pin(self.cpus)  # no worker: every CPU the daemon had is its own again
            self._pinned = False

    async def _end(self) -> None:
        """Stop the worker (end of stdin; killed after STOP_TIMEOUT) and forget it."""
        proc, self._proc, self.port = self._proc, None, None
        self._unpin()
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if proc is None:
            return
        self.ended(None)
        if proc.returncode is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await proc.wait()
            except TimeoutError:
                LOGGER.warning("dashboards worker did not stop within %.0f s: killed", STOP_TIMEOUT)
                with suppress(ProcessLookupError):
                    proc.kill()
                # bounded too: Process.wait also waits for its pipes to close
                with suppress(TimeoutError):
                    async with asyncio.timeout(STOP_TIMEOUT):
                        await proc.wait()
        elif proc.stdin is not None:
            proc.stdin.close()

    async def close(self) -> None:
        """Stop the worker and every task of this link (the daemon is stopping). Idempotent."""
        self._closed = True
        if self._lock.locked():
            self._kill()  # a worker still starting: its start ends now, not after START_TIMEOUT
        async with self._lock:
            await self._end()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with suppress(asyncio.CancelledError):
                await task
