"""What follows PESAN: items, quantities and units, as customers write them (pure).

``beras 2, minyak goreng 1`` / ``B01*2;G02*1`` / ``PESAN#B01#2#G02#1`` / ``2 karung beras`` /
``gula 2 kg sama telor sekilo`` / ``odol 2 dan sampo 1 ya kak 🙏``.

Items are separated by ``,`` ``;`` a new line or a joining word (``sama``, ``dan``); inside
one, words before or after a number are its name. A unit after the number is read as a
unit, never as a product: ``kg``, ``liter`` are measures (``Measure``, converted against
the catalogue's sizes by ``sizes.choose``), ``karung``, ``bungkus``, ``pcs`` count the
catalogue's own unit. Filler words (``tolong``, ``ya``, ``kak``) are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .lexicon import NAME_NUMBERS, Lexicon
from .normalize import clean, fold

MAX_ITEMS = 20
MAX_DIGITS = 9  # longer numbers are read as "not a valid quantity"
_NUMBER = re.compile(r"^(?:x)?(-?\d+(?:/\d+)?)(?:x)?([a-z]*)$")
_SEPARATORS = re.compile(r"[,;:\n]+")
_TOKEN = re.compile(r"[^\s#*.,;:!?()\"]+")


@dataclass(frozen=True)
class Measure:
    """An amount in base units: ``dimension`` ``"g"`` (grams) or ``"ml"`` (millilitres)."""

    dimension: str
    amount: float


@dataclass(frozen=True)
class ItemRequest:
    """One item as typed.

    ``query`` names the product; ``quantity`` counts the catalogue's unit (None when what was
    typed is not a number, or when ``measure`` says how much instead); ``raw_quantity`` is the
    quantity as typed, for error replies; ``size`` the pack size asked for, if any.
    """

    query: str
    quantity: int | None
    raw_quantity: str = ""
    measure: Measure | None = None
    size: Measure | None = None  # a pack size named with the item ("minyak yg 2 liter 3"): which pack
    unit: str | None = None  # the count word typed ("karung", "dus"), folded


@dataclass(frozen=True)
class _Qty:
    count: float | None  # None with a measure
    measure: Measure | None
    raw: str
    size: Measure | None = None
    unit: str | None = None


def _unit_amount(word: str, lexicon: Lexicon) -> tuple[str, float] | None:
    """(dimension, base amount) for a measure word, ("count", n) for a count word, else None."""
    word = lexicon.expand(word)
    if word in lexicon.units:
        return lexicon.units[word]
    if word in lexicon.count_units:
        return ("count", 1)
    return None


def _with_unit(n: float | None, unit: tuple[str, float], raw: str, word: str | None = None) -> _Qty:
    dim, size = unit
    if n is None:
        return _Qty(None, None, raw, unit=word)
    if dim == "count":
        return _Qty(n * size, None, raw, unit=word)
    return _Qty(None, Measure(dim, n * size), raw)


def _quantity(token: str, lexicon: Lexicon) -> _Qty | None:
    """A quantity token (``2``, ``x2``, ``2x``, ``2kg``, ``dua``, ``sekilo``, ``1/2``), else None."""
    word = lexicon.expand(fold(token)) if not token.startswith("-") else token.lower()
    if word in lexicon.numbers:
        return _Qty(lexicon.numbers[word], None, token)
    if word.startswith("se") and (unit := _unit_amount(word[2:], lexicon)) is not None:
        return _with_unit(1, unit, token, word[2:])  # sekilo, sebungkus, selusin
    if re.fullmatch(r"\d+-\d+[a-z]*", word):  # "2-3 karung": a range, ask which
        return _Qty(None, None, token)
    m = _NUMBER.match(word)
    if m is None:
        return None
    digits = m.group(1)
    if len(digits) > MAX_DIGITS:  # "gula 999...9": not a quantity anyone orders; never a float overflow
        return _Qty(None, None, token[:MAX_DIGITS + 3])
    if "/" in digits:
        top, _, bottom = digits.partition("/")
        if int(bottom) == 0:  # "1/0"
            return _Qty(None, None, token)
        n: float = float(Fraction(int(top.lstrip("-") or 0), int(bottom))) * (-1 if top.startswith("-") else 1)
    else:
        n = int(digits)
    suffix = m.group(2)
    if not suffix:
        return _Qty(n, None, token)
    unit = _unit_amount(suffix, lexicon)
    return _with_unit(n, unit, token, suffix) if unit is not None else None


def _numbers_in_words(tokens: list[str], lexicon: Lexicon) -> list[str]:
    """``dua belas`` -> ``12``, ``dua puluh lima`` -> ``25``, ``seratus`` -> ``100`` (as digits)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        word = fold(tokens[i])
        value = {"sebelas": 11, "sepuluh": 10, "seratus": 100}.get(word, lexicon.numbers.get(word))
        if isinstance(value, int) and i + 1 < len(tokens) and fold(tokens[i + 1]) in ("belas", "puluh", "ratus"):
            value = {"belas": value + 10, "puluh": value * 10, "ratus": value * 100}[fold(tokens[i + 1])]
            i += 1
            nxt = lexicon.numbers.get(fold(tokens[i + 1])) if i + 1 < len(tokens) else None
            if isinstance(nxt, int) and 0 < nxt < 10 and value % 10 == 0:  # "dua puluh lima"
                value += nxt
                i += 1
            out.append(str(value))
        elif word == "seratus":
            out.append("100")
        else:
            out.append(tokens[i])
        i += 1
    return out


def _merge_unit(q: _Qty, token: str, lexicon: Lexicon) -> _Qty | None:
    """``2`` followed by ``kg``/``karung``: one quantity with its unit."""
    if q.count is None:
        return None
    unit = _unit_amount(fold(token), lexicon)
    return _with_unit(q.count, unit, f"{q.raw} {token}", fold(token)) if unit is not None else None


def _request(name: list[str], q: _Qty | None) -> ItemRequest:
    if q is None:
        return ItemRequest(" ".join(name), 1, "")
    if q.measure is not None:
        return ItemRequest(" ".join(name), None, q.raw, q.measure)
    count = q.count
    whole = int(count) if count is not None and float(count).is_integer() else None
    return ItemRequest(" ".join(name), whole, q.raw, size=q.size, unit=q.unit)


def _chunk(tokens: list[str], lexicon: Lexicon, keep: frozenset[str], after_items: bool) -> list[ItemRequest]:
    """Items of one chunk: a quantity belongs to the name before it, or after it when it comes first."""
    parts: list[str | _Qty] = []
    for token in _numbers_in_words(tokens, lexicon):
        q = _quantity(token, lexicon)
        if q is not None and parts and isinstance(parts[-1], str) and fold(parts[-1]) in NAME_NUMBERS:
            parts.append(token)  # "Teh Celup isi 25": the number belongs to the name
            continue
        # "2 kg", "1 galon"; a unit that is also a product's word ("galon") is a unit only after a name
        if q is None and parts and isinstance(parts[-1], _Qty) and \
                (fold(token) not in keep or any(isinstance(p, str) for p in parts)):
            merged = _merge_unit(parts[-1], token, lexicon)
            if merged is not None:
                parts[-1] = merged
                continue
        if q is not None:
            parts.append(q)
            continue
        word = fold(token)
        if word not in keep:
            word = lexicon.expand(word)
            if word in lexicon.trailers and (parts or after_items):
                break  # "utk besok ya", "anter ke Gg. Mawar 5": talk after the items, not an item
            if word in lexicon.fillers or word in lexicon.joiners:
                continue
            if lexicon.is_unit(word):
                continue  # a unit word with no number ("PESAN liter") names no product
            parts.append(lexicon.synonyms.get(word, token))
        else:
            parts.append(token)
    # "3 minyak goreng 1L": a count first, a size after the name
    if len(parts) >= 3 and isinstance(parts[0], _Qty) and parts[0].measure is None and isinstance(parts[-1], _Qty) \
            and parts[-1].measure is not None and all(isinstance(p, str) for p in parts[1:-1]):
        first, size = parts[0], parts[-1]
        parts = [_Qty(first.count, None, first.raw, size=size.measure, unit=first.unit), *parts[1:-1]]
    # A size named before the quantity ("minyak goreng 2L 1", "minyak yg 2 liter 2 pcs") says which pack.
    for i in range(1, len(parts) - 1):
        here, after = parts[i], parts[i + 1]
        if isinstance(here, _Qty) and here.measure is not None and isinstance(after, _Qty) \
                and after.measure is None and isinstance(parts[i - 1], str):
            parts[i + 1] = _Qty(after.count, None, after.raw, size=here.measure)
            parts[i] = None  # type: ignore[call-overload]
    parts = [p for p in parts if p is not None]
    if parts and isinstance(parts[0], _Qty):
        prefixed = _walk(parts, prefix=True)
        if prefixed and prefixed[-1].query:  # "2 beras 1 gula"; else the numbers follow their names
            return prefixed
    return _walk(parts, prefix=False)


def _walk(parts: list[str | _Qty], prefix: bool) -> list[ItemRequest]:
    items: list[ItemRequest] = []
    name: list[str] = []
    pending: _Qty | None = None  # a quantity typed before its name ("2 beras")
    for part in parts:
        if isinstance(part, str):
            name.append(part)
            continue
        if prefix:  # every item starts with its quantity
            if name or pending is not None:
                items.append(_request(name, pending))
            name, pending = [], part
        elif name:
            items.append(_request(name, part))
            name = []
        elif pending is None:
            pending = part
        else:  # two numbers in a row: the first stays a quantity without a name
            items.append(_request([], pending))
            pending = part
    if name or pending is not None:
        items.append(_request(name, pending))
    return items


def parse_items(rest: str, lexicon: Lexicon | None = None, keep: frozenset[str] = frozenset()) -> list[ItemRequest]:
    """Items in typed order (at most ``MAX_ITEMS + 1``, so a caller can tell "too many").

    ``keep`` holds words of the catalogue's product names, never dropped as fillers or units.
    """
    lexicon = lexicon or Lexicon()
    keep = frozenset(w for w in keep if w not in lexicon.units)  # "liter" is a measure, never a name
    rest = lexicon.replace_phrases(clean(rest))
    rest = re.sub(r"(?<=\d)\s*[xX]\s*(?=\d)", " x", rest)  # "B01x2" keeps working
    rest = re.sub(r"(?<=[A-Za-z0-9])\*(?=\d)", " ", rest)
    rest = re.sub(r"(?i)\bse-(?=\w)", "se", rest)  # "se-kilo"
    items: list[ItemRequest] = []
    for chunk in _SEPARATORS.split(rest):
        # joining words split items too: "gula 1 sama minyak 1"
        tokens: list[str] = []
        for token in _TOKEN.findall(chunk):
            if lexicon.expand(fold(token)) in lexicon.joiners and fold(token) not in keep and tokens:
                items.extend(_chunk(tokens, lexicon, keep, bool(items)))
                tokens = []
            else:
                tokens.append(token)
        if tokens:
            items.extend(_chunk(tokens, lexicon, keep, bool(items)))
    items = [i for i in items if i.query or i.raw_quantity]
    if keep and any(_names_product(i, keep) for i in items):
        # talk between the items ("buat besok pagi soalnya ada arisan", "yg 600an"): no number, no product word
        items = [i for i in items if i.raw_quantity or _names_product(i, keep)]
    return items[:MAX_ITEMS + 1]


def _names_product(item: ItemRequest, keep: frozenset[str]) -> bool:
    return any(w.lower() in keep for w in item.query.split())
