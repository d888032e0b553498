"""The product catalogue as CSV: parse and check every row (pure), write it back.

A broken file is reported row by row with line numbers and nothing is imported.
Money is whole rupiah written as ``15000``, ``15.000`` or ``Rp15.000``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from ..models import Product
from .reading import read_rows

COLUMNS = ("code", "name", "aliases", "category", "unit", "price", "cost", "stock", "active")
REQUIRED = ("code", "name", "price")
MAX_ROWS = 100_000
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")
_THOUSANDS = re.compile(r"^\d{1,3}(\.\d{3})+$")


@dataclass(frozen=True)
class ProductRow:
    """One checked row, ready to upsert by code."""

    line: int
    code: str
    name: str
    aliases: tuple[str, ...]
    category: str
    unit: str
    price: int
    cost: int
    stock: int | None
    active: bool


def parse_rupiah(text: str) -> int:
    """``Rp15.000`` -> 15000. ValueError for decimals, negatives and words."""
    s = text.strip().replace(" ", "")
    if s[:2].lower() == "rp":
        s = s[2:]
    if s.endswith(",00"):
        s = s[:-3]
    if _THOUSANDS.match(s):
        s = s.replace(".", "")
    if not s.isdigit():
        raise ValueError(f"{text!r} is not a whole number of rupiah (write 15000 or 15.000)")
    return int(s)


def _whole(text: str, what: str) -> int | None:
    s = text.strip()
    if not s:
        return None
    if not re.fullmatch(r"-?\d+", s):
        raise ValueError(f"{what} {text!r} is not a whole number")
    return int(s)


def _row(line: int, raw: dict[str, str]) -> ProductRow:
    get = lambda k: (raw.get(k) or "").strip()  # noqa: E731
    code = get("code").upper()
    if not _CODE.match(code):
        raise ValueError(f"code {get('code')!r} must be 1-20 letters, digits, - or _")
    name = " ".join(get("name").split())
    if not name or len(name) > 80:
        raise ValueError("name is missing or longer than 80 characters")
    price = parse_rupiah(get("price")) if get("price") else None
    if price is None:
        raise ValueError("price is missing")
    cost = parse_rupiah(get("cost")) if get("cost") else 0
    stock = _whole(get("stock"), "stock")
    if stock is not None and stock < 0:
        raise ValueError(f"stock {stock} is negative")
    active = get("active").lower() not in ("0", "no", "tidak", "false", "n")
    aliases = tuple(dict.fromkeys(a.strip() for a in re.split(r"[|;]", get("aliases")) if a.strip()))
    return ProductRow(line, code, name, aliases, get("category") or "Lainnya", get("unit") or "pcs",
                      price, cost, stock, active)


def parse_products(text: str) -> tuple[list[ProductRow], list[str]]:
    """(rows, errors). Errors name the line; any error means nothing may be imported."""
    errors: list[str] = []
    rows: list[ProductRow] = []
    seen: dict[str, int] = {}
    words: dict[str, tuple[str, int]] = {}
    for line, raw in read_rows(text, COLUMNS, REQUIRED, errors):
        if len(rows) >= MAX_ROWS:
            errors.append(f"line {line}: more than {MAX_ROWS} products")
            break
        try:
            row = _row(line, raw)
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
            continue
        if row.code in seen:
            errors.append(f"line {line}: code {row.code} is already on line {seen[row.code]}")
            continue
        seen[row.code] = line
        for word in (row.code, row.name, *row.aliases):
            other = words.get(word.lower())
            if other and other[0] != row.code:
                errors.append(f"line {line}: {word!r} also names {other[0]} (line {other[1]})")
            words.setdefault(word.lower(), (row.code, line))
        rows.append(row)
    if not rows and not errors:
        errors.append("the file has a header but no products")
    return rows, errors


def write_products(products: list[Product]) -> str:
    """The catalogue as CSV in the import format."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for p in products:
        writer.writerow([p.code, p.name, "|".join(p.aliases), p.category, p.unit, p.price, p.cost,
                         "" if p.stock is None else p.stock, "1" if p.active else "0"])
    return out.getvalue()
