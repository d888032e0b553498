"""CSV written for people who open it in a spreadsheet: cells that a spreadsheet would run as a
formula (a customer can register the name ``=HYPERLINK(...)`` by SMS) are written as text."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import quote

PLAIN_NUMBER = re.compile(r"[+-][0-9][0-9 .,]*")  # +6281234567890, -12.500: data, not formulas


def spreadsheet_safe(cell):
    """``cell``, or a text cell starting with a formula character prefixed by an apostrophe (the
    spreadsheet convention for "this is text")."""
    if not isinstance(cell, str) or not cell:
        return cell
    if cell[0] in "=@\t\r" or (cell[0] in "+-" and not PLAIN_NUMBER.fullmatch(cell)):
        return "'" + cell
    return cell


def to_csv(columns: list[str], rows) -> str:
    """A CSV text with a header row; every text cell made spreadsheet-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([spreadsheet_safe(c) for c in row] for row in rows)
    return out.getvalue()


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` for a download named ``filename`` (RFC 6266): control characters
    dropped, an ASCII ``filename`` (other characters as ``_``) for old clients and the exact name as
    ``filename*`` (RFC 8187, UTF-8 percent-encoded). Whatever a query put in the name, the header
    stays one valid line."""
    name = "".join(c for c in filename if c.isprintable()) or "download"
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"
