"""Retention: active customers per month, retention and churn month on month, new and reactivated
customers, and the lapsing customers worth a win-back message."""

from __future__ import annotations

from functools import partial

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, FactorRange, HoverTool

from .common import (
    PAST_SECONDS,
    Customers,
    bump,
    chart,
    export,
    html,
    html_table,
    revision,
    rupiah,
    show,
    speaker,
    table_box,
    title,
)
from .customers import month_ends, of_class

WINDOW_DAYS = 90  # "active" = bought in the last 90 days
MONTHS = 12


async def _retention(p, t0, t1):
    return p.retention(t0, t1, WINDOW_DAYS)


def make(doc, data, hub, today=None, lang: str | None = None):
    """Fill ``doc`` with the retention view; return its (async) refresh."""
    speak = speaker(lang)
    heading, marker = title(speak.t("dash.view.retention")), revision()
    src = ColumnDataSource({"month": [], "active": [], "retained": [], "new": [], "reactivated": [],
                            "rate": [], "churn": []}, name="months")
    counts = chart(x_range=FactorRange(factors=[]), name="active_chart",
                   title=speak.t("dash.retention.active_customers", days=WINDOW_DAYS))
    counts.vbar_stack(["retained", "new", "reactivated"], x="month", source=src, width=0.8,
                      color=["#2e7d4f", "#6a8fc0", "#e0a030"],
                      legend_label=[speak.t("dash.retention.retained"), speak.t("dash.retention.new"),
                                    speak.t("dash.retention.reactivated")])
    counts.add_tools(HoverTool(tooltips=[("", "@month"), (speak.t("dash.retention.active"), "@active"),
                                         (speak.t("dash.retention.new"), "@new"),
                                         (speak.t("dash.retention.reactivated"), "@reactivated")]))
    counts.legend.location = "bottom_left"
    counts.legend.label_text_font_size = "8pt"
    counts.xaxis.major_label_orientation = 0.8
    rates = chart(x_range=counts.x_range, y_range=(0, 100), title=speak.t("dash.retention.rates"),
                  name="rate_chart")
    rates.line("month", "rate", source=src, color="#2e7d4f", line_width=2, legend_label=speak.t("dash.retention.rate"))
    rates.line("month", "churn", source=src, color="#b03030", line_width=2, legend_label=speak.t("dash.retention.churn"))
    rates.legend.label_text_font_size = "8pt"
    rates.xaxis.major_label_orientation = 0.8
    lapsing = table_box("lapsing")

    async def refresh() -> None:
        now = today or data.today()
        p = await data.purchases()
        ends = month_ends(now, MONTHS)
        out = {k: [] for k in src.data}
        for t0, t1 in zip(ends, ends[1:]):
            if t1 == now:
                r = p.retention(t0, t1, WINDOW_DAYS)
            else:  # a new order does not change the past: counted again at most every PAST_SECONDS
                r = await data.lasting(("retention", t0, t1), PAST_SECONDS, partial(_retention, p, t0, t1))
            out["month"].append(t1.isoformat()[:7] if t1 != now else speak.t("dash.now"))
            out["active"].append(r.end)
            out["retained"].append(r.retained)
            out["new"].append(r.new)
            out["reactivated"].append(r.reactivated)
            out["rate"].append(100 * r.rate)
            out["churn"].append(100 * r.churn)
        counts.x_range.factors = out["month"]
        src.data = out
        people = await Customers.recent(data)
        lapsing_all = await of_class(data, now, "inactive")
        export(doc, "lapsing", ["phone", "name", "days_since", "visits", "spend_12_months"],
               lambda: [[r["phone"], people.label(r["phone"]), r["days"], r["f"], round(r["m"])] for r in lapsing_all])
        targets = lapsing_all[:30]
        show(lapsing, html("<b>{}</b>{}", speak.t("dash.retention.lapsing"), html_table(
            [speak.t("dash.customer"), speak.t("dash.days_since"), speak.t("dash.visits"),
             speak.t("dash.spend_12_months")],
            [[people.label(r["phone"]), r["days"], r["f"], rupiah(r["m"])] for r in targets],
            links=[people.link(r["phone"]) for r in targets])))
        bump(marker)

    doc.add_root(column(heading, counts, rates, lapsing, marker, sizing_mode="stretch_width", name="retention"))
    doc.title = speak.t("dash.view.retention")
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
