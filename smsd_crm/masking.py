"""Secrets kept out of every stored SMS: the owner's PIN, whatever the keyword or typo (pure).

Two rules, applied before an inbound SMS is stored (so the text on the pages, in the API, in
webhooks, in the simulator's history and in the database never holds the secret):

- **From a number that holds a secret** (``PluginConfig.secret_values``: the owner's PIN from the
  owner's numbers), every group of digits that holds the secret, or a run of digits one keystroke
  away from it (a digit changed, added or left out, two neighbours swapped), is masked, whatever
  else the text says: ``LAPORAN975310``, ``LPRN 975310``, ``975310 laporan``, ``tolong 975 310``;
  in a text that names an owner command, also the first group of 4 or more digits, where the PIN
  goes, right or wrong (``PROMO 1111 Diskon``: a wrong PIN may be another secret of the owner's).
- **From any number** (the owner may write from a phone not in the list), in a text that names a
  command declaring ``secret_words`` (a keyword, a short form, a typo, letters spaced or with a
  zero for an O, the word PIN) or that is nothing but digits, the same: every group that holds a
  secret or is one keystroke from one. Nothing else: a customer's ``lapor, pesanan 8046``, ``no
  resi 88231234`` or ``STOK B01 40`` keeps its numbers, which staff need.

A *group of digits* is digits with at most ``MAX_SEPARATORS`` characters between each two that are
neither letters nor digits, or an ``x`` (``975 - 310``, ``9, 7, 5, 3, 1, 0``, ``(975)(310)``,
``97#53#10``, ``975x310``); accents on digits are dropped first. Digits further apart, or with a
word between them, are separate numbers (``stok 975 pcs, terjual 310``).

The stored text may lose a number; the secret is never kept. The real text stays in memory until
the plugin that declared the secret has read it (``router.py``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Mapping

from rapidfuzz.distance import OSA

from .understanding.grammar import closest
from .understanding.normalize import clean

MASK = "****"
MAX_SEPARATORS = 3  # characters between two digits of one group: more, and they are two numbers
# what may stand between two digits of one group: anything but a letter or a digit, or an x ("975x310")
_GAP = rf"(?:[\W_xX\u00d7]{{1,{MAX_SEPARATORS}}})"
# any group of digits: "975310", "975 310", "97.53.10", "975 - 310", "9, 7, 5, 3, 1, 0", "(975)(310)"
DIGITS = re.compile(rf"\d(?:{_GAP}?\d)*")
# 4 digits or more, in one group
PIN_LIKE = re.compile(rf"(?<!\d)\d(?:{_GAP}?\d){{3,}}(?!\d)")
LEET = str.maketrans("013457", "OIEAST")  # digits typed for letters in a word
AUTOCORRECT = 0.8  # a word this close to a secret command's keyword is read as it


class Masker:
    """Masks secrets in inbound texts. ``keywords``: the words of commands that declare
    ``secret_words``; ``by_number``: E.164 number -> the secret values masked in its texts."""

    def __init__(self, keywords: Iterable[str], by_number: Mapping[str, Iterable[str]] | None = None) -> None:
        self._keywords = sorted({k.upper() for k in keywords})
        self._by_number = {phone: tuple(v for v in values if v) for phone, values in (by_number or {}).items()}
        self._all = tuple(sorted({v for values in self._by_number.values() for v in values}))

    def mask(self, text: str, phone: str | None = None) -> str | None:
        """``text`` with what could be a secret masked, or None when nothing needed masking (the text
        is then stored as received). A masked text is the cleaned form (``understanding.normalize``),
        without accents on digits."""
        if not self._all:
            return None
        cleaned = _bare_digits(clean(text))
        values = self._by_number.get(phone or "", ())
        named = self._names_secret_command(cleaned)
        near = values or (self._all if named else ())
        if not near:
            return None
        masked = DIGITS.sub(lambda m: MASK if _near_any(_digits(m.group()), near) else m.group(), cleaned)
        if values and named:  # the owner's command: the group in the PIN's place is masked, right or wrong
            masked = PIN_LIKE.sub(MASK, masked, count=1)
        return masked if masked != cleaned else None

    def mask_word(self, word: str, phone: str | None = None, stored: str | None = None) -> str:
        """A single stored word (the keyword column): never ``LAPORAN975310``. ``stored``: the text as
        stored, when it was masked; a word it does not show (``97`` of ``97#53#10``) is ``****``."""
        masked = self.mask(word, phone) or _bare_digits(clean(word))
        if stored is not None and masked.upper() not in stored.upper():
            return MASK
        return masked

    def _names_secret_command(self, cleaned: str) -> bool:
        if not self._keywords:
            return False
        # words as letters: "LAP0RAN" (a zero for the O), "LAPORAN975310" (the PIN glued on), "P.R.O.M.O"
        joined = re.sub(r"(?<=\b[A-Z0-9])[.\-](?=[A-Z0-9]\b)", "", cleaned.upper())
        names = [re.sub(r"\d+$", "", w).translate(LEET) for w in re.findall(r"[A-Z0-9]+", joined)]
        # nothing but digits and separators: "975310", "97#53#10", "(975)(310)"
        bare = bool(PIN_LIKE.search(cleaned)) and not re.search(r"[^\W\d_]", PIN_LIKE.sub("", cleaned))
        return bare or any(n in self._keywords or n == "PIN" or _abbreviates(n, self._keywords)
                           or (len(n) >= 4 and closest(n, self._keywords, cutoff=AUTOCORRECT)) for n in names)


def _bare_digits(text: str) -> str:
    """``text`` without marks on its digits (an accent, a keycap: a combining mark after a digit is dropped),
    so that they cannot split a group."""
    out: list[str] = []
    for ch in text:
        if out and out[-1].isdigit() and unicodedata.category(ch) in ("Mn", "Mc", "Me"):
            continue
        out.append(ch)
    return "".join(out)


def _digits(group: str) -> str:
    """The digits of a group as ASCII (Arabic-Indic and other digits too), separators dropped."""
    return "".join(str(unicodedata.digit(ch)) for ch in group if ch.isdigit())


def _near_any(digits: str, values: tuple[str, ...]) -> bool:
    """The group holds a secret, or a run of its digits is one keystroke from one (a digit changed, added
    or left out, or two neighbours swapped): a mistyped PIN tells most of it."""
    return any(v in digits or _near(digits, v) for v in values)


def _near(digits: str, value: str) -> bool:
    for size in range(max(4, len(value) - 1), len(value) + 2):
        for start in range(len(digits) - size + 1):
            if OSA.distance(digits[start:start + size], value, score_cutoff=1) <= 1:
                return True
    return False


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
