"""Supervise N modems: reconnect with backoff, pick a sender, fan inbound messages in."""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass

from ..errors import ModemUnavailable
from ..models import SendResult
from .modem import Modem

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModemStatus:
    """What the pool knows of one modem, for `smsd-crm` status pages and logs."""

    id: str
    port: str
    ready: bool
    imei: str
    sim_id: str
    sent: int
    received: int
    last_error: str


class ModemPool:
    """Keeps every modem connected and sends through whichever is ready."""

    def __init__(self, modems: list[Modem], *, backoff_min: float = 1.0, backoff_max: float = 30.0):
        self.modems = modems
        self._backoff = (backoff_min, backoff_max)
        self._rr = itertools.count()
        self._errors: dict[str, str] = {}

    async def run(self) -> None:
        """Supervise every modem until cancelled."""
        async with asyncio.TaskGroup() as tg:
            for modem in self.modems:
                tg.create_task(self._supervise(modem), name=f"modem-{modem.id}")

    async def _supervise(self, modem: Modem) -> None:
        delay = self._backoff[0]
        while True:
            try:
                await modem.run()
                delay = self._backoff[0]
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a modem fault must never stop the others
                self._errors[modem.id] = str(exc)
                level = logging.WARNING if isinstance(exc, ModemUnavailable) else logging.ERROR
                LOGGER.log(level, "modem %s stopped: %s; retrying in %.0f s", modem.id, exc, delay,
                           exc_info=not isinstance(exc, ModemUnavailable))
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    async def wait_ready(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until some modem is ready; True if one is."""
        if any(m.ready.is_set() for m in self.modems):
            return True
        if not self.modems:
            await asyncio.sleep(timeout)  # nothing will ever be ready: wait, do not spin
            return False
        waits = [asyncio.ensure_future(m.ready.wait()) for m in self.modems]
        done, pending = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()
        return bool(done)

    def pick(self, preferred: str | None = None) -> Modem:
        """A ready modem: the preferred one (the SIM the customer texted) if ready, else round robin."""
        ready = [m for m in self.modems if m.ready.is_set()]
        if not ready:
            raise ModemUnavailable("pool", "no modem is ready")
        for m in ready:
            if m.id == preferred:
                return m
        return ready[next(self._rr) % len(ready)]

    async def send(self, number: str, text: str, preferred: str | None = None) -> SendResult:
        """Send through one ready modem; ModemUnavailable (transient) when none is."""
        return await self.pick(preferred).send(number, text)

    def status(self) -> list[ModemStatus]:
        """A snapshot of every modem."""
        return [ModemStatus(m.id, m.config.port, m.ready.is_set(), m.imei, m.sim_id, m.sent,
                            m.received, self._errors.get(m.id, "")) for m in self.modems]
