"""Modem health: what a check asks (the bare AT is the watchdog) and the last-resort reset."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Awaitable, Callable

from ..config import ModemConfig
from ..errors import ModemError, ModemUnavailable
from . import commands
from .at import AtChannel

LOGGER = logging.getLogger(__name__)

Ask = Callable[..., Awaitable[list[str]]]
Try = Callable[[str], Awaitable[list[str] | None]]


@dataclass
class Health:
    """What the last health check saw. ``registration`` is the +CREG state (1 home, 5 roaming)."""

    signal: int | None = None  # RSSI 0-31 from +CSQ
    registration: int | None = None
    operator: str = ""
    iccid: str = ""
    storage_used: int | None = None
    storage_total: int | None = None
    checked_at: datetime | None = None

    @property
    def registered(self) -> bool:
        """Unknown counts as registered: a modem that never says is not held back."""
        return self.registration is None or self.registration in commands.REGISTERED


async def poll(modem_id: str, ask: Ask, try_: Try, health: Health, command_timeout: float) -> int | None:
    """Update ``health`` in place; return the registration state for the modem to announce.

    ``ask`` raises on an error or timeout (the watchdog counts it); ``try_`` tolerates
    commands a modem does not support.
    """
    await ask("AT", timeout=min(5.0, command_timeout))
    health.signal = commands.parse_csq(await try_("AT+CSQ") or [])
    creg = await try_("AT+CREG?") or []
    registration = commands.parse_creg(creg[0], unsolicited=False) if creg else None
    health.operator = commands.parse_cops(await try_("AT+COPS?") or []) or health.operator
    storage = commands.parse_cpms(await try_("AT+CPMS?") or [])
    health.storage_used, health.storage_total = storage if storage else (None, None)
    health.checked_at = datetime.now(timezone.utc)
    if storage and storage[0] >= storage[1]:
        LOGGER.warning("modem %s: SIM storage full (%d/%d); new SMS wait at the network", modem_id, *storage)
    return registration


async def power_cycle(modem_id: str, config: ModemConfig, opener) -> None:
    """Best effort ``AT+CFUN=1,1`` on a port of its own: a modem that stopped answering may reboot."""
    try:
        transport, channel = await opener(
            modem_id, config.port, lambda: AtChannel(modem_id, lambda *a: None, lambda e: None), config.baudrate)
    except ModemUnavailable as exc:
        LOGGER.warning("modem %s: cannot reset: %s", modem_id, exc)
        return
    try:
        async with asyncio.timeout(config.command_timeout):
            await channel.opened.wait()
        channel.abort_input()
        await channel.command("AT+CFUN=1,1", timeout=config.command_timeout)
        LOGGER.warning("modem %s: reset with AT+CFUN=1,1", modem_id)
    except (ModemError, TimeoutError) as exc:
        LOGGER.warning("modem %s: reset got no answer: %s", modem_id, exc)
    finally:
        transport.close()
        await asyncio.sleep(0)
