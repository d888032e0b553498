"""Reading a CSV a shop made (Excel, a till export): BOM, ``;`` or ``,``, header checks, line numbers."""

from __future__ import annotations

import csv
import io
from typing import Iterator


def read_rows(text: str, columns: tuple[str, ...], required: tuple[str, ...],
              errors: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) for every non-blank row; header and shape problems go to ``errors``."""
    text = text.lstrip("\ufeff")  # Excel's byte order mark
    if not text.strip():
        errors.append("line 1: the file is empty (expected a header: " + ",".join(columns) + ")")
        return
    first = text.splitlines()[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","  # Excel in Indonesian locale
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    errors += [f"line 1: unknown column {h!r} (known: {', '.join(columns)})" for h in header if h not in columns]
    errors += [f"line 1: required column {c!r} is missing" for c in required if c not in header]
    if errors:
        return
    for raw in reader:
        if None in raw:
            errors.append(f"line {reader.line_num}: more fields than columns")
            continue
        row = {k: (v or "").strip() for k, v in raw.items()}
        if any(row.values()):
            yield reader.line_num, row
