"""Who opened which Bokeh session, so that a dashboard lives no longer than the login that opened it
and one login cannot pile up sessions; and Bokeh's garbage collection kept off the SMS loop.

Every Bokeh session is opened by the proxy (``autoload.js``) with an id the proxy chose, and recorded
with the login (user and cookie) that asked. A websocket may join only a session its own login
opened. A login keeps at most ``per_user`` sessions: one more closes its oldest. When a login ends
(logout, expiry, disabled, a new password) its websockets are closed and its sessions expired.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable

import aiohttp

LOGGER = logging.getLogger(__name__)
SessionAlive = Callable[[str], Awaitable[bool]]  # does the login with this cookie still live (and may it look)?


@dataclass(frozen=True)
class Opened:
    """A Bokeh session and the login that opened it (the cookie is kept in memory only, to ask again
    whether that login still lives)."""

    session_id: str
    view: str
    user_id: int
    login: str = field(repr=False)  # never in a log line


class SessionBook:
    """The Bokeh sessions logins opened (oldest first) and the websockets relayed to them."""

    def __init__(self, per_user: int, expire: Callable[[Opened], None] = lambda opened: None) -> None:
        if per_user < 1:
            raise ValueError("per_user must be at least 1")
        self.per_user = per_user
        self._expire = expire  # asks Bokeh to discard a session
        self._opened: dict[str, Opened] = {}  # insertion order: oldest first
        self.sockets: dict[Any, Opened] = {}  # open connections (handoff.Handed) -> their session
        self._left: set[str] = set()  # sessions whose connections all ended

    def open(self, opened: Opened) -> list[Opened]:
        """Record a new session; return the same user's sessions beyond the cap (to be closed): the
        oldest left behind first (their tab closed, or a view left on the phone), then the oldest.
        A tab still open on the PC outlives eight views looked at one after another on the phone."""
        self._opened[opened.session_id] = opened
        mine = [o for o in self._opened.values() if o.user_id == opened.user_id and o is not opened]
        extra = len(mine) + 1 - self.per_user
        if extra <= 0:
            return []
        # Left behind: had a connection, has none now (a just-opened tab, not connected yet, is not).
        return sorted(mine, key=lambda o: o.session_id not in self._left)[:extra]  # stable: oldest first in each

    def connected(self, opened: Opened) -> None:
        """A connection joined this session."""
        self._left.discard(opened.session_id)

    def disconnected(self, opened: Opened) -> None:
        """A connection of this session ended; with none left, the session is left behind (closed
        first when the user opens one more than the cap)."""
        if not any(o.session_id == opened.session_id for o in self.sockets.values()):
            self._left.add(opened.session_id)

    def get(self, session_id: str) -> Opened | None:
        """The recorded session with this id (None: not opened through the proxy, or closed since)."""
        return self._opened.get(session_id)

    def forget(self, sessions: Iterable[Opened]) -> None:
        """Stop knowing these sessions: a websocket can no longer join them."""
        for opened in sessions:
            self._opened.pop(opened.session_id, None)
            self._left.discard(opened.session_id)

    def logins(self, user_id: int | None = None) -> set[tuple[int, str]]:
        """The logins (user id, cookie) with a session or a websocket (of ``user_id`` only, if given)."""
        found = {(o.user_id, o.login) for o in [*self._opened.values(), *self.sockets.values()]}
        return {f for f in found if user_id is None or f[0] == user_id}

    def of_login(self, login: str) -> list[Opened]:
        """Every session a login opened, including those only a websocket still holds."""
        found = {o.session_id: o for o in [*self._opened.values(), *self.sockets.values()] if o.login == login}
        return list(found.values())

    def sockets_of(self, sessions: Iterable[Opened]) -> list[Any]:
        """The open relays of these sessions."""
        ids = {o.session_id for o in sessions}
        return [ws for ws, o in self.sockets.items() if o.session_id in ids]

    def count(self, user_id: int) -> int:
        """How many sessions ``user_id`` has on record."""
        return sum(1 for o in self._opened.values() if o.user_id == user_id)

    async def close(self, sessions: list[Opened], reason: bytes) -> None:
        """Close these sessions' websockets and let Bokeh discard them; no websocket may join them again."""
        self.forget(sessions)
        sockets = self.sockets_of(sessions)
        for ws in sockets:
            self.sockets.pop(ws, None)
        async with asyncio.TaskGroup() as tg:  # a slow client does not hold the others up
            for ws in sockets:
                tg.create_task(ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=reason))
        for opened in sessions:
            self._expire(opened)

    async def recheck(self, alive: SessionAlive, user_id: int | None = None) -> int:
        """Close what the logins that no longer live opened (of ``user_id``'s logins only, if given);
        return how many logins ended."""
        ended = 0
        for _user, login in self.logins(user_id):
            if not await alive(login):
                await self.close(self.of_login(login), b"logged out")
                ended += 1
        return ended


class SpacedCollector:
    """One full garbage collection at most every ``seconds`` once something asked for one (Bokeh
    would run one per ended session). A collection holds the interpreter lock wherever it runs, so a
    thread would not spare the loop: collections are spaced out instead."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._wanted = asyncio.Event()
        self._task: asyncio.Task | None = None

    def request(self) -> None:
        """Garbage was left (a session ended): collect within ``seconds``."""
        self._wanted.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dashboards-gc")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            await asyncio.sleep(self.seconds)
            self._wanted.clear()
            LOGGER.debug("dashboards: collected %d objects of ended sessions", gc.collect())


class NoCollect:
    """Stands in for the ``gc`` module inside ``bokeh.document.document``: Bokeh runs a full
    ``gc.collect()`` each time it destroys a session's document (0.6-0.75 s on the daemon's heap, on
    the loop that also answers SMS). The host collects at most once per interval instead. Everything
    but ``collect`` is the real module."""

    def __init__(self, real) -> None:
        self._real = real

    def collect(self, generation: int = 2) -> int:
        return 0

    def __getattr__(self, name: str):
        return getattr(self._real, name)


def defer_bokeh_collections() -> None:
    """Make Bokeh's document teardown skip its own full collection (idempotent). Bokeh's other one,
    after a document's ``on_session_destroyed`` callbacks, is avoided by registering none: the host
    learns of ended sessions through an application handler instead."""
    import bokeh.document.document as document_module

    if not isinstance(document_module.gc, NoCollect):
        document_module.gc = NoCollect(document_module.gc)
