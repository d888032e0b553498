"""Supervise N modems: reconnect with backoff, hand out idle senders.

Inbound messages do not pass through the pool: each modem hands what it reads straight to the
sink it was built with (the router's ``accept``), committed before the modem deletes it.

Senders are handed out with :meth:`ModemPool.acquire` / :meth:`ModemPool.release`:
a modem sends one message at a time, only when it is ready, allowed to send
(not receive-only), within its rate limit, and not resting after repeated
failures. The least used idle modem goes first, so the load spreads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from ..errors import ModemUnavailable
from .modem import Modem
from .port_watch import wait_for_port

LOGGER = logging.getLogger(__name__)
FAILURE_LIMIT = 3  # consecutive failed sends before a modem rests
REST_SECONDS = 60.0  # while other modems carry its load
REST_ALONE = 3.0  # when no other modem can send: a breather, not a stall
RESET_AFTER = 3  # consecutive failed starts before an AT+CFUN=1,1 reset
OUT_OF_SERVICE_AFTER = 6  # consecutive failed starts before the modem is reported out of service


@dataclass(frozen=True)
class ModemStatus:
    """What the pool knows of one modem, for logs and `smsd-crm status`."""

    id: str
    port: str
    state: str  # ready | connecting | resting | out of service
    sending: bool
    imei: str
    sim_id: str
    iccid: str
    signal: int | None
    registration: int | None
    operator: str
    storage_used: int | None
    storage_total: int | None
    sent: int
    received: int
    last_error: str
    # the prepaid SIM's credit as its operator last said (modems[].credit; None when not checked)
    balance: int | None = None
    active_until: str | None = None  # YYYY-MM-DD
    sms_left: int | None = None
    sms_until: str | None = None
    credit_checked_at: str | None = None  # UTC ISO
    credit_note: str = ""
    credit_refusals: int = 0


def _day(day) -> str | None:
    return day.isoformat() if day is not None else None


@dataclass
class _Slot:
    modem: Modem
    busy: bool = False
    sent_at: deque = field(default_factory=deque)  # monotonic times of sends in the last minute
    failures: int = 0
    resting_until: float = 0.0
    last_used: float = 0.0


class ModemPool:
    """Keeps every modem connected and lends idle ones to the outbox."""

    def __init__(self, modems: list[Modem], *, backoff_min: float = 1.0, backoff_max: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.modems = modems
        self._slots = {m.id: _Slot(m) for m in modems}
        self._backoff = (backoff_min, backoff_max)
        self._clock = clock
        self._errors: dict[str, str] = {}
        self._out_of_service: set[str] = set()
        self._changed = asyncio.Event()
        for m in modems:
            m.on_change = self._changed.set

    # ------------------------------------------------------------ supervision

    async def run(self) -> None:
        """Supervise every modem until cancelled."""
        async with asyncio.TaskGroup() as tg:
            for modem in self.modems:
                tg.create_task(self._supervise(modem), name=f"modem-{modem.id}")

    async def _supervise(self, modem: Modem) -> None:
        """Reconnect with backoff; escalate a modem that keeps failing to start.

        Reopening the port comes first (a missing port is never a reason to reset);
        after RESET_AFTER failed starts in a row the modem gets AT+CFUN=1,1, after
        OUT_OF_SERVICE_AFTER it is reported out of service and still probed. A device
        path that (re)appears during the wait ends it at once (port_watch.py).
        """
        delay, failed_starts = self._backoff[0], 0
        while True:
            before = modem.ready_count
            try:
                await modem.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a modem fault must never stop the others
                self._errors[modem.id] = str(exc)
                level = logging.WARNING if isinstance(exc, ModemUnavailable) else logging.ERROR
                LOGGER.log(level, "modem %s stopped: %s; retrying in %.1f s", modem.id, exc, delay,
                           exc_info=not isinstance(exc, ModemUnavailable))
            if modem.ready_count > before:
                delay, failed_starts = self._backoff[0], 0
                self._out_of_service.discard(modem.id)
            else:
                failed_starts += 1
                if failed_starts == RESET_AFTER and "cannot open" not in self._errors.get(modem.id, ""):
                    await modem.power_cycle()
                if failed_starts == OUT_OF_SERVICE_AFTER:
                    self._out_of_service.add(modem.id)
                    LOGGER.error("modem %s is out of service after %d failed starts; still probing it",
                                 modem.id, failed_starts)
            if await wait_for_port(modem.config.port, delay):
                # Re-plugged: reopen now, and soon again if it is not usable yet (udev may
                # still be setting its permissions) rather than after the grown backoff.
                LOGGER.info("modem %s: %s is back; reopening it", modem.id, modem.config.port)
                delay = self._backoff[0]
            else:
                delay = min(delay * 2, self._backoff[1])

    # ------------------------------------------------------------ lending senders

    def _wait_for(self, slot: _Slot, now: float) -> float | None:
        """0 if the slot can send now, seconds until it may, or None if it cannot at all."""
        m = slot.modem
        if not m.can_send or slot.busy:
            return None
        while slot.sent_at and now - slot.sent_at[0] >= 60.0:
            slot.sent_at.popleft()
        waits = [slot.resting_until - now]
        if m.config.max_per_minute and len(slot.sent_at) >= m.config.max_per_minute:
            waits.append(60.0 - (now - slot.sent_at[0]))
        return max(0.0, *waits)

    def senders(self) -> list[str]:
        """Ids of the modems that can send now or soon (ready, allowed, not resting)."""
        now = self._clock()
        return [s.modem.id for s in self._slots.values() if s.modem.can_send and s.resting_until <= now]

    def connected(self) -> list[str]:
        """Ids of the sending modems that are connected and initialised (resting or not)."""
        return [m.id for m in self.modems if m.config.send and m.ready.is_set()]

    def sending_ids(self) -> list[str]:
        """Ids of the modems allowed to send (not receive-only), ready or not."""
        return [m.id for m in self.modems if m.config.send]

    def is_idle(self, modem_id: str) -> bool:
        """True when the modem could send now and is not sending."""
        slot = self._slots[modem_id]
        return slot.modem.can_send and not slot.busy

    async def acquire(self, timeout: float, only: str | None = None) -> Modem | None:
        """An idle sender (``only`` that one), marked busy; None if none became free in time."""
        deadline = self._clock() + timeout
        while True:
            now = self._clock()
            waits = {slot.modem.id: self._wait_for(slot, now) for slot in self._slots.values()
                     if only is None or slot.modem.id == only}
            free = [self._slots[i] for i, w in waits.items() if w == 0.0]
            if free:
                slot = min(free, key=lambda s: (len(s.sent_at), s.last_used))
                slot.busy, slot.last_used = True, now
                slot.sent_at.append(now)
                return slot.modem
            pending = [w for w in waits.values() if w]
            remaining = deadline - now
            if remaining <= 0:
                return None
            self._changed.clear()
            try:
                async with asyncio.timeout(min([remaining, *pending])):
                    await self._changed.wait()
            except TimeoutError:
                pass

    def release(self, modem: Modem, ok: bool | None) -> None:
        """Give a sender back. ``ok`` False counts a failure; None means nothing was sent."""
        slot = self._slots[modem.id]
        slot.busy = False
        if ok is None:
            if slot.sent_at:
                slot.sent_at.pop()  # the reserved send did not happen
        elif ok:
            slot.failures = 0
        else:
            slot.failures += 1
            if slot.failures >= FAILURE_LIMIT:
                others = [i for i in self.senders() if i != modem.id]
                rest = REST_SECONDS if others else REST_ALONE
                slot.resting_until = self._clock() + rest
                slot.failures = 0
                LOGGER.warning("modem %s failed %d sends in a row; resting it for %.0f s%s",
                               modem.id, FAILURE_LIMIT, rest, "" if others else " (no other modem can send)")
        self._changed.set()

    def _state(self, slot: _Slot, now: float) -> str:
        m = slot.modem
        if m.ready.is_set():
            if not m.health.registered:
                return "not registered"
            return "resting" if slot.resting_until > now else "ready"
        return "out of service" if m.id in self._out_of_service else "connecting"

    def status(self) -> list[ModemStatus]:
        """A snapshot of every modem."""
        now = self._clock()
        out = []
        for s in self._slots.values():
            m, h = s.modem, s.modem.health
            c = m.credit.state if m.credit is not None else None
            out.append(ModemStatus(m.id, m.config.port, self._state(s, now), s.busy, m.imei, m.sim_id,
                                   h.iccid, h.signal, h.registration, h.operator, h.storage_used,
                                   h.storage_total, m.sent, m.received, self._errors.get(m.id, ""),
                                   *((c.balance, _day(c.active_until), c.sms_left, _day(c.sms_until),
                                      c.checked_at.isoformat() if c.checked_at else None, c.note, c.refusals)
                                     if c is not None else ())))
        return out
