"""Customers' phones for the emulated modems: what staff type on the simulator page goes in as an
SMS; what the daemon sends back comes out on the same screen. Never touches a real modem.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from .. import phones
from .core import SubmittedSms
from .pty_modem import PtyModem

KEEP_MESSAGES = 50  # per phone
KEEP_PHONES = 200


@dataclass(frozen=True, slots=True)
class SimEntry:
    """One SMS on a simulated phone: ``direction`` is "in" (typed by the customer) or "out" (a reply)."""

    seq: int
    direction: str
    text: str
    at: datetime
    modem_id: str


class PhoneSimulator:
    """Type as any number on the emulated modems and see the replies (bounded memory)."""

    def __init__(self, modems: list[PtyModem], clock: Callable[[], datetime], region: str = "ID",
                 on_change: Callable[[], None] = lambda: None,
                 mask: Callable[[str, str], str | None] = lambda text, phone: None) -> None:
        """``mask(text, phone)`` is the router's (``masking.Masker.mask``): the history keeps what the
        database keeps, never the owner's PIN."""
        if not modems:
            raise ValueError("the phone simulator needs at least one emulated modem")
        self._modems = modems
        self._clock = clock
        self._region = region
        self._on_change = on_change
        self._mask = mask
        self._phones: OrderedDict[str, deque[SimEntry]] = OrderedDict()
        self._parts: dict[tuple, dict[int, str]] = {}
        self._seq = 0
        for modem in modems:
            modem.watch(self._submitted)

    def phone(self, raw: str) -> str | None:
        """The E.164 form of a typed number, or None."""
        return phones.normalize(raw[:40], self._region)

    def send(self, phone: str, text: str) -> None:
        """The customer at ``phone`` (E.164) sends ``text`` to the shop."""
        self._modems[0].deliver(phone, text)
        self._add(phone, "in", self._mask(text, phone) or text, self._modems[0].modem_id)

    def conversation(self, phone: str) -> list[SimEntry]:
        """What the simulated phone shows, oldest first."""
        return list(self._phones.get(phone, ()))

    def _submitted(self, record: SubmittedSms) -> None:
        phone = phones.normalize(record.decoded.destination.number, self._region)
        if phone is None:
            return
        concat = record.decoded.concat
        if concat is None:
            self._add(phone, "out", record.decoded.text, record.modem_id)
            return
        key = (phone, concat.reference, concat.total)
        parts = self._parts.setdefault(key, {})
        parts[concat.sequence] = record.decoded.text
        if len(parts) == concat.total:
            del self._parts[key]
            self._add(phone, "out", "".join(parts[i] for i in sorted(parts)), record.modem_id)
        elif len(self._parts) > KEEP_PHONES:  # parts that never complete must not pile up
            self._parts.pop(next(iter(self._parts)))

    def _add(self, phone: str, direction: str, text: str, modem_id: str) -> None:
        self._seq += 1
        log = self._phones.pop(phone, None) or deque(maxlen=KEEP_MESSAGES)
        log.append(SimEntry(self._seq, direction, text, self._clock(), modem_id))
        self._phones[phone] = log  # most recently used last
        while len(self._phones) > KEEP_PHONES:
            self._phones.popitem(last=False)
        self._on_change()
