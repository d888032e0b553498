"""The durable outbox: the one way to queue an SMS (:meth:`Outbox.enqueue`), and one worker per
sending modem that claims a committed row and sends it.

A row's parts are encoded once and journalled (``outbox_pdus``) step by step as the modem
stores and sends them (:mod:`smsd_crm.modem.submit`), so a row found ``sending`` at start (the
daemon died mid-send) is queued again and resumed: parts already on the air are not sent again.
Only on a modem without store-then-send can a part go out twice (logged).

Errors by class: a message at fault (bad number, bad PDU) fails that row only and never counts
against the modem; modem errors are retried with backoff, preferring another modem, and a
retried row keeps its place in the queue. Before each claim a worker lets its modem read what
is waiting on its SIM (intake first).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Protocol, Sequence

from .config import ModemConfig, OutboxConfig, preferred_modem
from .errors import CommandError, ModemError, ModemUnavailable, PduError, SendUncertain, StorageUnavailable
from .events import DeliveryReported, MessageSent
from .models import DeliveryReport, OutboundMessage, OutgoingPart, SendJournal, SendResult
from .sms.fit import clip_parts
from .storage import campaigns as campaign_queries
from .storage import consent, send_journal
from .storage import messages as queries
from .storage.db import Database

LOGGER = logging.getLogger(__name__)
IDLE_POLL = 2.0
INTAKE_WAIT = 5.0  # seconds a worker lets its modem read waiting messages before it sends
TIDY_EVERY = 600.0  # seconds between tidy-ups of a modem's stored outgoing messages
RESUME_WAIT = 60.0  # seconds a row waits for the modem whose SIM holds its part in flight to come back


class Sender(Protocol):
    """One modem as the outbox sees it."""

    id: str
    sim_id: str
    ready_count: int  # how often it (re)connected

    def encode(self, number: str, text: str) -> list[OutgoingPart]: ...

    async def send_parts(self, parts: list[OutgoingPart], journal: SendJournal) -> SendResult: ...

    async def wait_intake(self, timeout: float) -> bool: ...

    async def tidy_storage(self, keep: set[int]) -> int: ...

    @property
    def storage_untidy(self) -> bool: ...


class SenderPool(Protocol):
    """Lends idle senders (the modem pool)."""

    def sending_ids(self) -> list[str]: ...

    def is_idle(self, modem_id: str) -> bool: ...

    async def acquire(self, timeout: float, only: str | None = None) -> Sender | None: ...

    def release(self, sender: Sender, ok: bool | None) -> None: ...

    def senders(self) -> list[str]: ...

    def connected(self) -> list[str]: ...


class Outbox:
    """One worker per sending modem over one queue table."""

    def __init__(self, db: Database, config: OutboxConfig, clock: Callable[[], datetime],
                 emit: Callable[[object], Awaitable[None]] | None = None, *, routes: Sequence[ModemConfig] = (),
                 daily_campaign_limits: dict[str, int | None] | None = None,
                 day_start: Callable[[datetime], datetime] | None = None, region: str = "ID") -> None:
        """The senders come with :meth:`run` (the modem pool): an outbox that never runs (the CLI,
        a page in a test) still queues rows for the daemon that does. ``routes``: the modems'
        configs, for :meth:`route` (routing by number prefix). ``emit`` tells the plugins of sends and
        delivery reports; None for an outbox that never sends."""
        self._db = db
        self._routes = list(routes)
        self._region = region  # for recipients in status reports written without +62
        # Campaign messages per SIM per local day (operators block SIMs that send too much bulk);
        # counted from the database once a day, then in memory.
        self._daily = {k: v for k, v in (daily_campaign_limits or {}).items() if v}
        self._day_start = day_start or (lambda now: now.replace(hour=0, minute=0, second=0, microsecond=0))
        self._used: dict[str, tuple[datetime, int]] = {}
        self._pool: SenderPool | None = None
        self._config = config
        self._clock = clock
        self._emit = emit or _nobody
        # One wake-up event per worker, cleared *before* it looks for work, so a
        # row queued while it looks is never missed (set up by run()).
        self._wake: dict[str, asyncio.Event] = {}
        self._stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # modem id -> (its connection count, the monotonic time) at the last tidy-up
        self._tidied: dict[str, tuple[int, float]] = {}
        self._holding: dict[str, int] = {}  # modem id -> the row it is sending (for an outage: _after_outage)

    def route(self, phone: str) -> str | None:
        """The modem whose ``prefixes`` match ``phone`` (routing by operator), if any."""
        return preferred_modem(self._routes, phone)

    async def enqueue(self, phone: str, text: str, *, priority: int = queries.REPLY_PRIORITY,
                      in_reply_to: int | None = None, plugin: str | None = None, modem_id: str | None = None,
                      campaign_id: int | None = None, fallback: bool = False, max_parts: int | None = None) -> int:
        """Queue an SMS to ``phone`` (E.164) and return its outbox id. Inside the caller's
        transaction it commits with it (and is never sent if that rolls back); the senders are woken
        once it has committed. ``modem_id`` is the SIM it should go out on (the one the customer
        texted, or :meth:`route`), None for any; ``fallback`` marks a "not understood" reply;
        ``max_parts``: a text costing more SMS is cut to fit them (``...`` at the end), logged."""
        if max_parts is not None and (cut := clip_parts(text, max_parts)) != text:
            LOGGER.warning("an SMS to %s from %s was cut to %d parts (%d characters were given)", phone,
                           plugin or "core", max_parts, len(text))
            text = cut
        message_id = await queries.queue_outbound(
            self._db, phone, text, self._clock(), priority=priority, in_reply_to=in_reply_to, plugin=plugin,
            modem_id=modem_id, campaign_id=campaign_id, fallback=fallback)
        self._db.after_commit(lambda: self.notify(modem_id))
        return message_id

    def notify(self, modem_id: str | None = None) -> None:
        """Rows are waiting (queued, or made due again): wake the worker of the modem preferred,
        else one idle worker. Nothing to wake before :meth:`run`: its workers look at start."""
        if self._pool is None:
            return
        if modem_id in self._wake:
            self._wake[modem_id].set()
            if self._pool.is_idle(modem_id):
                return
        for other, event in self._wake.items():
            if other != modem_id and self._pool.is_idle(other):
                event.set()
                return

    async def run(self, pool: SenderPool) -> None:
        """Requeue interrupted rows, then send through ``pool``'s modems until cancelled."""
        self._pool = pool
        self._wake = {m: asyncio.Event() for m in pool.sending_ids()}
        requeued = await queries.requeue_interrupted(self._db, self._clock())
        if requeued:
            LOGGER.warning("%d message(s) interrupted by the last stop are queued again", requeued)
        async with asyncio.TaskGroup() as tg:
            for modem_id in self._wake:
                tg.create_task(self._worker(modem_id), name=f"outbox-{modem_id}")

    async def drain(self, timeout: float) -> None:
        """Stop claiming rows and wait up to ``timeout`` s for sends in flight to finish."""
        self._stopping = True
        for event in self._wake.values():
            event.set()
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            LOGGER.warning("outbox: %d send(s) still in flight at shutdown", self._in_flight)

    async def _worker(self, modem_id: str) -> None:
        while not self._stopping:
            try:
                await self._work(modem_id)
            except StorageUnavailable:
                await self._after_outage(modem_id)
        await asyncio.Event().wait()  # stopped: idle until cancelled with the task group

    async def _after_outage(self, modem_id: str) -> None:
        """The database went away while this worker claimed, sent or recorded a row. A send stops
        before any step whose journal line could not be committed; once the database answers, the row
        it held (still ``sending`` there) is queued again and resumes from its journal, as after a
        crash: nothing is sent twice. The modem is not to blame."""
        row = self._holding.pop(modem_id, None)
        while True:
            await self._db.wait_reachable()
            try:
                if row is not None:
                    await queries.requeue(self._db, row, self._clock())
                return
            except StorageUnavailable:
                continue

    async def _work(self, modem_id: str) -> None:
        """One turn: take this modem, claim a row, send it (or sleep when there is none)."""
        wake = self._wake[modem_id]
        sender = await self._pool.acquire(5.0, only=modem_id)
        if sender is None:
            return
        wake.clear()
        row = None
        try:
            if not self._stopping:
                await self._tidy(sender)
                await sender.wait_intake(INTAKE_WAIT)
                now = self._clock()
                wait = self._config.same_sim_wait if self._config.reply_from == "texted" else 0.0
                row = await queries.claim_next(
                    self._db, now, modem_id, self._pool.senders(), now - timedelta(seconds=wait),
                    campaigns=await self._campaigns_allowed(modem_id, now), connected=self._pool.connected(),
                    resume_until=now - timedelta(seconds=RESUME_WAIT))
        except BaseException:
            self._pool.release(sender, None)
            raise
        if row is None:
            self._pool.release(sender, None)
            await self._sleep(wake)
            return
        self.notify()  # more may be waiting: pass the baton to one idle worker
        self._in_flight += 1
        self._idle.clear()
        self._holding[modem_id] = row.id
        ok: bool | None = None
        try:
            ok = await self._deliver(row, sender)
        finally:
            self._pool.release(sender, ok)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
        self._holding.pop(modem_id, None)

    async def _tidy(self, sender: Sender) -> None:
        """Once per connection: delete stored outgoing messages no row needs (a crash between
        storing a part and committing its slot leaves one behind)."""
        last = self._tidied.get(sender.id)
        now = time.monotonic()
        if (last is not None and last[0] == sender.ready_count and now - last[1] < TIDY_EVERY
                and not sender.storage_untidy):
            return
        if not sender.sim_id:
            return  # which SIM this is is not known: its slots cannot be told from another SIM's
        try:
            await sender.tidy_storage(await send_journal.kept_slots(self._db, sender.sim_id, sender.id))
        except ModemError as exc:
            LOGGER.info("modem %s: storage tidy-up postponed: %s", sender.id, exc)
            return
        except Exception:  # a tidy-up must never stop the outbox
            LOGGER.exception("modem %s: storage tidy-up failed", sender.id)
            return
        self._tidied[sender.id] = (sender.ready_count, now)

    async def _campaigns_allowed(self, modem_id: str, now: datetime) -> bool:
        limit = self._daily.get(modem_id)
        if limit is None:
            return True
        day = self._day_start(now)
        kept = self._used.get(modem_id)
        if kept is None or kept[0] != day:
            kept = self._used[modem_id] = (day, await campaign_queries.sent_by_modem_since(self._db, modem_id, day))
        return kept[1] < limit

    def _count_campaign_send(self, modem_id: str) -> None:
        if modem_id in self._used:
            day, used = self._used[modem_id]
            self._used[modem_id] = (day, used + 1)

    async def _sleep(self, wake: asyncio.Event) -> None:
        """Until woken, a deferred row is due, or a row waiting for its own SIM may be taken."""
        if self._stopping:
            return
        due, waiting = await queries.queue_state(self._db)
        # Rows queued by another process (a staff command) wake it (Database.watch_changes); the poll is
        # for a wake-up lost on SQLite's once-a-second look.
        wait = IDLE_POLL if due is None else max((due - self._clock()).total_seconds(), 0.05)
        if waiting:
            wait = min(wait, max(self._config.same_sim_wait / 2, 0.05))
        try:
            async with asyncio.timeout(min(wait, IDLE_POLL)):
                await wake.wait()
        except TimeoutError:
            pass

    async def record_report(self, report: DeliveryReport) -> None:
        """Match a status report to its outbox row by (SIM, message reference, normalised number)."""
        result = await queries.apply_report(self._db, report.sim_id, report.reference, report.recipient,
                                            report.status, report.final, self._clock(), self._region)
        if result is None:
            LOGGER.info("status report %#04x for MR %d to %s on %s matches no sent message",
                        report.status, report.reference, report.recipient, report.modem_id)
            return
        message_id, state = result
        LOGGER.info("message %d: status report %#04x -> %s", message_id, report.status, state)
        await self._emit(DeliveryReported(message_id, state, report.status))

    async def _deliver(self, row: OutboundMessage, sender: Sender) -> bool | None:
        """Send one row; True on success, False for a modem failure, None for a bad message or a
        promotion to a number that opted out since it was queued."""
        if row.campaign_id is not None and not await consent.may_promote(self._db, row.phone):
            await campaign_queries.drop_opted_out(self._db, row.id, self._clock())
            LOGGER.info("message %d not sent: %s opted out of promotions", row.id, row.phone)
            return None
        try:
            parts = await send_journal.load_parts(self._db, row.id)
            if not parts:
                parts = sender.encode(row.phone, row.text)
                await send_journal.save_parts(self._db, row.id, parts, self._clock())
            # Parts stored on another modem's SIM are sent from this one: that SIM's copies go at its
            # next tidy-up, due now.
            for other in {p.modem_id for p in parts if p.storage_index is not None and p.modem_id != sender.id}:
                self._tidied.pop(other or "", None)
            result = await sender.send_parts(parts, send_journal.DbJournal(self._db, row.id, row.phone, self._clock))
        except PduError as exc:
            await queries.mark_failed(self._db, row.id, f"cannot encode: {exc}", self._clock())
            LOGGER.error("message %d cannot be encoded: %s", row.id, exc)
            return None
        except CommandError as exc:
            if not exc.message_fault:
                await self._failed(row, sender, exc)
                return False
            # The number or the PDU is wrong: this message fails, the modem is not to blame.
            await queries.mark_failed(self._db, row.id, str(exc), self._clock())
            self._tidied.pop(sender.id, None)  # its stored part is no longer needed on the SIM
            LOGGER.error("message %d refused by the network: %s", row.id, exc)
            return None
        except ModemError as exc:
            await self._failed(row, sender, exc)
            return False
        await queries.mark_sent(self._db, row.id, parts, self._clock(), phone=row.phone)
        LOGGER.info("message %d sent via %s", row.id, result.modem_id)
        if row.campaign_id is not None:
            self._count_campaign_send(sender.id)
        await self._emit(MessageSent(row.id, row.phone, result.modem_id))
        return True

    async def _failed(self, row: OutboundMessage, sender: Sender, exc: ModemError) -> None:
        if getattr(exc, "transient", False) and row.attempts < self._config.max_attempts:
            delay = min(self._config.retry_min * 2 ** (row.attempts - 1), self._config.retry_max)
            if isinstance(exc, (ModemUnavailable, SendUncertain)):
                delay = 0.0  # the modem went away or lost the result: due at once, in its place by age
            at = self._clock() + timedelta(seconds=delay)
            await queries.mark_retry(self._db, row.id, str(exc), at, self._clock(), failed_modem=sender.id)
            LOGGER.warning("message %d: %s; retry %d in %.1f s", row.id, exc, row.attempts, delay)
        else:
            await queries.mark_failed(self._db, row.id, str(exc), self._clock())
            self._tidied.pop(sender.id, None)  # its stored part is no longer needed on the SIM
            LOGGER.error("message %d failed after %d attempt(s): %s", row.id, row.attempts, exc)


async def _nobody(event: object) -> None:
    """Where an outbox that never sends (the CLI, a page's own) tells its events: nobody."""
