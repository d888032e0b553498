"""A product named with its size, as customers ask prices and owners set stock (pure).

``catalog_match`` reads names, codes and aliases; a size typed in words is not part of any name
(``minyak goreng 2 liter`` for ``Minyak Goreng 2L``). Here the size is read as the order plugin
reads it (``parse_items``) and chooses among the product's sizes (``sizes.choose``): the exact
size when there is one, else every size to pick from.
"""

from __future__ import annotations

from ..models import Product
from . import catalog_match
from .items import parse_items
from .lexicon import Lexicon
from .sizes import AskSize, Packs, base_name, choose, product_size


def catalogue_words(products: list[Product]) -> frozenset[str]:
    """Every word of every code, name and alias (never read as a filler or a unit)."""
    return frozenset(w for p in products for n in (p.code, p.name, *p.aliases) for w in n.lower().split())


def resolve_sized(query: str, products: list[Product], lexicon: Lexicon) -> tuple[Product | None, list[Product]]:
    """(the product meant, or None with up to three to suggest): as ``catalog_match.resolve``, and
    ``minyak goreng 2 liter`` -> the 2 L pack; ``minyak 3 liter`` (no such pack) -> None with its sizes."""
    product, suggestions = catalog_match.resolve(query, products)
    if product is not None:
        return product, []
    items = parse_items(query, lexicon, catalogue_words(products))
    if len(items) != 1 or not items[0].query:
        return None, suggestions
    item = items[0]
    size = item.size or item.measure
    named, others = catalog_match.resolve(item.query, products)
    if size is None or named is None:
        return None, suggestions or others
    pack = choose(size, named, products, lexicon)
    if isinstance(pack, Packs) and pack.quantity == 1:
        return pack.product, []
    options = pack.options if isinstance(pack, AskSize) else (pack.product,)
    return None, list(options)[:3]


def sizes_of(product: Product, products: list[Product], lexicon: Lexicon) -> list[Product]:
    """``product`` and its other sizes (the same name but for the size), ``product`` first, then the
    others from the largest down; only ``product`` when it comes in one size."""
    if product_size(product, lexicon) is None:
        return [product]
    base = base_name(product)
    others = [(p, s) for p in products if p.id != product.id and base_name(p) == base
              and (s := product_size(p, lexicon)) is not None]
    return [product] + [p for p, s in sorted(others, key=lambda ps: -ps[1].amount)]
