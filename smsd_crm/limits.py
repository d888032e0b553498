"""The process's own limits: open files, and log lines that repeat.

Debian starts a program with a soft limit of 1,024 open files (the hard limit is far higher).
The daemon holds the database, the modems, the logs, Bokeh's server and every web connection
in that budget, so it raises the soft limit to the hard one at start (up to ``MAX_OPEN_FILES``).

When the budget runs out anyway, asyncio reports every failed ``accept()`` through the loop's
exception handler with a traceback, thousands a second (105 MB of log in 40 s on a shop PC).
``quiet_accept_errors`` turns them into one line per interval that says how many there were.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

LOGGER = logging.getLogger(__name__)
MAX_OPEN_FILES = 65536  # plenty for web.max_connections' upper bound; a bigger number buys nothing
LOG_INTERVAL = 60.0  # seconds between two lines about the same repeated event
ACCEPT_FAILED = "socket.accept() out of system resource"  # asyncio's message (selector_events.py)


def open_file_limit() -> int | None:
    """The soft limit on open files, or None where the platform has none to read."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def raise_open_file_limit(ceiling: int = MAX_OPEN_FILES) -> int | None:
    """Raise the soft open-file limit to the hard one (at most ``ceiling``); the limit now in force."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = ceiling if hard == resource.RLIM_INFINITY else min(hard, ceiling)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:  # a container that forbids it: keep what we have
            LOGGER.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
        else:
            LOGGER.info("open-file limit raised from %d to %d", soft, target)
    return open_file_limit()


class Throttled:
    """Log lines that may come thousands of times a second, at most one per message and interval.

    The first is logged at once; later ones within ``interval`` are only counted, and the next line
    after the interval says how many were left out.
    """

    def __init__(self, logger: logging.Logger, interval: float = LOG_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._kinds: dict[str, tuple[float, int]] = {}  # message -> (next line allowed at, left out)

    def log(self, level: int, msg: str, *args: Any) -> bool:
        """Log ``msg % args`` unless the same ``msg`` was logged less than ``interval`` ago."""
        now = self._clock()
        allowed_at, left_out = self._kinds.get(msg, (float("-inf"), 0))
        if now < allowed_at:
            self._kinds[msg] = (allowed_at, left_out + 1)
            return False
        self._kinds[msg] = (now + self._interval, 0)
        if left_out:
            self._logger.log(level, msg + " (%d more like this since the last such line)",
                             *args, left_out)
        else:
            self._logger.log(level, msg, *args)
        return True


def quiet_accept_errors(loop: asyncio.AbstractEventLoop, throttled: Throttled) -> Callable[[], None]:
    """Log failed accepts through ``throttled``, one line without a traceback; others as before.

    Returns the function that puts the previous handler back.
    """
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == ACCEPT_FAILED:
            throttled.log(logging.ERROR, "cannot accept web connections: %s; see web.max_connections and "
                          "the open-file limit (ulimit -n)", context.get("exception"))
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    return lambda: loop.set_exception_handler(previous)
