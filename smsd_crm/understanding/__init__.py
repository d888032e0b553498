"""Reading what customers text: pure functions (normalisation, intent, units, senders).

Plugins use these through the public API (``smsd_crm``) and ``ctx.lexicon``.
"""

from .items import MAX_ITEMS, ItemRequest, Measure, parse_items
from .lexicon import Lexicon
from .product_query import resolve_sized, sizes_of
from .sizes import AskSize, Packs, choose, product_size, size_text, wrong_pack

__all__ = ["MAX_ITEMS", "AskSize", "ItemRequest", "Lexicon", "Measure", "Packs", "choose", "parse_items",
           "product_size", "resolve_sized", "size_text", "sizes_of", "wrong_pack"]
