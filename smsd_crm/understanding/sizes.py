"""Turn "2 kg" or "2 liter" into a number of the catalogue's packs (pure).

A product's size is data: written in its name as shops do (``Gula Pasir 1kg``,
``Minyak Goreng 2L``, ``Bawang Merah 1/4kg``), or, with no size in the name, one of
its unit when the unit is a measure (sold per ``kg``). Products whose names differ
only by their size are sizes of one product (``Minyak Goreng 2L`` / ``1L``).

``choose`` counts packs: ``gula 2 kg`` -> 2 x the 1 kg pack; ``minyak 2 liter`` -> 1 x the
2 L pouch (an exact size wins); ``beras 10 kg`` -> 2 x the 5 kg sack (its only size). When
the product comes in several sizes and none is exact (``minyak 3 liter``: 3 x 1 L, or 2 L +
1 L?), or the amount cannot be made, it asks back instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ..models import Product
from .items import Measure
from .lexicon import FIXED_SIZE_PACKS, Lexicon

_SIZE = re.compile(r"(?<![\w/])(\d+(?:[.,]\d+)?|\d+/\d+)\s*([a-zA-Z]+)\b")


def product_size(product: Product, lexicon: Lexicon) -> Measure | None:
    """The pack size of ``product``: the last measure in its name, else 1 of a measure unit, else None."""
    found = None
    for number, word in _SIZE.findall(product.name):
        unit = lexicon.units.get(word.lower())
        if unit is not None and unit[0] != "count":
            amount = float(Fraction(number.replace(",", "."))) if "/" in number else float(number.replace(",", "."))
            found = Measure(unit[0], amount * unit[1])
    if found is not None:
        return found
    unit = lexicon.units.get(product.unit.lower())
    return Measure(unit[0], unit[1]) if unit is not None and unit[0] != "count" else None


def base_name(product: Product) -> str:
    """The name without its size: ``Minyak Goreng 2L`` -> ``minyak goreng``."""
    return " ".join(_SIZE.sub(" ", product.name).lower().split())


def size_text(size: Measure) -> str:
    """``Measure("ml", 2000)`` -> ``2L``; ``Measure("g", 250)`` -> ``250g``."""
    big = {"g": ("kg", 1000), "ml": ("L", 1000)}[size.dimension]
    if size.amount >= big[1]:
        value = size.amount / big[1]
        return f"{value:g}{big[0]}"
    return f"{size.amount:g}{'g' if size.dimension == 'g' else 'ml'}"


@dataclass(frozen=True)
class Packs:
    """``quantity`` packs of ``product`` make the amount asked for."""

    product: Product
    quantity: int


@dataclass(frozen=True)
class AskSize:
    """The amount cannot be made, or can be made more than one way: ask which ``options`` (sizes)."""

    options: tuple[Product, ...]


def _count(amount: float, size: Measure) -> int | None:
    ratio = amount / size.amount
    return int(round(ratio)) if abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1 else None


def choose(measure: Measure, resolved: Product, products: list[Product], lexicon: Lexicon) -> Packs | AskSize:
    """How many packs of which size of ``resolved`` make ``measure``.

    ``products`` is the catalogue (its other sizes of the same product are considered).
    """
    base = base_name(resolved)
    variants = [p for p in products if p.id == resolved.id or base_name(p) == base]
    sized = [(p, s) for p in variants if (s := product_size(p, lexicon)) is not None
             and s.dimension == measure.dimension]
    exact = [p for p, s in sized if abs(s.amount - measure.amount) < 1e-9]
    if any(p.id == resolved.id for p in exact):
        return Packs(resolved, 1)
    if len(exact) == 1:
        return Packs(exact[0], 1)
    fixed = lexicon.pack_group(resolved.unit) in FIXED_SIZE_PACKS  # "gas 12 kg" is another cylinder
    if not exact and len(sized) == 1 and not fixed:  # one size only: as many packs as make the amount
        n = _count(measure.amount, sized[0][1])
        if n is not None:
            return Packs(sized[0][0], n)
    return AskSize(tuple(p for p, _ in sized) or (resolved,))


def wrong_pack(unit_typed: str | None, product: Product, lexicon: Lexicon) -> bool:
    """The customer counted in a kind of pack the product is not sold in: ``aqua 2 dus`` for a bottle,
    ``telor 10 butir`` for eggs sold by the kg. Plain counts (``pcs``, ``x``) always fit."""
    if unit_typed is None:
        return False
    typed = lexicon.pack_group(unit_typed)
    if typed is None:
        return False
    sold = lexicon.pack_group(product.unit)
    if sold is not None:
        return sold != typed
    # sold by a measure (kg, liter): a bag or a sack of it is fine, single pieces are not
    return typed == "butir" and lexicon.units.get(product.unit.lower(), ("count", 0))[0] != "count"
