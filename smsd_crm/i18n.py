"""One message catalogue for every text people read: SMS replies, web pages, staff output.

A catalogue is ``{language: {name: text}}``, the shape of the SMS reply templates (``replies:`` in
config.yaml), and :func:`lookup` is the one way a text is found (the SMS side calls it through
``PluginConfig.template``). The pages' texts are ``texts.yaml`` beside this module. Numbers, money and
dates are formatted here too, the same way for every page; times follow the one time rule (``shop_time``:
a stored UTC instant is shown in the shop's zone, with ``shop_time.MONTHS``).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from .shop_time import ShopTime, for_zone
from .understanding.grammar import format_rupiah

LANGUAGES = ("id", "en")
TEXTS = Path(__file__).parent / "texts.yaml"


def pick_language(chosen: str | None, shop: str) -> str:
    """The language a person reads in: their own choice (a page's ID / EN switch, a staff command's
    ``--lang``) when it is one of ours, else the shop's (``store.language``)."""
    return chosen if chosen in LANGUAGES else shop


def lookup(table: Mapping[str, Mapping[str, str]], name: str, language: str, fallback: str = "id") -> str:
    """The text ``name`` in ``language``, else in ``fallback``, else in any language (KeyError if none)."""
    for lang in (language, fallback, *table):
        text = table.get(lang, {}).get(name)
        if text is not None:
            return text
    raise KeyError(f"no text named {name!r}")


class Catalogue:
    """Named texts per language (immutable once loaded)."""

    def __init__(self, table: Mapping[str, Mapping[str, str]], fallback: str = "id") -> None:
        self.table = {lang: dict(texts) for lang, texts in table.items()}
        self.fallback = fallback

    def text(self, name: str, language: str, /, **values: Any) -> str:
        """The text ``name`` in ``language`` with its ``{fields}`` filled in."""
        text = lookup(self.table, name, language, self.fallback)
        return text.format(**values) if values else text

    def word(self, group: str, value: Any, language: str) -> str:
        """The word for ``value`` in ``group`` (``word("state", "new", "id")`` -> ``baru``); an
        unknown value (a plugin's own state) is shown as it is."""
        try:
            return lookup(self.table, f"{group}.{value}", language, self.fallback)
        except KeyError:
            return "" if value is None else str(value)

    def names(self) -> dict[str, set[str]]:
        """Every name each language has (for tests and translators)."""
        return {lang: set(texts) for lang, texts in self.table.items()}


@cache
def catalogue() -> Catalogue:
    """The pages' catalogue (``texts.yaml``), read once."""
    return Catalogue(yaml.safe_load(TEXTS.read_text(encoding="utf-8")))


class Speaker:
    """Everything a page needs to speak one language: texts, words, numbers, money, dates."""

    def __init__(self, language: str, texts: Catalogue | None = None, *, time: ShopTime | None = None) -> None:
        self.lang = language if language in LANGUAGES else "id"
        self._texts = texts or catalogue()
        self.time = time or for_zone()  # the shop's zone (``store.time``); Asia/Jakarta if not given

    def t(self, name: str, /, **values: Any) -> str:
        """A named text (``t("welcome", name="kasir")``)."""
        return self._texts.text(name, self.lang, **values)

    def word(self, group: str, value: Any) -> str:
        """The word naming ``value`` (a state, a segment, a role ...)."""
        return self._texts.word(group, value, self.lang)

    def number(self, value: float | int, decimals: int = 0) -> str:
        """``1234567`` -> ``1.234.567`` (id) or ``1,234,567`` (en)."""
        return format_number(value, self.lang, decimals)

    def money(self, value: float | int) -> str:
        """Rupiah the Indonesian way in both languages: ``Rp1.234.567``."""
        return format_rupiah(round(value))

    def when(self, value: str | date | datetime | None, seconds: bool = False, zone: bool = False) -> str:
        """A stored instant in shop time, as the page's language writes it (``7 Mei 2026 21.03`` /
        ``7 May 2026 21:03``); a date alone (``2026-05-07``) as a day. ``zone`` adds WIB / WITA / WIT."""
        return format_when(value, self.lang, self.time, seconds=seconds, zone=zone)

    def day(self, value: str | date | datetime | None) -> str:
        """The shop's day of an instant (or a date, not converted): ``7 Mei 2026``."""
        value = _parse(value)
        return value if isinstance(value, str) else self.time.format_day(value, self.lang)

    def clock(self, value: str | datetime | None, seconds: bool = False) -> str:
        """Only the shop-time clock of an instant: ``21.03`` / ``21:03``."""
        value = _parse(value)
        if isinstance(value, str) or not isinstance(value, datetime):
            return value if isinstance(value, str) else ""
        return self.time.format_time(value, self.lang, seconds=seconds)

    def author(self, value: str | None) -> str:
        """Who wrote a note: ``customer`` -> ``pelanggan``; staff on a page or a program through the API
        (``web:kasir``, ``api:kasir-app``) -> ``staf (kasir)``."""
        value = value or ""
        if ":" in value:
            return f"{self.word('author', 'staff')} ({value.split(':', 1)[1]})"
        return self.word("author", value)

    def age(self, instant: str | datetime | None, now: datetime) -> str:
        """How long ago ``instant`` was, roughly: ``5 menit``, ``3 jam``, ``2 hari`` (``baru saja`` under a
        minute); "" for nothing."""
        value = _parse(instant)
        if not isinstance(value, datetime):
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        minutes = max(0, int((now - value).total_seconds() // 60))
        if minutes < 1:
            return self.t("age.now")
        if minutes < 60:
            return self.t("age.minutes", n=self.number(minutes))
        if minutes < 48 * 60:
            return self.t("age.hours", n=self.number(minutes // 60))
        return self.t("age.days", n=self.number(minutes // (24 * 60)))

    def functions(self) -> dict[str, Callable]:
        """The template globals: ``t``, ``word``, ``number``, ``money``, ``when``, ``day``, ``clock``."""
        return {"t": self.t, "word": self.word, "number": self.number, "money": self.money, "when": self.when,
                "day": self.day, "clock": self.clock, "author": self.author}


def format_number(value: float | int, language: str, decimals: int = 0) -> str:
    """Thousands and decimals in the language's way: id ``1.234,5``, en ``1,234.5``."""
    text = f"{value:,.{decimals}f}"
    if language == "id":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def _parse(value: str | date | datetime | None) -> str | date | datetime:
    """A date or datetime from stored ISO text; "" for nothing; other text as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
        except ValueError:
            return value
    return value


def format_when(value: str | date | datetime | None, language: str, time: ShopTime | None = None, *,
                seconds: bool = False, zone: bool = False) -> str:
    """An instant (aware, or ISO text as stored; naive means UTC) in the shop's zone ``time``:
    ``2026-05-07T14:03...`` -> ``7 Mei 2026 21.03`` (id) or ``7 May 2026 21:03`` (en) in Asia/Jakarta.
    A date alone is a calendar day and is not converted. Text that is not a date is shown as it is."""
    value = _parse(value)
    if isinstance(value, str):
        return value
    time = time or for_zone()
    if not isinstance(value, datetime):
        return time.format_day(value, language)
    return time.format(value, language, seconds=seconds, zone=zone)
