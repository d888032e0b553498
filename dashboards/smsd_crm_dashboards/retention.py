"""Retention: active customers per month, retention and churn month on month, new and reactivated
customers, and the lapsing customers worth a win-back message."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, Div, FactorRange
from bokeh.plotting import figure

from .common import bump, html_table, revision, rupiah, title
from .customers import classify, month_ends

WINDOW_DAYS = 90  # "active" = bought in the last 90 days
MONTHS = 12


def make(doc, data, hub, today=None):
    """Fill ``doc`` with the retention view; return its (async) refresh."""
    heading, marker = title("Retensi / Retention"), revision()
    src = ColumnDataSource({"month": [], "active": [], "retained": [], "new": [], "reactivated": [],
                            "rate": [], "churn": []}, name="months")
    counts = figure(x_range=FactorRange(factors=[]), height=300, sizing_mode="stretch_width", toolbar_location=None,
                    tools="", title=f"Pelanggan aktif ({WINDOW_DAYS} hari) / Active customers", name="active_chart")
    counts.vbar_stack(["retained", "new", "reactivated"], x="month", source=src, width=0.8,
                      color=["#2e7d4f", "#6a8fc0", "#e0a030"],
                      legend_label=["bertahan / retained", "baru / new", "kembali / reactivated"])
    counts.legend.location = "bottom_left"
    rates = figure(x_range=counts.x_range, y_range=(0, 100), height=300, sizing_mode="stretch_width",
                   toolbar_location=None, tools="", title="Retensi & churn (%)", name="rate_chart")
    rates.line("month", "rate", source=src, color="#2e7d4f", line_width=2, legend_label="retensi / retention")
    rates.line("month", "churn", source=src, color="#b03030", line_width=2, legend_label="churn")
    lapsing = Div(text="", name="lapsing", sizing_mode="stretch_width")

    async def refresh() -> None:
        now = today or date.today()
        p = await data.purchases()
        first = p.first_day()
        ends = month_ends(now, MONTHS)
        out = {k: [] for k in src.data}
        for t0, t1 in zip(ends, ends[1:]):
            # the intersection form of metrics.retention, vectorised over the purchase arrays
            a0, a1 = p.active(t0, WINDOW_DAYS), p.active(t1, WINDOW_DAYS)
            retained = len(np.intersect1d(a0, a1, assume_unique=True))
            came = np.setdiff1d(a1, a0, assume_unique=True)
            new = int(np.sum(first[came] > p.day_of(t0) - WINDOW_DAYS))
            rate = retained / len(a0) if len(a0) else 0.0
            out["month"].append(t1.isoformat()[:7] if t1 != now else "now")
            out["active"].append(len(a1))
            out["retained"].append(retained)
            out["new"].append(new)
            out["reactivated"].append(len(came) - new)
            out["rate"].append(100 * rate)
            out["churn"].append(100 * (1 - rate) if len(a0) else 0.0)
        counts.x_range.factors = out["month"]
        src.data = out
        names = {r["phone"]: (r["id"], r["name"]) for r in await data.db.fetchall("SELECT id, phone, name FROM customers")}
        targets = sorted((r for r in await classify(data, now) if r["class"] == "inactive"), key=lambda r: -r["m"])[:30]
        lapsing.text = "<b>Mulai menghilang (kirim sapaan) / Lapsing: win-back targets</b>" + html_table(
            ["Pelanggan / Customer", "Hari sejak beli / Days since", "Kali beli / Visits", "Belanja 12 bln / Spend"],
            [[(names.get(r["phone"]) or (None, None))[1] or r["phone"], r["days"], r["f"], rupiah(r["m"])]
             for r in targets],
            links=[f"/customers/{names[r['phone']][0]}" if r["phone"] in names else None for r in targets])
        bump(marker)

    doc.add_root(column(heading, row(counts, rates, sizing_mode="stretch_width"), lapsing, marker,
                        sizing_mode="stretch_width", name="retention"))
    doc.title = "Retensi / Retention"
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
