"""Live refresh of open pages: a version per topic, bumped by events, and a long poll on /live.

Events from this process bump their ``topic``; commits made by another process
(a staff command in a terminal) bump every topic (``Database.watch_changes``: SQLite's
``data_version``, PostgreSQL's NOTIFY). A page reloads itself (or, while someone is typing, offers to) when
the version it was rendered with changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from ..storage.db import Database

LOGGER = logging.getLogger(__name__)
LONG_POLL = 25.0  # seconds a /live request waits before answering "no change"
# A page that follows several topics: the home page changes with orders, complaints and messages
# (not with every modem signal reading, which would reload it while someone reads it).
SUMMARIES = {"home": ("orders", "complaints", "messages")}


class LiveFeed:
    """Per-topic change counters that requests can wait on."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = defaultdict(int)
        self._changed = asyncio.Event()
        self._ended: dict[int, int] = defaultdict(int)  # per user: how many times its sessions were ended
        self.listeners: list = []  # called with the topic (None: everything) on every bump
        self.waits = 0  # long polls begun (a test knows one is parked)
        self.closing = False  # the server is stopping: long polls answer at once

    def version(self, topic: str) -> int:
        """The current version of ``topic``."""
        return self._versions[topic]

    def snapshot(self) -> dict[str, int]:
        """Every topic's version now (a topic not yet bumped is at 0)."""
        return dict(self._versions)

    def bump(self, topic: str | None = None) -> None:
        """``topic`` changed (every topic when None)."""
        names = [topic] if topic else list(self._versions) or ["*"]
        names += [summary for summary, topics in SUMMARIES.items() if topic in topics]
        for name in names:
            self._versions[name] += 1
        self._wake()
        for listener in self.listeners:
            listener(topic)

    def sessions_ended(self, user_id: int) -> None:
        """Sessions of ``user_id`` ended (disabled, a new password): its long polls stop waiting at once,
        so the page learns it is logged out now rather than at the next change."""
        self._ended[user_id] += 1
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def close(self) -> None:
        """The server is stopping: every long poll answers now (the server's shutdown would otherwise
        wait up to ``LONG_POLL`` seconds for each open page's request), and later ones at once."""
        self.closing = True
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def observe(self, event: object) -> None:
        """An event observer for the plugin host."""
        topic = getattr(event, "topic", None)
        if isinstance(topic, str):
            self.bump(topic)

    async def wait(self, topic: str, seen: int, timeout: float = LONG_POLL, user_id: int | None = None) -> int | None:
        """The version of ``topic`` once it differs from ``seen``, or after ``timeout``; None as soon as
        the sessions of ``user_id`` are ended (the caller checks whether its own still lives)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        ended = self._ended[user_id] if user_id is not None else 0
        self.waits += 1
        while self._versions[topic] == seen and not self.closing:
            if user_id is not None and self._ended[user_id] != ended:
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                break
        return self._versions[topic]

    async def watch_other_processes(self, db: Database) -> None:
        """Bump every topic when another process of this store commits (runs until cancelled)."""
        await db.watch_changes(self.bump)
