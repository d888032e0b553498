"""Clean an SMS before it is read, and split it into words with a comparable form (pure).

Cheap phones and chat habits put things into a text that carry no meaning for
the shop: fullwidth letters (``ＰＥＳＡＮ``), zero-width and other invisible
characters, emoji (``🙏``), letters spaced out for emphasis (``P E S A N``),
doubled letters (``makasihhh``). ``clean`` removes or folds those and keeps
everything else as typed (names and addresses keep their case); ``words``
gives each word with its lower-case form for comparison, and where it stands
in the cleaned text so that arguments can be cut out as the customer wrote them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Zero-width space/joiners, word joiner, BOM, soft hyphen, LTR/RTL marks, variation selectors.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff\ufe00-\ufe0f\u202a-\u202e]")
_SPACED = re.compile(r"(?<![^\s])((?:[A-Za-z] ){2,}[A-Za-z])(?![^\s])")  # "P E S A N" -> "PESAN"
_WORD = re.compile(r"[\w'/-]+|[?]")
# A letter repeated three times or more is emphasis ("makasihhh", "kaaak"); no Indonesian or
# English word has a letter three times in a row.
_STRETCHED = re.compile(r"([a-z])\1{2,}")


def _keep(ch: str) -> bool:
    """Letters, digits, punctuation and spaces stay; symbols (emoji, dingbats) and controls go."""
    cat = unicodedata.category(ch)
    if ch in "\n\t ":
        return True
    return not (cat.startswith("S") and ch not in "+=<>$%&@^`|~") and cat not in ("Cc", "Cf", "Co", "Cn", "Cs")


def clean(text: str) -> str:
    """``text`` folded for reading: NFKC (fullwidth -> ASCII), invisible characters and emoji
    dropped, spaced-out letters joined, runs of spaces collapsed (new lines kept as separators).

    ``"ＰＥＳＡＮ gula 1 🙏"`` -> ``"PESAN gula 1"``; ``"P E S A N beras 2"`` -> ``"PESAN beras 2"``.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = "".join(ch if _keep(ch) else " " for ch in text)
    text = _SPACED.sub(lambda m: m.group(1).replace(" ", ""), text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a cleaned text: ``raw`` as typed, ``norm`` lower case with emphasis folded,
    ``start``/``end`` its span in the cleaned text."""

    raw: str
    norm: str
    start: int
    end: int


def fold(word: str) -> str:
    """The comparable form of one word: lower case, stretched letters folded (``Kaaak`` -> ``kak``)."""
    return _STRETCHED.sub(r"\1", word.lower().strip("'-/"))


def words(cleaned: str) -> list[Word]:
    """The words of a cleaned text in order; punctuation other than ``?`` is a separator.

    ``"Pagi kak, mau pesan"`` -> Word("Pagi","pagi",0,4), Word("kak","kak",5,8), ...
    """
    out = []
    for m in _WORD.finditer(cleaned):
        norm = fold(m.group())
        if norm:
            out.append(Word(m.group(), norm, m.start(), m.end()))
    return out
