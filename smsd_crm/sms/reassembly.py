"""Join the parts of concatenated SMS (pure, with an injectable clock).

Parts are keyed by (sender, reference, total, reference width). Out-of-order and
duplicated parts are fine. A part is a duplicate only when it is identical to one
already held (the same PDU read twice); a sender that reuses a reference while an
earlier message with it is incomplete sends a *different* part with a sequence
number already held, which goes to another group under the same key. A group that
stays incomplete past ``timeout`` seconds is given up as it is, marked incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from . import gsm7
from .pdu import GSM7, UCS2, Deliver

GroupKey = tuple[str, int, int, int]
Slot = tuple[str, int]  # (memory, index) of a storage slot on the modem
GAP = "[...]"  # where a part never arrived, so staff see that something is missing


@dataclass
class Group:
    """The parts of one long message seen so far, with the storage slots that hold them."""

    first_seen: float
    parts: dict[int, Deliver] = field(default_factory=dict)
    slots: dict[Slot, str] = field(default_factory=dict)  # slot -> the PDU it held

    @property
    def indices(self) -> set[int]:
        """The storage indices of the slots."""
        return {index for _, index in self.slots}

    def text(self) -> str:
        """The joined text in sequence order; a missing part shows as ``[...]``."""
        first = self.parts[min(self.parts)]
        total = first.concat.total if first.concat else len(self.parts)
        return join_text([self.parts.get(i) for i in range(1, max(total, max(self.parts)) + 1)])


def join_text(parts: Sequence[Deliver | None]) -> str:
    """The text of a long message from its parts in sequence order; None is a missing part.

    TS 23.040 §9.2.3.24.1 cuts the user data of a long message into parts, and senders cut it
    anywhere: between the two UTF-16 code units of a surrogate pair (an emoji), or after the ESC
    (0x1B) that starts a GSM-7 extension character (TS 23.038 §6.2.1.1). Adjacent parts in one
    alphabet are therefore joined as units (UCS-2 octets, GSM-7 septets) and decoded once;
    8-bit parts are joined as text. A missing part shows as ``[...]``; half a pair or a lone
    ESC beside it decodes as U+FFFD or a space.
    """
    pieces: list[str] = []
    run: list[Deliver] = []
    for part in parts:
        if run and (part is None or part.encoding != run[0].encoding):
            pieces.append(_decode_run(run))
            run = []
        if part is None:
            pieces.append(GAP)
        else:
            run.append(part)
    if run:
        pieces.append(_decode_run(run))
    return "".join(pieces)


def _decode_run(run: list[Deliver]) -> str:
    """Adjacent parts in one alphabet as one text (parts built without their units: as text)."""
    if run[0].encoding == UCS2 and all(p.data or not p.text for p in run):
        return b"".join(p.data for p in run).decode("utf-16-be", errors="replace")
    if run[0].encoding == GSM7 and all(p.septets or not p.text for p in run):
        return gsm7.decode([s for p in run for s in p.septets])
    return "".join(p.text for p in run)


class Reassembler:
    """Collect parts until a message is complete."""

    def __init__(self, timeout: float, clock: Callable[[], float]) -> None:
        self.timeout = timeout
        self.clock = clock
        self.groups: dict[GroupKey, list[Group]] = {}  # oldest first

    def add(self, part: Deliver, index: int | None, pdu: str = "", memory: str = "SM") -> Group | None:
        """Add one part (read from ``index`` in ``memory`` as ``pdu``); return its group once complete."""
        c = part.concat
        assert c is not None
        key = (part.sender.number, c.reference, c.total, c.ref_bits)
        groups = self.groups.setdefault(key, [])
        group = _place(groups, part)
        if group is None:
            group = Group(self.clock())
            groups.append(group)
        group.parts.setdefault(c.sequence, part)
        if index is not None:
            group.slots[(memory, index)] = pdu
        if len(group.parts) < c.total:
            return None
        groups.remove(group)
        if not groups:
            del self.groups[key]
        return group

    def expired(self) -> list[Group]:
        """Remove and return the groups that waited longer than ``timeout``."""
        now = self.clock()
        out: list[Group] = []
        for key in list(self.groups):
            old = [g for g in self.groups[key] if now - g.first_seen >= self.timeout]
            out += old
            self.groups[key] = [g for g in self.groups[key] if g not in old]
            if not self.groups[key]:
                del self.groups[key]
        return out


def _place(groups: list[Group], part: Deliver) -> Group | None:
    """The group ``part`` belongs to, or None when it starts a new one.

    The group already holding this very part (a duplicate), else a group still missing its
    sequence number: the one whose time stamps are nearest (the parts of one message are
    stamped within seconds of each other), the oldest among equals.
    """
    assert part.concat is not None
    sequence = part.concat.sequence
    for group in groups:
        if group.parts.get(sequence) == part:
            return group
    free = [g for g in groups if sequence not in g.parts]
    return min(free, key=lambda g: _distance(g, part)) if free else None


def _distance(group: Group, part: Deliver) -> float:
    """Seconds between ``part``'s service centre time stamp and the nearest in ``group``."""
    gaps = [abs((p.scts - part.scts).total_seconds()) for p in group.parts.values()
            if p.scts is not None and part.scts is not None]
    return min(gaps, default=0.0)
