"""Future value: expected purchases and revenue per customer over the next 52 weeks (BG/NBD +
Gamma-Gamma), P(alive), the fit against what customers really did in a hold-out half year, and a
plain statement when the data is too thin and the naive rate is used instead."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import numpy as np
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div, FactorRange, HoverTool, Toggle
from markupsafe import Markup

from smsd_crm.analytics.clv import MIN_REPEAT_BUYERS, fit, forecast

from .common import (
    Customers,
    bar_height,
    bump,
    catalogue_html,
    chart,
    export,
    html,
    html_table,
    number,
    revision,
    rupiah,
    rupiah_axis,
    show,
    speaker,
    table_box,
    title,
)

HOLDOUT_WEEKS = 26
MAX_X = 10  # calibration purchases shown in the fit chart: 0..9 and "10+"
WEEKS, MONTHS_AHEAD = 52, 12  # "next year"
TOP = 15  # customers in the chart


REFIT_SECONDS = 600  # one more order barely moves the fitted parameters; the predictions follow at once


async def _forecast(data, summary, key: tuple, weeks: float = WEEKS):
    # the fits take a second or two on a big shop: off the event loop, and at most every few minutes
    models = await data.lasting(key, REFIT_SECONDS, lambda: asyncio.to_thread(
        fit, summary.x, summary.t_x, summary.T, summary.zbar))
    return forecast(summary.x, summary.t_x, summary.T, summary.zbar, summary.first_spend, weeks, models)


def _unique(names: list[str], phones: list[str]) -> list[str]:
    """Axis factors must differ: a name two customers share gets the end of each number."""
    seen = Counter(names)
    return [n if seen[n] == 1 else f"{n} (…{p[-4:]})" for n, p in zip(names, phones)]


def _why_naive(f, s, speak) -> str:
    """Why the models are not used, in the page's language (``f.reason`` says it in English): no
    fitted model means too few repeat buyers (``fit``'s first test), a fitted one did not settle."""
    if f.bgnbd is None:
        return speak.t("dash.future.few_repeaters", repeaters=int(np.sum(s.x > 0)), needed=MIN_REPEAT_BUYERS)
    return speak.t("dash.future.unsettled")


def _parameters(f, s, speak) -> Markup:
    if f.method == "naive":
        return html("<b>{}</b>: {}. {}", speak.t("dash.future.naive"), _why_naive(f, s, speak),
                    speak.t("dash.future.naive_how"))
    b, g = f.bgnbd, f.gamma_gamma
    return html("<b>BG/NBD</b> r={:.3g} α={:.3g} a={:.3g} b={:.3g} (LL {:.1f}) · "
                "<b>Gamma-Gamma</b> p={:.3g} q={:.3g} γ={:.3g} · {}", b.r, b.alpha, b.a, b.b, b.log_likelihood,
                g.p, g.q, g.gamma, speak.t("dash.n_customers", count=len(s.customers)))


def make(doc, data, hub, today=None, lang: str | None = None):
    """Fill ``doc`` with the future-value view; return its (async) refresh."""
    speak = speaker(lang)
    heading, marker = title(speak.t("dash.view.future")), revision()
    summary = Div(text="", name="summary", sizing_mode="stretch_width")
    top_src = ColumnDataSource({"customer": [], "name": [], "revenue": [], "purchases": [], "p_alive": [],
                                "revenue_text": []}, name="top")
    top = chart(bar_height(TOP), y_range=FactorRange(factors=[]), name="top_chart",
                title=speak.t("dash.future.top", months=MONTHS_AHEAD))
    top.hbar(y="name", right="revenue", source=top_src, height=0.7, color="#2e7d4f")
    top.add_tools(HoverTool(tooltips=[("", "@name"), (speak.t("dash.revenue"), "@revenue_text"),
                                      (speak.t("dash.purchases"), "@purchases{0.0}"),
                                      (speak.t("dash.future.still_active"), "@p_alive{0%}")]))
    table = table_box("table")
    toggle = Toggle(label=speak.t("dash.future.details"), name="details_toggle", active=False, width=160)
    method = Div(text="", name="method", sizing_mode="stretch_width")
    fit_src = ColumnDataSource({"x": [], "actual": [], "predicted": []}, name="fit")
    fit = chart(name="fit_chart",
                title=speak.t("dash.future.fit", weeks=HOLDOUT_WEEKS),
                x_axis_label=speak.t("dash.future.fit_x"), y_axis_label=speak.t("dash.future.fit_y"))
    fit.line("x", "actual", source=fit_src, color="#2e7d4f", line_width=2, legend_label=speak.t("dash.future.actual"))
    fit.line("x", "predicted", source=fit_src, color="#e0a030", line_width=2, line_dash="dashed",
             legend_label=speak.t("dash.future.model"))
    fit.legend.location = "top_left"
    hist_src = ColumnDataSource({"left": [], "right": [], "count": []}, name="histogram")
    hist = chart(name="alive_chart", title=speak.t("dash.future.alive"))
    hist.quad(left="left", right="right", bottom=0, top="count", source=hist_src, color="#6a8fc0")
    details = column(method, fit, hist, visible=False, sizing_mode="stretch_width", name="details")
    toggle.on_change("active", lambda attr, old, new: setattr(details, "visible", bool(new)))

    async def refresh() -> None:
        now = today or data.today()
        purchases = await data.purchases()
        if not purchases.phones:
            show(summary, speak.t("dash.future.no_purchases"))
            bump(marker)
            return
        s = purchases.summary(now)
        f = await data.cached(("forecast", now), lambda: _forecast(data, s, ("fit", now)))
        total_purchases, total_revenue = float(np.sum(f.purchases)), float(np.sum(f.revenue))
        n = len(s.customers)
        many, people_n = number(total_purchases, lang), number(n, lang)
        said = catalogue_html(speak, "dash.future.summary", months=MONTHS_AHEAD, purchases=many,
                              revenue=rupiah(total_revenue), customers=people_n, average=rupiah(total_revenue / n))
        if f.method == "naive":
            said = html("{} {}", said, speak.t("dash.future.too_little"))
        show(summary, said)
        show(method, _parameters(f, s, speak))
        # the fit against a hold-out: calibrate HOLDOUT_WEEKS earlier, compare with what happened since
        cal = purchases.summary(now - timedelta(weeks=HOLDOUT_WEEKS))
        held = await data.cached(("forecast", now, "hold-out"),
                                 lambda: _forecast(data, cal, ("fit", now, "hold-out"), HOLDOUT_WEEKS))
        buckets = np.minimum(cal.x, MAX_X)
        xs = [int(v) for v in sorted(set(buckets.tolist()))]
        fit_src.data = {"x": xs, "actual": [float(cal.holdout[buckets == v].mean()) for v in xs],
                        "predicted": [float(held.purchases[buckets == v].mean()) for v in xs]}
        counts, edges = np.histogram(f.p_alive, bins=10, range=(0, 1))
        hist_src.data = {"left": edges[:-1].tolist(), "right": edges[1:].tolist(), "count": counts.tolist()}
        people = await Customers.recent(data)
        ranked = np.argsort(-f.revenue)
        export(doc, "customers", ["phone", "name", "p_alive", "purchases_52_weeks", "spend_per_purchase",
                                  "revenue_52_weeks"],
               lambda: [[s.customers[i], people.label(s.customers[i]), round(float(f.p_alive[i]), 4),
                 round(float(f.purchases[i]), 3), round(float(f.spend_per_purchase[i])), round(float(f.revenue[i]))]
                for i in ranked.tolist()])
        best = ranked[:TOP][::-1].tolist()  # the largest at the top of the chart
        phones = [s.customers[i] for i in best]
        names = _unique([people.label(p) for p in phones], phones)
        top_src.data = {"customer": phones, "name": names, "revenue": [float(f.revenue[i]) for i in best],
                        "purchases": [float(f.purchases[i]) for i in best],
                        "p_alive": [float(f.p_alive[i]) for i in best],
                        "revenue_text": [rupiah(f.revenue[i]) for i in best]}
        top.y_range.factors = names
        rupiah_axis(top.xaxis[0], 0, max(top_src.data["revenue"], default=0), lang, count=3)
        rows = ranked[:30]
        show(table, html_table(
            [speak.t("dash.customer"), speak.t("dash.future.chance_active"), speak.t("dash.future.purchases_12"),
             speak.t("dash.future.revenue_12"), speak.t("dash.future.per_purchase")],
            [[people.label(s.customers[i]), f"{100 * f.p_alive[i]:.0f}%", f"{f.purchases[i]:.1f}",
              rupiah(f.revenue[i]), rupiah(f.spend_per_purchase[i])] for i in rows],
            links=[people.link(s.customers[i]) for i in rows]))
        bump(marker)

    doc.add_root(column(heading, summary, top, table, toggle, details, marker, sizing_mode="stretch_width",
                        name="future"))
    doc.title = speak.t("dash.view.future")
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
