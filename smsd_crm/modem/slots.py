"""Storage slots whose delete failed after their message was committed (pure; times are passed in).

The slot must be freed eventually (a full SIM takes no new SMS), yet a modem that keeps
refusing must not hold up reading: each slot is tried again later, at growing intervals,
and only while it still holds the PDU that was committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..sms.reassembly import Slot

FIRST_RETRY = 5.0  # seconds: a busy spell is usually over by then
MAX_RETRY = 300.0


@dataclass(frozen=True, slots=True)
class Pending:
    """A slot to delete: the PDU it held when its message was committed, and when to try again."""

    pdu: str
    due: float
    delay: float


def _same(a: str, b: str) -> bool:
    return a.strip().upper() == b.strip().upper()


class Undeleted:
    """The slots to delete again later, each with its own backoff (5 s doubling to 5 min)."""

    def __init__(self) -> None:
        self._slots: dict[Slot, Pending] = {}

    def keep(self, slot: Slot, pdu: str, now: float) -> bool:
        """Remember ``slot`` (or put it off further); True when it was not remembered yet."""
        old = self._slots.get(slot)
        again = old is not None and _same(old.pdu, pdu)
        delay = min(old.delay * 2, MAX_RETRY) if old is not None and again else FIRST_RETRY
        self._slots[slot] = Pending(pdu, now + delay, delay)
        return not again

    def postpone(self, slot: Slot, now: float) -> None:
        """The slot could not even be read: try it again later (with a longer wait)."""
        old = self._slots.get(slot)
        if old is not None:
            self.keep(slot, old.pdu, now)

    def forget(self, slot: Slot) -> None:
        """The slot is free (deleted, or found empty or holding another message)."""
        self._slots.pop(slot, None)

    def holds(self, slot: Slot, pdu: str) -> bool:
        """Whether ``slot`` is still to be deleted and ``pdu`` is what it held: committed already."""
        pending = self._slots.get(slot)
        return pending is not None and _same(pending.pdu, pdu)

    def due(self, now: float) -> list[Slot]:
        """The slots whose next try is due."""
        return [slot for slot, p in self._slots.items() if p.due <= now]

    def next_due(self) -> float | None:
        """When the earliest next try is due; None when nothing waits."""
        return min((p.due for p in self._slots.values()), default=None)

    def __len__(self) -> int:
        return len(self._slots)
