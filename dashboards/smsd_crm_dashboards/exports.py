"""The views' data as CSV (``/dash/<view>.csv``), made in the worker from the same memoised numbers
the charts draw; the daemon's proxy only passes the file on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from smsd_crm.csv_io.writing import to_csv

from .documents import DocumentHub, data_tables

TIME_COLUMNS = ("day", "week", "month", "year", "date", "at", "first", "last")


@dataclass(frozen=True)
class Export:
    """A CSV file: its name (``sales-2025.csv``) and its text."""

    filename: str
    text: str


class ExportError(Exception):
    """The request names no such data: ``status`` (400, 404) and a message for the visitor."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def zoned(columns: list[str], zone: str, also: tuple[str, ...] = ()) -> list[str]:
    """Column names with the zone their days and times are in: ``month (Asia/Jakarta)``. Every day,
    month and year is the shop's (``store.timezone``), never UTC's."""
    return [f"{c} ({zone})" if c in TIME_COLUMNS or c in also else c for c in columns]


async def sales_csv(data, query: Mapping[str, str], zone: str) -> Export:
    """The sales drill-down at the level ``query`` asks for (``year``, ``category``; ``store``: one
    store's of a chain, else every store's)."""
    drill = await data.drill()
    year, category = query.get("year"), query.get("category", "")[:100]
    store = query.get("store") or None
    if store is not None and store not in drill.stores:
        raise ExportError(400, f"no sales of store {store[:40]!r}")
    try:
        if year and category:
            bars = drill.by_product(year, category, store)
        elif year:
            bars = drill.by_month(year, store) + drill.by_category(year, store)
        else:
            bars = drill.by_year(store)
    except ValueError as exc:
        raise ExportError(400, str(exc)) from None
    time_key = not category  # keys are years (or months beside categories), not products
    text = to_csv(zoned(["key", "label", "sms_revenue", "till_revenue", "revenue", "units"], zone,
                        ("key",) if time_key else ()),
                  ([b.key, b.label, b.sms_revenue, b.till_revenue, b.revenue, b.units] for b in bars))
    return Export("-".join(["sales", *(p for p in (store, year, category) if p)]) + ".csv", text)


async def tables(make, data) -> dict[str, tuple[list[str], list[list]]]:
    """A view's exportable tables, computed on a document of their own."""
    from bokeh.document import Document

    doc = Document()
    await make(doc, data, DocumentHub())()
    return data_tables(doc)


async def view_csv(name: str, make, data, source: str | None, zone: str) -> Export:
    """One of a view's named data sources (the first when ``source`` is None)."""
    found = await tables(make, data)
    if not found:
        raise ExportError(404, "this view offers no data as CSV")
    wanted = source or next(iter(found))
    if wanted not in found:
        raise ExportError(404, f"no data source {wanted!r} (this view has: {', '.join(found)})")
    columns, rows = found[wanted]
    return Export(f"{name}-{wanted}.csv", to_csv(zoned(columns, zone), rows))
