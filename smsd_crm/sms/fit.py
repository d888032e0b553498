"""Reply text that fits one SMS (pure): values made writable in GSM-7, clipped and listed to fit.

One SMS carries 160 GSM-7 septets (an extension character such as ``€`` or ``[`` takes two), but
only 70 characters once a single character outside GSM-7 is in it: a reply echoing a customer's
``Siti 🌸`` would cost two SMS. :func:`to_gsm7` transliterates what it can (accents, curly quotes,
fullwidth letters, ``…``) and drops what it cannot (emoji, other scripts); :func:`clip` and
:func:`fit_items` keep a value or a list within the room a template leaves. ``PluginContext.text``
renders every reply through :func:`render_reply`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import PduError
from . import gsm7
from .compose import PART_GSM7, PART_UCS2, SINGLE_GSM7, SINGLE_UCS2, count_parts

MORE = "..."  # what a cut value ends with; "…" is not GSM-7
MORE_ITEMS = {"id": "dll", "en": "etc"}  # the last "item" of a cut list, by language (else MORE)

# Characters NFKD leaves alone (or turns into something still not GSM-7) that have an obvious spelling.
_SPELLING = {
    "‘": "'", "’": "'", "‚": ",", "‛": "'", "′": "'", "`": "'", "´": "'", "‹": "'", "›": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "⁄": "/", "•": "-", "·": ".",
    "ç": "c", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "ı": "i", "œ": "oe", "Œ": "OE",
    "þ": "th", "Þ": "Th", "ð": "d", "\t": " ", "\u00a0": " ",
}
_CLOSING = ",.;:!?)]}"
_OPENING = "([{"
_DROPPED = "\x00"  # stands for a dropped character until the spaces around it are tidied
_EMPTY_BRACKETS = re.compile("[([{]\x00+[)\\]}]")  # "(🌸)" leaves nothing
_GAP = re.compile(" *\x00[ \x00]*")  # dropped characters and the spaces around them


def _spell(ch: str) -> str | None:
    """``ch`` in GSM-7, or None when it cannot be written."""
    if gsm7.is_gsm7(ch):
        return ch
    if ch in _SPELLING:
        return _SPELLING[ch]
    parts = [p for p in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(p)]
    spelt = "".join(p if gsm7.is_gsm7(p) else _SPELLING.get(p, _DROPPED) for p in parts)
    return spelt if spelt and _DROPPED not in spelt else None


def _tidy(match: re.Match) -> str:
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    if not before or not after or before in _OPENING or after in _CLOSING:
        return ""
    return " "


def to_gsm7(text: str) -> str:
    """``text`` in the GSM-7 alphabet: ``Café “Ibu”…`` -> ``Café "Ibu"...``; ``Siti 🌸`` -> ``Siti``.

    Accented letters GSM-7 lacks lose their accents, quotes and dashes become straight, fullwidth
    and compatibility forms become ASCII; emoji and letters of other scripts are dropped with the
    spaces they leave (``sepeda🚲 biru`` -> ``sepeda biru``, ``(🌸)`` -> nothing). GSM-7 text is
    returned unchanged.
    """
    if gsm7.is_gsm7(text):
        return text
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        spelt = _spell(ch)
        if spelt is not None:
            out.append(spelt)
        elif unicodedata.category(ch) in ("Mn", "Me", "Cf"):  # joiners, variation selectors: no trace
            continue
        else:
            out.append(_DROPPED)
    return _GAP.sub(_tidy, _EMPTY_BRACKETS.sub(_DROPPED, "".join(out)))


def _writable(value: Any) -> str:
    """A field value in GSM-7; ``?`` when something was typed but none of it can be written."""
    text = str(value)
    return to_gsm7(text) or ("?" if text.strip() else "")


def septets(text: str) -> int:
    """The septets ``text`` takes in GSM-7 (extension characters count two). KeyError if not GSM-7."""
    return len(gsm7.encode(text))


def fits_one_sms(text: str) -> bool:
    """Whether ``text`` goes out as a single SMS (160 septets in GSM-7, 70 characters otherwise)."""
    return count_parts(text) == 1


def clip(text: str, limit: int) -> str:
    """``text`` in GSM-7 and at most ``limit`` septets, ending in ``...`` when it had to be cut
    (after a whole word when one ends near the limit)."""
    text = to_gsm7(str(text))
    if septets(text) <= limit:
        return text
    return _head(text, max(limit - len(MORE), 0), septets) + MORE


def _head(text: str, room: int, cost: Callable[[str], int]) -> str:
    """The start of ``text`` that costs at most ``room`` (``cost`` per character), ending on a whole
    word when one ends near there, without trailing punctuation (``text`` costs more than ``room``)."""
    used, cut = 0, 0
    for cut, ch in enumerate(text):
        used += cost(ch)
        if used > room:
            break
    head = text[:cut]
    if (space := head.rfind(" ")) > 0 and space > len(head) - 12:  # end on a whole word when one is near
        head = head[:space]
    return head.rstrip(" ,;:-")


def clip_parts(text: str, parts: int) -> str:
    """``text`` as it is when it costs at most ``parts`` SMS (``parts`` >= 1); else cut to fit them,
    ending in ``...``: in GSM-7 (153 septets a part, 160 for one) when it is GSM-7, else in UCS-2 (67
    UTF-16 units a part, 70 for one), so that a reply in another script keeps its words."""
    try:
        if count_parts(text) <= parts:
            return text
    except PduError:  # more parts than an SMS can have: cut all the same
        pass
    if gsm7.is_gsm7(text):
        return clip(text, SINGLE_GSM7 if parts == 1 else parts * PART_GSM7)
    room = (SINGLE_UCS2 if parts == 1 else parts * PART_UCS2) - len(MORE)
    head = _head(text, room, lambda ch: 2 if ord(ch) > 0xFFFF else 1)
    while head and count_parts(head + MORE) > parts:  # a part never splits a character
        head = head[:-1].rstrip(" ,;:-")
    return head + MORE


def fit_items(render: Callable[[str], str], items: Sequence[str], sep: str = ", ", more: str = MORE) -> str:
    """The most of ``items`` (joined by ``sep``, then ``more``) with which ``render(value)`` is one SMS.

    When even the first item does not fit, it is clipped. When the rest of the text alone is
    longer than one SMS nothing is gained by cutting, so every item is kept.
    """
    items = [_writable(i) for i in items]
    whole = sep.join(items)
    if fits_one_sms(render(whole)) or not fits_one_sms(render(more)):
        return whole
    for keep in range(len(items) - 1, 0, -1):
        value = sep.join([*items[:keep], more])
        if fits_one_sms(render(value)):
            return value
    first = items[0]
    for limit in range(septets(first) - 1, len(MORE), -1):
        value = clip(first, limit)
        if fits_one_sms(render(value)):
            return value
    return more


@dataclass(frozen=True)
class Listing:
    """A list for one field of a reply: ``PluginContext.text`` keeps as many ``items`` as fit one
    SMS with the rest of the reply, joined by ``sep``, and ends with ``dll`` / ``etc`` (the
    reply's language) when some are left out. A plain list or tuple is a Listing joined by ``", "``."""

    items: Sequence[Any]
    sep: str = ", "


class _KeepUnknown(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"  # an unknown placeholder stays visible instead of crashing a reply


def render_reply(template: str, values: dict[str, Any], language: str = "") -> str:
    """``template`` with its fields filled: every value made GSM-7 (:func:`to_gsm7`; a value with
    nothing writable left shows as ``?``), lists (:class:`Listing`, list, tuple) fitted to one SMS
    in the order they appear, ending in the ``language``'s word for "and more" when cut; an
    unknown ``{field}`` stays as typed."""
    more = MORE_ITEMS.get(language, MORE)
    fixed: dict[str, Any] = {}
    lists: dict[str, Listing] = {}
    for key, value in values.items():
        if isinstance(value, (list, tuple)):
            value = Listing(value)
        if isinstance(value, Listing):
            lists[key] = value
            fixed[key] = more
        elif isinstance(value, (int, float)):
            fixed[key] = value  # digits are GSM-7; a number keeps its format spec ({total:,})
        else:
            fixed[key] = _writable(value)
    for key, listing in lists.items():
        fixed[key] = fit_items(lambda v: template.format_map(_KeepUnknown(fixed, **{key: v})),
                               listing.items, listing.sep, more)
    return template.format_map(_KeepUnknown(fixed))
