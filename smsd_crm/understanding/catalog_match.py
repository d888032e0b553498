"""Find products by what a customer typed: code, name or alias, with typo tolerance (pure).

Every word typed must match a word of the product's name or an alias (rapidfuzz
ratio, so ``gorng`` finds ``goreng``); a word that matches nothing means "not
this product". That keeps ``beras banyak``, ``sugar`` or markup from turning
into a wrong order, while ``gula`` and ``minyak gorng 2L`` still find theirs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from ..models import Product

WORD_MATCH = 80.0  # how alike two words must be (one typo in a 5-letter word passes)
TYPO = 85.0  # the score of a word one edit (or one swap of neighbours) away from a name's word
SHORTHAND = 82.0  # the score of vowel-dropped shorthand (kpi -> kopi): a match, below a typo
MARGIN = 5.0  # the best candidate must lead the next by this much to be taken without asking


@dataclass(frozen=True)
class Match:
    """A candidate product and how well it matched (100 = exact)."""

    product: Product
    score: float


@lru_cache(maxsize=8192)  # product names and typed words repeat: read each once
def normalize(text: str) -> str:
    """Lower case, punctuation to spaces, one space between words."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _word_score(word: str, candidates: list[str]) -> float:
    best = 0.0
    for c in candidates:
        if word == c:
            return 100.0
        best = max(best, _pair_score(word, c))
    return best


@lru_cache(maxsize=65536)
def _pair_score(word: str, c: str) -> float:
    """How alike one typed word and one word of a name are (0-100, below 100)."""
    best = 0.0
    if len(word) >= 4 and len(c) >= 4:  # short words (1l, mie) must be exact
        best = fuzz.ratio(word, c)
        if OSA.distance(word, c, score_cutoff=1) <= 1:  # one typo, a swap included ("gual" -> "gula")
            best = max(best, TYPO)
    if _shorthand(word, c):
        best = max(best, SHORTHAND)
    return best


def _shorthand(word: str, name_word: str) -> bool:
    """SMS shorthand that drops vowels: ``kpi`` for ``kopi``, ``mnyk`` for ``minyak``, ``tlr`` for ``telur``.

    Same first letter, every typed letter in order in the name's word, at least 3 of them and at
    least 60% of its length, and no digits (``2l`` is a size, not a word).
    """
    if len(word) < 3 or len(word) >= len(name_word) or word[0] != name_word[0] or not word.isalpha():
        return False
    if len(word) < 0.6 * len(name_word):
        return False
    letters = iter(name_word)
    return all(ch in letters for ch in word)


def _cover(query_words: list[str], name: str) -> float | None:
    """How well the typed words cover ``name``; None if a typed word matches none of its words."""
    words = normalize(name).split()
    scores = [_word_score(w, words) for w in query_words]
    if min(scores) < WORD_MATCH:
        return None
    matched = sum(1 for w in words if _word_score(w, query_words) >= WORD_MATCH)
    return 0.7 * (sum(scores) / len(scores)) + 30.0 * matched / len(words)


def find(query: str, products: list[Product], limit: int = 3) -> list[Match]:
    """Best matches first; an exact code, name or alias comes alone with score 100."""
    q = normalize(query)
    if not q:
        return []
    for p in products:
        if q == p.code.lower() or q == normalize(p.name) or q in (normalize(a) for a in p.aliases):
            return [Match(p, 100.0)]
    words = q.split()
    found = []
    for p in products:
        # each name and alias, and all of them together ("gas elpiji": two aliases of one product)
        together = " ".join((p.name, *p.aliases))
        scores = [s for s in (_cover(words, n) for n in (p.name, *p.aliases)) if s is not None]
        if not scores and len(words) > 1 and (s := _cover(words, together)) is not None:
            scores = [s - 10.0]  # below a match of one name
        if scores:
            found.append(Match(p, max(scores)))
    return sorted(found, key=lambda m: (-m.score, m.product.name))[:limit]


def resolve(query: str, products: list[Product]) -> tuple[Product | None, list[Product]]:
    """(the product meant, or None with the candidates to suggest)."""
    matches = find(query, products)
    if not matches:
        return None, []
    if len(matches) == 1 or matches[0].score - matches[1].score >= MARGIN:
        return matches[0].product, []
    return None, [m.product for m in matches]
