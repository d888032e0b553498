"""Find products by what a customer typed: code, name or alias, with typo tolerance (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from .models import Product

CUTOFF = 70.0  # below this a guess is noise
CLEAR_WIN = 85.0  # a fuzzy match this good, well ahead of the next, is taken without asking
MARGIN = 8.0
NEAR_EXACT, NEAR_EXACT_MARGIN = 95.0, 5.0  # one typo in a long name: a smaller lead is enough


@dataclass(frozen=True)
class Match:
    """A candidate product and how well it matched (100 = exact)."""

    product: Product
    score: float


def normalize(text: str) -> str:
    """Lower case, punctuation to spaces, one space between words."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def find(query: str, products: list[Product], limit: int = 3) -> list[Match]:
    """Best matches first; an exact code, name or alias comes alone with score 100."""
    q = normalize(query)
    if not q:
        return []
    for p in products:
        if q == p.code.lower() or q == normalize(p.name) or q in (normalize(a) for a in p.aliases):
            return [Match(p, 100.0)]
    keys: list[str] = []
    owners: list[Product] = []
    for p in products:
        for key in (p.name, *p.aliases):
            keys.append(normalize(key))
            owners.append(p)
    best: dict[int, Match] = {}
    for _, score, index in process.extract(q, keys, scorer=fuzz.WRatio, limit=20, score_cutoff=CUTOFF):
        product = owners[index]
        if product.id not in best or best[product.id].score < score:
            best[product.id] = Match(product, score)
    return sorted(best.values(), key=lambda m: (-m.score, m.product.name))[:limit]


def resolve(query: str, products: list[Product]) -> tuple[Product | None, list[Product]]:
    """(the product meant, or None with the candidates to suggest)."""
    matches = find(query, products)
    if not matches:
        return None, []
    top = matches[0]
    runner_up = matches[1].score if len(matches) > 1 else 0.0
    lead = top.score - runner_up
    if top.score == 100.0 or (top.score >= CLEAR_WIN and lead >= MARGIN) or (
            top.score >= NEAR_EXACT and lead >= NEAR_EXACT_MARGIN):
        return top.product, []
    return None, [m.product for m in matches]
