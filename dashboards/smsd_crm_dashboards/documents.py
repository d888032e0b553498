"""Open Bokeh documents and what the worker reads from them: live refreshes through each document's
own next-tick callback, the page language a session asked for, a view's exportable tables."""

from __future__ import annotations

from typing import Any, Callable

LIVE_TOPICS = ("orders", "sales", "complaints", "messages")


class DocumentHub:
    """Open Bokeh documents and their refresh functions; refreshes go through the document's own
    next-tick callback (changing a session's document from another task is an error)."""

    def __init__(self) -> None:
        self._open: dict[Any, Callable[[], Any]] = {}
        self._pending: set[Any] = set()

    def register(self, doc, refresh: Callable[[], Any]) -> None:
        """Refresh ``doc`` on every change until ``forget(doc)`` (the host calls it when the session
        ends; a document callback would make Bokeh run a full garbage collection on the loop)."""
        self._open[doc] = refresh

    def forget(self, doc) -> None:
        """Stop refreshing ``doc`` (its session ended)."""
        self._open.pop(doc, None)
        self._pending.discard(doc)

    def __len__(self) -> int:
        return len(self._open)

    def changed(self, topic: str | None = None) -> None:
        """Something the dashboards show changed: schedule one refresh per open document."""
        if topic is not None and topic not in LIVE_TOPICS:
            return
        for doc, refresh in list(self._open.items()):
            if doc in self._pending:
                continue  # a burst of orders makes one refresh, not one per order
            self._pending.add(doc)

            async def run(doc=doc, refresh=refresh) -> None:
                self._pending.discard(doc)
                await refresh()
            try:
                doc.add_next_tick_callback(run)
            except Exception:  # the session is going away
                self._pending.discard(doc)
                self._open.pop(doc, None)



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
    for source in doc.select({"type": ColumnDataSource}):
        if source.name:
            columns = list(source.data)
            out[source.name] = (columns, [list(r) for r in zip(*(list(source.data[c]) for c in columns))])
    for name, (columns, rows) in doc.template_variables.get("exports", {}).items():
        out[name] = (columns, rows())
    return out
