"""Open Bokeh documents and what the worker reads from them: live refreshes through each document's
own next-tick callback, the page language a session asked for, a view's exportable tables."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Callable

LIVE_TOPICS = ("orders", "sales", "complaints", "messages")


class DocumentHub:
    """Open Bokeh documents and their refresh functions; refreshes go through the document's own
    next-tick callback (changing a session's document from another task is an error).

    A document refreshes at most once per ``spacing`` seconds: the changes in between (a busy hour's
    SMS, several a second) make one refresh at its end. Every refresh travels to the browser
    through the daemon's relay, so this also bounds what the dashboards cost the SMS loop."""

    def __init__(self, spacing: float = 0.0) -> None:
        self.spacing = spacing
        self._open: dict[Any, Callable[[], Any]] = {}
        self._pending: set[Any] = set()
        self._last: dict[Any, float] = {}  # document -> when its last refresh began (monotonic s)

    def register(self, doc, refresh: Callable[[], Any]) -> None:
        """Refresh ``doc`` on every change until ``forget(doc)`` (the host calls it when the session
        ends; a document callback would make Bokeh run a full garbage collection on the loop)."""
        self._open[doc] = refresh

    def forget(self, doc) -> None:
        """Stop refreshing ``doc`` (its session ended)."""
        self._open.pop(doc, None)
        self._pending.discard(doc)
        self._last.pop(doc, None)

    def __len__(self) -> int:
        return len(self._open)

    def changed(self, topic: str | None = None) -> None:
        """Something the dashboards show changed: schedule one refresh per open document."""
        if topic is not None and topic not in LIVE_TOPICS:
            return
        for doc in list(self._open):
            if doc in self._pending:
                continue  # a burst of orders makes one refresh, not one per order
            self._pending.add(doc)
            wait = self._last.get(doc, -math.inf) + self.spacing - time.monotonic()
            if wait > 0:
                asyncio.get_running_loop().call_later(wait, self._schedule, doc)
            else:
                self._schedule(doc)

    def _schedule(self, doc) -> None:
        refresh = self._open.get(doc)
        if refresh is None:  # forgotten meanwhile
            self._pending.discard(doc)
            return

        async def run() -> None:
            self._pending.discard(doc)
            self._last[doc] = time.monotonic()
            await refresh()
        try:
            doc.add_next_tick_callback(run)
        except Exception:  # the session is going away
            self.forget(doc)


def page_language(doc) -> str | None:
    """The language the page asked for: ``lang`` in autoload.js's query, which Bokeh keeps in the
    session's request arguments (None for a document without a session: warm-up, CSV export)."""
    try:
        value = (doc.session_context.request.arguments.get("lang") or [b""])[0]
    except AttributeError:
        return None
    value = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return value if value in ("id", "en") else None


def data_tables(doc) -> dict[str, tuple[list[str], list[list]]]:
    """A view's exportable data: its named ColumnDataSources (what the charts draw) and the tables it
    offered with ``smsd_crm_dashboards.common.export``; name -> (columns, rows)."""
    from bokeh.models import ColumnDataSource

    out = {}
    for source in sorted(doc.select({"type": ColumnDataSource}), key=lambda s: s.name or ""):  # a stable order
        if source.name:
            columns = list(source.data)
            out[source.name] = (columns, [list(r) for r in zip(*(list(source.data[c]) for c in columns))])
    for name, (columns, rows) in doc.template_variables.get("exports", {}).items():
        out[name] = (columns, rows())
    return out
