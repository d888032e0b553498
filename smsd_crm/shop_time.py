"""The one time rule: instants are stored in UTC; days, months and years are counted, and every time
is shown, in the shop's time zone (``store.timezone``).

Python code converts with :class:`ShopTime`; SQL counts days with :func:`sql_day`, which needs the
functions :func:`install` puts on every connection (``Database``, ``ReadOnlyDatabase`` and the
dashboards' array loaders do it). Standard library only.

Why an offset and not a per-row function in SQL: a Python function called per row costs 2 s per
million order lines, ``date(col, '+420 minutes')`` 0.2 s. SQLite evaluates ``shop_offset()`` once per
statement (a deterministic function of constants), so a zone must keep one UTC offset: every
Indonesian zone does (WIB, WITA, WIT have had no daylight saving time since 1964); config refuses
the others.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Callable
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Jakarta"
# The month names of both languages, (Indonesian, English): the one source for pages (i18n.Speaker), CLI and SMS.
MONTHS = (("Jan", "Jan"), ("Feb", "Feb"), ("Mar", "Mar"), ("Apr", "Apr"), ("Mei", "May"), ("Jun", "Jun"),
          ("Jul", "Jul"), ("Agu", "Aug"), ("Sep", "Sep"), ("Okt", "Oct"), ("Nov", "Nov"), ("Des", "Dec"))


def fixed_offset(zone: ZoneInfo) -> timedelta | None:
    """The zone's one UTC offset since 1970 and for the years ahead, or None when it changes."""
    offsets = {datetime(year, month, 15, 12, tzinfo=timezone.utc).astimezone(zone).utcoffset()
               for year in range(1970, 2060) for month in (1, 4, 7, 10)}
    return offsets.pop() if len(offsets) == 1 else None


@dataclass(frozen=True)
class ShopTime:
    """Conversions and formats for one shop's zone."""

    zone_name: str = DEFAULT_ZONE
    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    offset: timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        zone = ZoneInfo(self.zone_name)
        offset = fixed_offset(zone)
        if offset is None:
            raise ValueError(f"time zone {self.zone_name!r} changes its UTC offset (daylight saving time); "
                             "use a zone with one offset, such as Asia/Jakarta, Asia/Makassar or Asia/Jayapura")
        object.__setattr__(self, "zone", zone)
        object.__setattr__(self, "offset", offset)

    def local(self, instant: datetime | str) -> datetime:
        """An instant (aware, or ISO text as stored; naive means UTC) in shop time."""
        if isinstance(instant, str):
            instant = datetime.fromisoformat(instant)
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=timezone.utc)
        return instant.astimezone(self.zone)

    def day(self, instant: datetime | str) -> date:
        """The shop's calendar day of an instant."""
        return self.local(instant).date()

    def start_of(self, day: date) -> datetime:
        """The instant (UTC) the shop's ``day`` starts."""
        return datetime.combine(day, time(), self.zone).astimezone(timezone.utc)

    def today_start(self, now: datetime) -> datetime:
        """Midnight at the start of the shop's today, in shop time."""
        return self.local(now).replace(hour=0, minute=0, second=0, microsecond=0)

    def parse_local(self, text: str) -> datetime:
        """"2026-12-01 09:00" typed by a person (shop time unless it names an offset) -> UTC."""
        value = datetime.fromisoformat(text.strip())
        return (value if value.tzinfo else value.replace(tzinfo=self.zone)).astimezone(timezone.utc)

    def abbreviation(self, instant: datetime | None = None) -> str:
        """WIB, WITA, WIT, or the zone's own abbreviation."""
        return (self.local(instant) if instant else datetime.now(self.zone)).tzname() or self.zone_name

    def format(self, instant: datetime | str | None, language: str = "id", *, seconds: bool = False,
               zone: bool = False) -> str:
        """``1 Jan 2025 06.30`` (Indonesian writes the time with a dot) or ``1 Jan 2025 06:30``;
        ``-`` for nothing. ``zone`` adds WIB / WITA / WIT."""
        if instant is None or instant == "":
            return "-"
        local = self.local(instant)
        sep = ":" if language == "en" else "."
        clock = f"{local.hour:02d}{sep}{local.minute:02d}" + (f"{sep}{local.second:02d}" if seconds else "")
        month = MONTHS[local.month - 1][1 if language == "en" else 0]
        return f"{local.day} {month} {local.year} {clock}" + (f" {local.tzname()}" if zone else "")

    def format_time(self, instant: datetime | str, language: str = "id", *, seconds: bool = False) -> str:
        """Only the clock: ``06.30`` / ``06:30``."""
        return self.format(instant, language, seconds=seconds).rsplit(" ", 1)[1]

    def format_day(self, day: date | datetime | str, language: str = "id") -> str:
        """``1 Jan 2025``: a calendar day (a date, or an instant's shop day)."""
        if not isinstance(day, date) or isinstance(day, datetime):
            day = self.day(day)
        return f"{day.day} {MONTHS[day.month - 1][1 if language == 'en' else 0]} {day.year}"

    def csv_stamp(self, instant: datetime | str | None) -> str:
        """An instant for a CSV file: ISO 8601 in shop time with its offset (``2025-01-01T06:30+07:00``)."""
        return "" if not instant else self.local(instant).isoformat(timespec="minutes")

    @property
    def sql_offset(self) -> str:
        """The SQLite modifier from UTC to shop time: ``+420 minutes``."""
        return f"{int(self.offset.total_seconds() // 60):+d} minutes"

    def sql_functions(self) -> list[tuple[str, int, Callable]]:
        """(name, arguments, function) of the SQL functions :func:`sql_day` and :func:`sql_start` use."""
        offset = self.sql_offset
        return [("shop_offset", 0, lambda: offset), ("shop_start", 1, self._sql_start), ("week_start", 1, _week_start),
                ("plus_days", 2, _plus_days)]

    def install(self, conn: sqlite3.Connection) -> None:
        """Give a sqlite3 connection the SQL functions (aiosqlite: ``Database.open`` does it)."""
        for name, arguments, function in self.sql_functions():
            conn.create_function(name, arguments, function, deterministic=True)

    def _sql_start(self, day: str | None) -> str | None:
        if not day:
            return None
        text = str(day)
        parsed = date(int(text[:4]), int(text[5:7] or 1), int(text[8:10] or 1))
        return self.start_of(parsed).isoformat()


@lru_cache(maxsize=8)
def for_zone(name: str = DEFAULT_ZONE) -> ShopTime:
    """The ShopTime of a zone name (kept: building one checks the zone's offsets)."""
    return ShopTime(name)


def sql_day(column: str) -> str:
    """SQL for the shop's day (``YYYY-MM-DD``) of a stored instant; months and years are its prefixes."""
    return f"date({column}, shop_offset())"


def sql_day_number(column: str) -> str:
    """SQL for the shop's day of a stored instant as days since 1970-01-01. (Through the day's text: a
    whole Julian day cast to an integer is the same on every engine, where a fraction is not: SQLite's
    CAST truncates, PostgreSQL's rounds.)"""
    return f"CAST(julianday({sql_day(column)}) - 2440587.5 AS INTEGER)"


def _week_start(day: str | None) -> str | None:
    """SQL ``week_start(day)``: the Monday (``YYYY-MM-DD``) of a ``YYYY-MM-DD`` day's ISO week."""
    if not day:
        return None
    d = date.fromisoformat(str(day)[:10])
    return (d - timedelta(days=d.weekday())).isoformat()


def _plus_days(instant: str | None, days: int | None) -> str | None:
    """SQL ``plus_days(instant, days)``: a stored instant moved by whole days, as UTC
    ``YYYY-MM-DDTHH:MM:SS`` (what SQLite's ``strftime('%Y-%m-%dT%H:%M:%S', instant, '+N days')`` gives)."""
    if not instant or days is None:
        return None
    try:
        moment = datetime.fromisoformat(str(instant))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return (moment + timedelta(days=int(days))).strftime("%Y-%m-%dT%H:%M:%S")


def sql_start(param: str = "?") -> str:
    """SQL for the UTC instant (as stored) where the shop's day, month (``2025-01``) or year (``2025``)
    given by ``param`` starts: compare stored instants with it, so their indexes are used."""
    return f"shop_start({param})"
