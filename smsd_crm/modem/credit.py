"""A prepaid SIM's credit, asked by USSD at start, on a schedule and after the operator refused a send.

Shops' SMS service most often dies of an empty SIM: out of pulsa, the SMS package used up, or the
card's active period over; sends then fail with operator errors and nobody notices for days. The modem
asks its operator (``AT+CUSD``) and keeps what it was told (:class:`CreditState`); the pool publishes it
(``smsd-crm status``, the modems page) and core's credit alerts tell the owner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING

from ..config import CreditConfig
from ..errors import ModemError, ModemUnavailable
from ..sms import ussd

if TYPE_CHECKING:
    from .modem import Modem

LOGGER = logging.getLogger(__name__)
FIRST_CHECK = 5.0  # seconds after the modem is ready: its start-up sweep first
MAX_BALANCE = 10 ** 12  # rupiah: more is a misread (and would not fit the database's integer)
MIN_GAP = 600.0  # seconds between two checks that refused sends ask for (a refused campaign: one check)

# Balance codes of Indonesian operators (their own pages, 2026); by the name AT+COPS gives. A code
# that changed is set in modems[].credit.ussd.
OPERATOR_CODES = {"TELKOMSEL": "*888#", "INDOSAT": "*555#", "IM3": "*555#", "XL": "*123#", "AXIS": "*888#",
                  "3": "*111#", "TRI": "*111#", "SMARTFREN": "*999#", "BY.U": "*888#"}


def code_for(operator: str, configured: str | None) -> str | None:
    """The balance code to ask: the configured one, else the operator's (None when not known)."""
    if configured:
        return configured
    name = operator.upper().replace("INDOSAT OOREDOO", "INDOSAT").strip()
    return next((c for key, c in OPERATOR_CODES.items() if name == key or name.startswith(key + " ")), None)


@dataclass(frozen=True)
class CreditState:
    """What the operator last said: ``balance`` (rupiah), ``active_until``, ``sms_left``, ``sms_until``;
    ``checked_at`` (UTC); ``note`` the answer's text or why there is none; ``refusals`` sends the
    operator refused with a refusal code since the daemon started."""

    balance: int | None = None
    active_until: date | None = None
    sms_left: int | None = None
    sms_until: date | None = None
    checked_at: datetime | None = None
    note: str = ""
    refusals: int = 0


class CreditWatch:
    """The checks of one modem: :meth:`run` while it is ready; :meth:`refused` after a refused send."""

    def __init__(self, modem: "Modem", config: CreditConfig) -> None:
        self._modem = modem
        self._config = config
        self.state = CreditState()
        self._wanted = asyncio.Event()
        self._last_check = -MIN_GAP
        self._packed = config.packed  # learnt: a modem that refuses the text form gets the packed one

    def refused(self, code: int | None) -> None:
        """A send was refused with ``code``: counted, and a check asked for when it is a refusal code."""
        if code in self._config.refusal_codes:
            self.state = _replace(self.state, refusals=self.state.refusals + 1)
            self._wanted.set()

    async def run(self) -> None:
        """Check now, then every ``every_hours`` or when a refusal asks (not within ``MIN_GAP`` s)."""
        await asyncio.sleep(FIRST_CHECK)
        while True:
            await self.check()
            self._wanted.clear()
            try:
                async with asyncio.timeout(self._config.every_hours * 3600):
                    await self._wanted.wait()
                    await asyncio.sleep(max(0.0, self._last_check + MIN_GAP - time.monotonic()))
            except TimeoutError:
                pass

    async def check(self) -> CreditState:
        """Ask once; the state afterwards (an unanswered check keeps the last figures, with a note)."""
        self._last_check = time.monotonic()
        modem, config = self._modem, self._config
        code = code_for(modem.health.operator, config.ussd)
        now = datetime.now(timezone.utc)
        if code is None:
            self.state = _replace(self.state, note=f"no balance code known for operator "
                                  f"{modem.health.operator or '?'}: set modems[].credit.ussd", checked_at=now)
            return self.state
        try:
            answer = await modem.ask_ussd(code, self._packed)
            if answer.failed and not self._packed:  # "+CUSD: 4": some Huawei sticks want it packed
                retry = await modem.ask_ussd(code, True)
                if not retry.failed:
                    LOGGER.info("modem %s: USSD works packed as GSM 7-bit; kept so", modem.id)
                    self._packed, answer = True, retry
        except ModemUnavailable:
            raise
        except ModemError as exc:
            LOGGER.warning("modem %s: balance check failed: %s", modem.id, exc)
            self.state = _replace(self.state, note=str(exc), checked_at=now)
            return self.state
        text = answer.text or ""
        credit = ussd.read_credit(text, config.pattern)
        if credit.balance is None or not 0 <= credit.balance <= MAX_BALANCE:
            # unread (or absurd): the last figures stay, so a flaky answer neither clears an alert nor
            # raises it again
            LOGGER.warning("modem %s: the answer to %s gave no balance: %r (set modems[].credit.pattern)",
                           modem.id, code, text[:160])
            self.state = _replace(self.state, note=f"not read: {text[:120]}", checked_at=now)
            return self.state
        self.state = CreditState(credit.balance, credit.active_until, credit.sms_left, credit.sms_until, now,
                                 text[:160], 0 if credit.balance >= config.low else self.state.refusals)
        LOGGER.info("modem %s: credit Rp%s, active until %s", modem.id,
                    "?" if credit.balance is None else f"{credit.balance:,}".replace(",", "."),
                    credit.active_until or "?")
        return self.state


def _replace(state: CreditState, **changes) -> CreditState:
    from dataclasses import replace
    return replace(state, **changes)
