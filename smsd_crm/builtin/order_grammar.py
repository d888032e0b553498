"""What follows PESAN: items and quantities (pure).

``beras 2, minyak goreng 1`` / ``B01*2;G02*1`` / ``PESAN#B01#2#G02#1`` /
``pesan 2 beras gula x3`` / ``telur 2kg`` (a unit after the number is the unit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A litre figure ("2L") belongs to a product name (Minyak Goreng 2L), so litres are no unit here.
_QTY = re.compile(r"^(?:x\s*)?(-?\d+)\s*(?:x|pcs|pc|bh|buah|biji|bks|bungkus|kg|btl|botol|"
                  r"dus|karung|kaleng|sak|ikat|renceng|tabung|galon)?$", re.IGNORECASE)
_WORDS = {w: i for i, w in enumerate(
    "nol satu dua tiga empat lima enam tujuh delapan sembilan sepuluh".split())}
_WORDS.update({w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())})
_TOKEN = re.compile(r"[^\s#*.,;:]+")
MAX_ITEMS = 20


@dataclass(frozen=True)
class ItemRequest:
    """One item as typed: ``query`` names the product; ``quantity`` None means not a number."""

    query: str
    quantity: int | None
    raw_quantity: str = ""


def _quantity(token: str) -> int | None | bool:
    """An int for a quantity token, False if the token is not a quantity at all."""
    m = _QTY.match(token)
    if m is None:
        return _WORDS.get(token.lower(), False)
    return int(m.group(1))


def _walk(tokens: list[str]) -> list[ItemRequest]:
    items: list[ItemRequest] = []
    name: list[str] = []
    pending: tuple[int, str] | None = None  # a quantity typed before its name ("2 beras")
    for token in tokens:
        q = _quantity(token)
        if q is False:
            name.append(token)
            continue
        if name:
            items.append(ItemRequest(" ".join(name), q, token))
            name = []
        elif pending is None:
            pending = (q, token)
        else:  # two numbers in a row: the first stays a quantity without a name
            items.append(ItemRequest("", pending[0], pending[1]))
            pending = (q, token)
    if name:
        qty, raw = pending if pending else (1, "")
        items.append(ItemRequest(" ".join(name), qty, raw))
    elif pending is not None:
        items.append(ItemRequest("", pending[0], pending[1]))
    return items


def _prefix_quantities(tokens: list[str]) -> list[ItemRequest] | None:
    """``2 beras 1 gula``: every item starts with its quantity. None if the text is not like that."""
    if not tokens or _quantity(tokens[0]) is False:
        return None
    items, qty, raw, name = [], None, "", []
    for token in tokens:
        q = _quantity(token)
        if q is not False:
            if name:
                items.append(ItemRequest(" ".join(name), qty, raw))
            elif qty is not None:
                return None
            qty, raw, name = q, token, []
        else:
            name.append(token)
    if not name:
        return None
    items.append(ItemRequest(" ".join(name), qty, raw))
    return items


def parse_items(rest: str) -> list[ItemRequest]:
    """Items in typed order. Chunks split on ``,`` and ``;``; inside one, words before a number are its name."""
    rest = re.sub(r"(?<=\d)\s*[xX]\s*(?=\d)", " x", rest)  # "B01x2" keeps working
    rest = re.sub(r"(?<=[A-Za-z])\*(?=\d)", " ", rest)
    items: list[ItemRequest] = []
    for chunk in re.split(r"[,;]", rest):
        tokens = _TOKEN.findall(chunk)
        if not tokens:
            continue
        items.extend(_prefix_quantities(tokens) or _walk(tokens))
    return items[:MAX_ITEMS + 1]
