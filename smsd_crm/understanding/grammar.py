"""Pure helpers for the SMS grammar shared by all plugins (see docs/plugins.md).

The first word is the keyword, case-insensitive, whatever punctuation surrounds
it. Fields after it are separated by space, ``#``, ``.``, ``,``, ``;`` or ``*``.
"""

from __future__ import annotations

import difflib
import re

SEPARATORS = " #.,;*"
_LEADING = re.compile(r"^[\s#.,;*:!\-_/]+")
_KEYWORD = re.compile(r"^([^\s#.,;*:]+)([\s#.,;*:]?)(.*)$", re.DOTALL)


def split_keyword(text: str) -> tuple[str, str, str]:
    """``(KEYWORD, separator, rest)``: ``"daftar#Budi#Jl. Mawar"`` -> ``("DAFTAR", "#", "Budi#Jl. Mawar")``.

    The keyword is upper-cased with trailing punctuation removed; empty for an
    empty message. The separator is the character that followed it (" " if any
    white space did).
    """
    stripped = _LEADING.sub("", text.strip())
    if not stripped:
        return ("?", "", "") if "?" in text else ("", "", "")
    m = _KEYWORD.match(stripped)
    assert m is not None
    word = m.group(1)
    if len(word) > 1:
        word = word.rstrip("!?")
    sep = " " if m.group(2).isspace() else m.group(2)
    return word.upper(), sep, m.group(3).strip()


def split_fields(rest: str, separator: str) -> list[str]:
    """Fields of ``rest`` split by ``separator`` (white space for " "), trimmed, empties dropped."""
    parts = rest.split() if separator in ("", " ") else rest.split(separator)
    return [p.strip() for p in parts if p.strip()]


def closest(word: str, candidates: list[str], cutoff: float = 0.75) -> str | None:
    """The one candidate a typo most likely meant (``PESEN`` -> ``PESAN``), or None."""
    matches = difflib.get_close_matches(word.upper(), candidates, n=2, cutoff=cutoff)
    if not matches:
        return None
    if len(matches) > 1:
        first = difflib.SequenceMatcher(None, word.upper(), matches[0]).ratio()
        second = difflib.SequenceMatcher(None, word.upper(), matches[1]).ratio()
        if first == second:
            return None  # ambiguous: better to show the menu than to guess
    return matches[0]


def format_rupiah(amount: int) -> str:
    """``15000`` -> ``Rp15.000`` (the Indonesian way)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(int(amount)):,}".replace(",", ".")


def record_number(prefix: str):
    """An argparse ``type`` for a number as pages and SMS show it: ``record_number("K")`` reads
    ``K325``, ``k325``, ``#325`` and ``325`` as 325 (a ticket ``K325``, an order ``#12``)."""
    pattern = re.compile(rf"^(?:{re.escape(prefix)}|#|No\.?)?\s*(\d{{1,18}})$", re.IGNORECASE)

    def parse(text: str) -> int:
        m = pattern.match(text.strip())
        if m is None:
            raise ValueError(text)
        return int(m.group(1))
    parse.__name__ = f"{prefix.strip('#') or 'order'} number"  # argparse names it in "invalid ... value"
    return parse


def record_id(text: str) -> int | None:
    """A record's number from a web form or a query (``"12"``), or None for anything else: ASCII
    digits only (``"²"`` is a digit to ``str.isdigit``), at most 12 of them (SQLite's integers are
    64-bit: a 20-digit id must be "no such record", not an overflow), never 0."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    return int(text) or None
