"""The two SQL dialects smsd-crm speaks: SQLite's and PostgreSQL's. Pure functions, no driver.

The code is written in the portable subset (docs/plugins.md, "SQL that runs on both"): ``?`` or
``:name`` placeholders, ``INSERT ... ON CONFLICT``, ``RETURNING``, ``CASE`` instead of summed
booleans. What cannot be portable is said once here:

* placeholders: PostgreSQL's wire protocol numbers them (``$1``); :func:`numbered` rewrites ``?``
  and ``:name`` outside quotes and comments, each name once however often it appears;
* schema scripts: :func:`postgresql_ddl` turns SQLite's ``INTEGER PRIMARY KEY`` (the rowid alias)
  into an identity column, ``INTEGER`` into ``BIGINT`` (SQLite's integers are 64-bit: rupiah
  totals and millisecond stamps pass 2^31) and ``REAL`` into ``DOUBLE PRECISION``;
* shop days: ``date(col, shop_offset())`` is SQLite's cheap form (shop_time.py says why); on
  PostgreSQL the same words are SQL functions of ours (:func:`postgresql_functions`) over the
  same text instants, in a schema of their own per UTC offset (stores of a chain may differ).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


class PlaceholderError(ValueError):
    """A statement mixes ``?`` and ``:name`` placeholders, or its parameters do not match them."""


def _scan(sql: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each placeholder outside quotes and comments: kind ``?`` or the name."""
    found: list[tuple[int, int, str]] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in ("'", '"'):
            end = sql.find(c, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == c:  # '' inside a literal
                end = sql.find(c, end + 2)
            i = n if end == -1 else end + 1
        elif c == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end + 1
        elif c == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end == -1 else end + 2
        elif c == "?":
            found.append((i, i + 1, "?"))
            i += 1
        elif c == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_") and not sql.startswith("::", i - 1):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            found.append((i, j, sql[i + 1:j]))
            i = j
        else:
            i += 1
    return found


def numbered(sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> tuple[str, list[Any]]:
    """``sql`` with ``$1, $2, ...`` placeholders and its arguments in that order.

    ``?`` placeholders take ``params`` as a sequence; ``:name`` ones take a mapping and each name is
    one number however often it appears. Raises :class:`PlaceholderError` on a mix or a mismatch.
    """
    marks = _scan(sql)
    if not marks:
        if params:
            raise PlaceholderError(f"{len(params)} parameter(s) for a statement without placeholders")
        return sql, []
    kinds = {kind == "?" for _, _, kind in marks}
    if len(kinds) > 1:
        raise PlaceholderError("a statement mixes ? and :name placeholders")
    out, args, last = [], [], 0
    if kinds == {True}:
        if isinstance(params, Mapping) or len(params) != len(marks):
            raise PlaceholderError(f"{len(marks)} placeholder(s), parameters {type(params).__name__} "
                                   f"of {len(params)}")
        for number, (start, end, _) in enumerate(marks, start=1):
            out.append(sql[last:start] + f"${number}")
            last = end
        args = list(params)
    else:
        if not isinstance(params, Mapping):
            raise PlaceholderError("named placeholders need a mapping of parameters")
        numbers: dict[str, int] = {}
        for start, end, name in marks:
            if name not in params:
                raise PlaceholderError(f"no parameter for :{name}")
            if name not in numbers:
                numbers[name] = len(numbers) + 1
                args.append(params[name])
            out.append(sql[last:start] + f"${numbers[name]}")
            last = end
    out.append(sql[last:])
    return "".join(out), args


_ROWID_KEY = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.IGNORECASE)
_INTEGER = re.compile(r"\bINTEGER\b", re.IGNORECASE)
_REAL = re.compile(r"\bREAL\b", re.IGNORECASE)
_BLOB = re.compile(r"\bBLOB\b", re.IGNORECASE)


def postgresql_ddl(script: str) -> str:
    """A schema script in SQLite's words, in PostgreSQL's (see the module's docstring).

    Only type names change: a migration needing more (a trigger, a data fix) gives its own
    PostgreSQL text (``Migration.postgresql``).
    """
    lines = []
    for line in script.splitlines(keepends=True):
        code, dash, comment = line.partition("--")
        code = _ROWID_KEY.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", code)
        code = _INTEGER.sub("BIGINT", code)
        code = _REAL.sub("DOUBLE PRECISION", code)
        code = _BLOB.sub("BYTEA", code)
        lines.append(code + dash + comment)
    return "".join(lines)


def functions_schema(offset_minutes: int) -> str:
    """The schema holding the shop-day functions of one UTC offset (``smsd_offset_p420``)."""
    return f"smsd_offset_{'p' if offset_minutes >= 0 else 'm'}{abs(offset_minutes)}"


def postgresql_functions(offset_minutes: int) -> list[str]:
    """``CREATE OR REPLACE FUNCTION`` statements giving PostgreSQL the SQL words shop days are written in.

    ``shop_offset()`` is the shop's UTC offset as SQLite's modifier text (``+420 minutes``);
    ``date(instant, modifier)`` the calendar day (``YYYY-MM-DD``) of a stored ISO instant moved by it;
    ``shop_start(day)`` the UTC instant, as stored, where a shop day, month (``2025-01``) or year
    (``2025``) starts. STABLE: evaluated once per statement where their arguments are constants.
    ``julianday(day)`` SQLite's Julian day number of a ``YYYY-MM-DD`` day; ``week_start(day)`` its
    ISO week's Monday; ``plus_days(instant, days)`` an instant moved by whole days (UTC, to the second) (SQLite: :meth:`smsd_crm.shop_time.ShopTime.sql_functions`).
    """
    offset = f"{offset_minutes:+d} minutes"
    schema = functions_schema(offset_minutes)
    return [
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        f"""CREATE OR REPLACE FUNCTION {schema}.shop_offset() RETURNS text LANGUAGE sql STABLE AS $$ SELECT '{offset}'::text $$""",
        f"""CREATE OR REPLACE FUNCTION {schema}.date(instant text, modifier text) RETURNS text LANGUAGE sql STABLE AS $$
            SELECT to_char(((instant::timestamptz AT TIME ZONE 'UTC') + modifier::interval), 'YYYY-MM-DD') $$""",
        f"""CREATE OR REPLACE FUNCTION {schema}.shop_start(day text) RETURNS text LANGUAGE sql STABLE AS $$
            SELECT CASE WHEN day IS NULL OR day = '' THEN NULL ELSE
                   to_char((rpad(day, 10, CASE length(day) WHEN 4 THEN '-01-01' ELSE '-01' END)::timestamp
                            - interval '{offset}'), 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') END $$""",
        # SQLite's julianday of a calendar day (shop_time.sql_day_number): whole days + .5
        f"""CREATE OR REPLACE FUNCTION {schema}.julianday(day text) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
            SELECT (left(day, 10)::date - DATE '1970-01-01') + 2440587.5 $$""",
        f"""CREATE OR REPLACE FUNCTION {schema}.week_start(day text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
            SELECT to_char(date_trunc('week', left(day, 10)::date), 'YYYY-MM-DD') $$""",
        f"""CREATE OR REPLACE FUNCTION {schema}.plus_days(instant text, days integer) RETURNS text LANGUAGE sql
            STABLE AS $$ SELECT to_char((instant::timestamptz AT TIME ZONE 'UTC') + make_interval(days => days),
                                        'YYYY-MM-DD"T"HH24:MI:SS') $$""",
    ]
