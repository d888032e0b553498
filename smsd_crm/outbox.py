"""The durable outbox: one worker per sending modem claims a committed row and sends it.

Transient modem errors are retried with exponential backoff, preferring another
modem; permanent ones fail the row. A row found ``sending`` at start (the daemon
died mid-send) is queued again: the window between the modem's ``+CMGS`` and
the commit of ``sent`` is the only place a message can go out twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Protocol

from .config import OutboxConfig
from .errors import ModemError, PduError
from .events import MessageSent
from .models import OutboundMessage, SendResult
from .storage import messages as queries
from .storage.db import Database

LOGGER = logging.getLogger(__name__)


class Sender(Protocol):
    """One modem as the outbox sees it."""

    id: str

    async def send(self, number: str, text: str) -> SendResult: ...


class SenderPool(Protocol):
    """Lends idle senders (the modem pool)."""

    async def acquire(self, timeout: float) -> Sender | None: ...

    def release(self, sender: Sender, ok: bool | None) -> None: ...

    def senders(self) -> list[str]: ...


class Outbox:
    """``workers`` concurrent senders (one per sending modem) over one queue table."""

    def __init__(self, db: Database, pool: SenderPool, config: OutboxConfig,
                 clock: Callable[[], datetime], emit: Callable[[object], Awaitable[None]],
                 workers: int = 1) -> None:
        self._db = db
        self._pool = pool
        self._config = config
        self._clock = clock
        self._emit = emit
        self._workers = max(workers, 1)
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def notify(self) -> None:
        """A row was queued: wake the workers."""
        self._wake.set()

    async def run(self) -> None:
        """Requeue interrupted rows, then send until cancelled."""
        requeued = await queries.requeue_interrupted(self._db, self._clock())
        if requeued:
            LOGGER.warning("%d message(s) interrupted by the last stop are queued again", requeued)
        async with asyncio.TaskGroup() as tg:
            for i in range(self._workers):
                tg.create_task(self._worker(), name=f"outbox-{i}")

    async def drain(self, timeout: float) -> None:
        """Stop claiming rows and wait up to ``timeout`` s for sends in flight to finish."""
        self._stopping = True
        self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            LOGGER.warning("outbox: %d send(s) still in flight at shutdown", self._in_flight)

    async def _worker(self) -> None:
        while not self._stopping:
            sender = await self._pool.acquire(5.0)
            if sender is None:
                continue
            now = self._clock()
            row = None
            if not self._stopping:
                row = await queries.claim_next(
                    self._db, now, sender.id, self._pool.senders(),
                    now - timedelta(seconds=self._config.same_sim_wait))
            if row is None:
                self._pool.release(sender, None)
                await self._sleep_until_due()
                continue
            self._in_flight += 1
            self._idle.clear()
            ok: bool | None = None
            try:
                ok = await self._deliver(row, sender)
            finally:
                self._pool.release(sender, ok)
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()
        await asyncio.Event().wait()  # stopped: idle until cancelled with the task group

    async def _sleep_until_due(self) -> None:
        if self._stopping:
            return
        due = await queries.next_due(self._db)
        wait = 30.0 if due is None else max((due - self._clock()).total_seconds(), 0.05)
        self._wake.clear()
        try:
            async with asyncio.timeout(min(wait, 30.0)):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _deliver(self, row: OutboundMessage, sender: Sender) -> bool | None:
        """Send one row; True on success, False for a modem failure, None for a bad message."""
        try:
            result = await sender.send(row.phone, row.text)
        except PduError as exc:
            await queries.mark_failed(self._db, row.id, f"cannot encode: {exc}", self._clock())
            LOGGER.error("message %d cannot be encoded: %s", row.id, exc)
            return None
        except ModemError as exc:
            await self._failed(row, sender, exc)
            return False
        await queries.mark_sent(self._db, row.id, result.modem_id, result.references, self._clock())
        LOGGER.info("message %d sent via %s", row.id, result.modem_id)
        await self._emit(MessageSent(row.id, row.phone, result.modem_id))
        return True

    async def _failed(self, row: OutboundMessage, sender: Sender, exc: ModemError) -> None:
        if getattr(exc, "transient", False) and row.attempts < self._config.max_attempts:
            delay = min(self._config.retry_min * 2 ** (row.attempts - 1), self._config.retry_max)
            at = self._clock() + timedelta(seconds=delay)
            await queries.mark_retry(self._db, row.id, str(exc), at, self._clock(), failed_modem=sender.id)
            LOGGER.warning("message %d: %s; retry %d in %.1f s", row.id, exc, row.attempts, delay)
            self._wake.set()
        else:
            await queries.mark_failed(self._db, row.id, str(exc), self._clock())
            LOGGER.error("message %d failed after %d attempt(s): %s", row.id, row.attempts, exc)
