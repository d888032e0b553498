"""Secrets kept out of every stored SMS: the owner's PIN, whatever the keyword or typo (pure).

Two rules, applied before an inbound SMS is stored (so the text on the pages, in the API, in
webhooks, in the simulator's history and in the database never holds the secret):

- **From a number that holds a secret** (``PluginConfig.secret_values``: the owner's PIN from the
  owner's numbers), every group of digits equal to the secret, holding it, or one keystroke away
  from it is masked, whatever else the text says: ``LAPORAN975310``, ``LPRN 975310``,
  ``975310 laporan``, ``tolong 975 310``.
- **From any number**, a text that names a command declaring ``secret_words`` anywhere (a keyword,
  a short form, a typo, letters spaced or with a zero for an O, the word PIN) has every run of 4-12
  digits masked: the owner may write from a phone not in the list.

The stored text may lose a number; the secret is never kept. The real text stays in memory until
the plugin that declared the secret has read it (``router.py``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Mapping

from rapidfuzz.distance import Levenshtein

from .understanding.grammar import closest
from .understanding.normalize import clean

MASK = "****"
# 4 digits or more, also written with spaces, dots or dashes inside ("975 310", "97-53-10")
PIN_LIKE = re.compile(r"(?<!\d)\d(?:[ .\-]?\d){3,}(?!\d)")
# any group of digits, also split by one separator ("975 310", "97.53.10", "975/310")
DIGITS = re.compile(r"\d(?:[ .,:/_\-]?\d)*")
LEET = str.maketrans("013457", "OIEAST")  # digits typed for letters in a word
AUTOCORRECT = 0.8  # a word this close to a secret command's keyword is read as it


class Masker:
    """Masks secrets in inbound texts. ``keywords``: the words of commands that declare
    ``secret_words``; ``by_number``: E.164 number -> the secret values masked in its texts."""

    def __init__(self, keywords: Iterable[str], by_number: Mapping[str, Iterable[str]] | None = None) -> None:
        self._keywords = sorted({k.upper() for k in keywords})
        self._by_number = {phone: tuple(v for v in values if v) for phone, values in (by_number or {}).items()}

    def mask(self, text: str, phone: str | None = None) -> str | None:
        """``text`` with what could be a secret masked, or None when nothing needed masking (the text
        is then stored as received). A masked text is the cleaned form (``understanding.normalize``)."""
        values = self._by_number.get(phone or "", ())
        if not values and not self._keywords:
            return None
        cleaned = clean(text)
        masked = cleaned
        if values:
            masked = DIGITS.sub(lambda m: MASK if _near_any(_digits(m.group()), values) else m.group(), masked)
        if self._names_secret_command(cleaned):
            masked = PIN_LIKE.sub(MASK, masked)
        return masked if masked != cleaned else None

    def mask_word(self, word: str, phone: str | None = None) -> str:
        """A single stored word (the keyword column): never ``LAPORAN975310``."""
        return PIN_LIKE.sub(MASK, self.mask(word, phone) or word)

    def _names_secret_command(self, cleaned: str) -> bool:
        if not self._keywords:
            return False
        # words as letters: "LAP0RAN" (a zero for the O), "LAPORAN975310" (the PIN glued on), "P.R.O.M.O"
        joined = re.sub(r"(?<=\b[A-Z0-9])[.\-](?=[A-Z0-9]\b)", "", cleaned.upper())
        names = [re.sub(r"\d+$", "", w).translate(LEET) for w in re.findall(r"[A-Z0-9]+", joined)]
        bare = bool(re.fullmatch(r"[\d\s.\-]+", cleaned)) and len(re.sub(r"\D", "", cleaned)) >= 4
        return bare or any(n in self._keywords or n == "PIN" or _abbreviates(n, self._keywords)
                           or (len(n) >= 4 and closest(n, self._keywords, cutoff=AUTOCORRECT)) for n in names)


def _digits(group: str) -> str:
    """The digits of a group as ASCII (Arabic-Indic and other digits too), separators dropped."""
    return "".join(str(unicodedata.digit(ch)) for ch in group if ch.isdigit())


def _near_any(digits: str, values: tuple[str, ...]) -> bool:
    """The group holds a secret, or is one keystroke away from one (a mistyped PIN tells most of it)."""
    return any(v in digits or (len(digits) >= 4 and Levenshtein.distance(digits, v) <= 1) for v in values)


def _abbreviates(word: str, keywords: list[str]) -> bool:
    """``LPRN``, ``LAP``, ``STK``, ``RPT``: a short form of a keyword (its first letter, the rest in
    order), which an owner may type."""
    if len(word) < 3:
        return False
    for kw in keywords:
        if len(word) < len(kw) and word[0] == kw[0]:
            letters = iter(kw)
            if all(ch in letters for ch in word):
                return True
    return False
