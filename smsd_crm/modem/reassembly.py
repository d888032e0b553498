"""Join the parts of concatenated SMS (pure, with an injectable clock).

Parts are keyed by (sender, reference, total, reference width). Out-of-order and
duplicated parts are fine; a group that stays incomplete past ``timeout``
seconds is given up as it is, marked incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .pdu import Deliver

GroupKey = tuple[str, int, int, int]
GAP = "[...]"  # where a part never arrived, so staff see that something is missing


@dataclass
class Group:
    """The parts of one long message seen so far, with their SIM storage indices."""

    first_seen: float
    parts: dict[int, Deliver] = field(default_factory=dict)
    indices: set[int] = field(default_factory=set)

    def text(self) -> str:
        """The joined text in sequence order; a missing part shows as ``[...]``."""
        first = self.parts[min(self.parts)]
        total = first.concat.total if first.concat else len(self.parts)
        return "".join(self.parts[i].text if i in self.parts else GAP
                       for i in range(1, max(total, max(self.parts)) + 1))


class Reassembler:
    """Collect parts until a message is complete."""

    def __init__(self, timeout: float, clock: Callable[[], float]) -> None:
        self.timeout = timeout
        self.clock = clock
        self.groups: dict[GroupKey, Group] = {}

    def add(self, part: Deliver, index: int | None) -> Group | None:
        """Add one part; return the whole group once every part is present."""
        c = part.concat
        assert c is not None
        key = (part.sender.number, c.reference, c.total, c.ref_bits)
        group = self.groups.setdefault(key, Group(self.clock()))
        group.parts.setdefault(c.sequence, part)
        if index is not None:
            group.indices.add(index)
        if len(group.parts) >= c.total:
            return self.groups.pop(key)
        return None

    def expired(self) -> list[Group]:
        """Remove and return the groups that waited longer than ``timeout``."""
        now = self.clock()
        keys = [k for k, g in self.groups.items() if now - g.first_seen >= self.timeout]
        return [self.groups.pop(k) for k in keys]
