"""What a campaign text costs before it is sent: SMS parts, GSM-7 or UCS-2 (and the character
that forces UCS-2), personalised per recipient. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..sms.compose import count_parts
from ..sms.gsm7 import first_non_gsm7

FIELD = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class TextSize:
    """One text's size on the air."""

    parts: int
    encoding: str  # "GSM-7" or "UCS-2"
    ucs2_because: str | None  # the first character GSM-7 cannot carry


def size(text: str) -> TextSize:
    """Parts and encoding of ``text`` as the modems will send it."""
    culprit = first_non_gsm7(text)
    return TextSize(count_parts(text), "GSM-7" if culprit is None else "UCS-2", culprit)


def render(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``{field}`` replaced; unknown fields stay as typed (never an error: the
    owner types these by SMS)."""
    return FIELD.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


@dataclass(frozen=True)
class Preview:
    """A campaign before it starts."""

    recipients: int
    parts_each: TextSize  # of the template with the longest personalisation
    total_parts: int
    cost: float
    sample: str

    def describe(self) -> str:
        """One line for the CLI, the web page and the owner's SMS."""
        why = f" (UCS-2 because of {self.parts_each.ucs2_because!r})" if self.parts_each.ucs2_because else ""
        rupiah = f"{round(self.cost):,}".replace(",", ".")
        return (f"{self.recipients} recipients, {self.parts_each.parts} SMS part(s) each, "
                f"{self.parts_each.encoding}{why}, {self.total_parts} parts, about Rp{rupiah}")


def preview(texts: list[str], tariff: float, template: str = "") -> Preview:
    """Size every recipient's own (rendered) text; ``template`` is shown when there is nobody."""
    sizes = [size(t) for t in texts] or [size(template)]
    worst = max(sizes, key=lambda s: (s.parts, s.encoding == "UCS-2"))
    total = sum(s.parts for s in sizes) if texts else 0
    return Preview(len(texts), worst, total, total * tariff, texts[0] if texts else template)
