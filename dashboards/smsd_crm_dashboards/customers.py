"""Customers: RFM segments, the studies' four classes with their trend over six months, and the most
valuable customers (sortable), each linking to the customer's page."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import numpy as np
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div, FactorRange, HoverTool, Select
from markupsafe import Markup

from smsd_crm.analytics.rfm import CLASSES, SEGMENTS, classify_arrays

from .common import (
    COLORS,
    PAST_SECONDS,
    Customers,
    bump,
    chart,
    class_name,
    export,
    html,
    html_table,
    revision,
    rupiah,
    segment_name,
    show,
    speaker,
    table_box,
    title,
)

SEGMENT_ORDER = sorted(set(SEGMENTS.values()))
SORTS = {"value": lambda r: -r["m"], "recency": lambda r: r["days"],  # labels: dash.customers.sort.<key>
         "frequency": lambda r: -r["f"]}
TREND_MONTHS = 6


async def classify(data, as_of: date) -> list[dict]:
    """Every customer's RFM and class at ``as_of`` (vectorised; the same as rfm_table + behaviour_class)."""
    return await data.cached(("classify", as_of), lambda: _classify(data, as_of))


async def class_counts(data, as_of: date) -> Counter:
    """How many customers each class had at the end of a past day ``as_of`` (the trend needs counts
    only). A new order does not change the past: counted again at most every ``PAST_SECONDS`` (a
    till's CSV of old sales, an old order cancelled, show within that time)."""
    async def count() -> Counter:
        a = (await data.purchases()).activity_arrays(as_of)
        return Counter(classify_arrays(a["days"], a["occasions"], a["spend"], a["orders"], a["promo"])[4].tolist())
    return await data.lasting(("class counts", as_of), PAST_SECONDS, count)


async def _scores(data, as_of: date) -> tuple:
    """The purchase arrays, their activity at ``as_of`` and ``classify_arrays`` of it (shared by the
    customers and profit views)."""
    async def make() -> tuple:
        p = await data.purchases()
        a = p.activity_arrays(as_of)
        return (p, a) + tuple(classify_arrays(a["days"], a["occasions"], a["spend"], a["orders"], a["promo"]))
    return await data.cached(("scores", as_of), make)


async def class_of(data, as_of: date) -> np.ndarray:
    """Each customer's class at ``as_of`` by index in the current purchase arrays (an object array;
    "other": no purchase by then)."""
    p, a, *_, kind = await _scores(data, as_of)
    out = np.full(len(p.phones), "other", dtype=object)
    out[a["customer"]] = kind
    return out


async def of_class(data, as_of: date, name: str) -> list[dict]:
    """The customers of one class at ``as_of`` (rows as ``classify`` gives them), the biggest
    spenders first; only they are made into rows (not every customer, as ``classify`` does)."""
    p, a, r, f, m, segment, kind = await _scores(data, as_of)
    chosen = np.flatnonzero(kind == name)
    chosen = chosen[np.argsort(-a["spend"][chosen], kind="stable")]
    return [{"phone": p.phones[a["customer"][i]], "days": int(a["days"][i]), "f": int(a["occasions"][i]),
             "m": float(a["spend"][i]), "segment": segment[i], "score": f"{r[i]}{f[i]}{m[i]}", "class": name}
            for i in chosen.tolist()]


async def _classify(data, as_of: date) -> list[dict]:
    p, a, r, f, m, segment, kind = await _scores(data, as_of)
    return [{"phone": p.phones[c], "days": int(d), "f": int(o), "m": float(s), "segment": seg,
             "score": f"{ri}{fi}{mi}", "class": k}
            for c, d, o, s, seg, ri, fi, mi, k in zip(a["customer"].tolist(), a["days"].tolist(),
                                                      a["occasions"].tolist(), a["spend"].tolist(), segment.tolist(),
                                                      r.tolist(), f.tolist(), m.tolist(), kind.tolist())]


def month_ends(today: date, months: int) -> list[date]:
    """The last day of each of the ``months`` months before this one, and today."""
    ends, first = [], today.replace(day=1)
    for _ in range(months):
        first_prev = (first - timedelta(days=1)).replace(day=1)
        ends.append(first - timedelta(days=1))
        first = first_prev
    return sorted(ends) + [today]


def make(doc, data, hub, today=None, lang: str | None = None):
    """Fill ``doc`` with the customers view; return its (async) refresh."""
    speak = speaker(lang)
    heading, marker = title(speak.t("dash.view.customers")), revision()
    summary = Div(text="", name="summary", sizing_mode="stretch_width")  # HTML: set with show()
    labels = [segment_name(s, speak) for s in SEGMENT_ORDER]
    seg_src = ColumnDataSource({"segment": [], "label": [], "count": []}, name="segments")
    segments = chart(x_range=FactorRange(factors=labels), title=speak.t("dash.customers.segments"),
                     name="segment_chart")
    segments.vbar(x="label", top="count", source=seg_src, width=0.8, color="#2e7d4f")
    segments.add_tools(HoverTool(tooltips=[("", "@label"), (speak.t("dash.customers"), "@count")]))
    segments.xaxis.major_label_orientation = 0.9
    trend_src = ColumnDataSource({"month": [], **{c: [] for c in CLASSES}}, name="trend")
    trend = chart(x_range=FactorRange(factors=[]), title=speak.t("dash.customers.trend"),
                  name="trend_chart")
    for c in CLASSES:
        trend.line(x="month", y=c, source=trend_src, color=COLORS[c], line_width=2, legend_label=class_name(c, speak))
    trend.legend.location = "top_left"
    trend.legend.label_text_font_size = "8pt"
    trend.xaxis.major_label_orientation = 0.8
    sort = Select(title=speak.t("dash.customers.sort"), value="value", name="sort", width=220,
                  options=[(k, speak.t(f"dash.customers.sort.{k}")) for k in SORTS])
    table = table_box("table")
    state: dict = {"rows": [], "people": Customers([])}

    def render_table() -> None:
        rows = sorted(state["rows"], key=SORTS[sort.value])[:50]
        show(table, html_table(
            [speak.t("dash.customer"), speak.t("dash.segment"), speak.t("dash.class"), "RFM",
             speak.t("dash.days_since"), speak.t("dash.visits"), speak.t("dash.spend_12_months")],
            [[state["people"].label(r["phone"]), segment_name(r["segment"], speak), class_name(r["class"], speak),
              r["score"], r["days"], r["f"], rupiah(r["m"])] for r in rows],
            links=[state["people"].link(r["phone"]) for r in rows]))

    async def refresh() -> None:
        now = today or data.today()
        rows = await classify(data, now)
        state.update(rows=rows, people=await Customers.recent(data))
        counts = Counter(r["segment"] for r in rows)
        seg_src.data = {"segment": SEGMENT_ORDER, "label": labels, "count": [counts[s] for s in SEGMENT_ORDER]}
        people = state["people"]
        export(doc, "customers", ["phone", "name", "segment", "class", "rfm", "days_since", "visits", "spend_12_months"],
               lambda: [[r["phone"], people.label(r["phone"]), r["segment"], r["class"], r["score"], r["days"], r["f"],
                 round(r["m"])] for r in rows])
        classes = Counter(r["class"] for r in rows)
        show(summary, Markup(" · ").join([*(html("{}: <b>{}</b>", class_name(c, speak), classes[c]) for c in CLASSES),
                                           speak.t("dash.n_customers", count=len(rows))]))
        months, series = [], {c: [] for c in CLASSES}
        for end in month_ends(now, TREND_MONTHS):
            at = classes if end == now else await class_counts(data, end)
            months.append(end.isoformat()[:7] if end != now else speak.t("dash.now"))
            for c in CLASSES:
                series[c].append(at[c])
        trend.x_range.factors = months
        trend_src.data = {"month": months, **series}
        render_table()
        bump(marker)

    sort.on_change("value", lambda attr, old, new: render_table())
    doc.add_root(column(heading, summary, segments, trend, sort, table, marker, sizing_mode="stretch_width",
                        name="customers"))
    doc.title = speak.t("dash.view.customers")
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
