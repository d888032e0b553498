"""Future value: expected purchases and revenue per customer over the next 52 weeks (BG/NBD +
Gamma-Gamma), P(alive), the fit against what customers really did in a hold-out half year, and a
plain statement when the data is too thin and the naive rate is used instead."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, Div
from bokeh.plotting import figure

from smsd_crm.analytics.clv import fit, forecast

from .common import Customers, bump, export, html_table, revision, rupiah, title

HOLDOUT_WEEKS = 26
MAX_X = 10  # calibration purchases shown in the fit chart: 0..9 and "10+"


REFIT_SECONDS = 600  # one more order barely moves the fitted parameters; the predictions follow at once


async def _forecast(data, summary, key: tuple, weeks: float = 52.0):
    # the fits take a second or two on a big shop: off the event loop, and at most every few minutes
    models = await data.lasting(key, REFIT_SECONDS, lambda: asyncio.to_thread(
        fit, summary.x, summary.t_x, summary.T, summary.zbar))
    return forecast(summary.x, summary.t_x, summary.T, summary.zbar, summary.first_spend, weeks, models)


def make(doc, data, hub, today=None):
    """Fill ``doc`` with the future-value view; return its (async) refresh."""
    heading, marker = title("Nilai masa depan / Future value"), revision()
    method = Div(text="", name="method", sizing_mode="stretch_width")
    fit_src = ColumnDataSource({"x": [], "actual": [], "predicted": []}, name="fit")
    fit = figure(height=300, sizing_mode="stretch_width", toolbar_location=None, tools="", name="fit_chart",
                 title=f"Model vs kenyataan ({HOLDOUT_WEEKS} minggu) / Model vs actual ({HOLDOUT_WEEKS} weeks)",
                 x_axis_label="pembelian sebelumnya / earlier repeat purchases",
                 y_axis_label="rata-rata pembelian / mean purchases")
    fit.line("x", "actual", source=fit_src, color="#2e7d4f", line_width=2, legend_label="nyata / actual")
    fit.line("x", "predicted", source=fit_src, color="#e0a030", line_width=2, line_dash="dashed",
             legend_label="model")
    fit.legend.location = "top_left"
    hist_src = ColumnDataSource({"left": [], "right": [], "count": []}, name="histogram")
    hist = figure(height=300, sizing_mode="stretch_width", toolbar_location=None, tools="", name="alive_chart",
                  title="P(masih aktif) / P(alive)")
    hist.quad(left="left", right="right", bottom=0, top="count", source=hist_src, color="#6a8fc0")
    table = Div(text="", name="table", sizing_mode="stretch_width")

    async def refresh() -> None:
        now = today or data.today()
        purchases = await data.purchases()
        if not purchases.phones:
            method.text = "Belum ada pembelian / No purchases yet."
            bump(marker)
            return
        s = purchases.summary(now)
        f = await data.cached(("forecast", now), lambda: _forecast(data, s, ("fit", now)))
        if f.method == "naive":
            method.text = (f"<b>Perkiraan sederhana / Naive estimate</b>: {f.reason}. Laju pembelian pelanggan "
                           "sendiri x peluang masih aktif / the customer's own rate x a recency-based P(alive).")
        else:
            b, g = f.bgnbd, f.gamma_gamma
            method.text = (f"<b>BG/NBD</b> r={b.r:.3g} α={b.alpha:.3g} a={b.a:.3g} b={b.b:.3g} (LL {b.log_likelihood:.1f}) · "
                           f"<b>Gamma-Gamma</b> p={g.p:.3g} q={g.q:.3g} γ={g.gamma:.3g} · "
                           f"{len(s.customers)} pelanggan / customers · perkiraan 52 minggu: "
                           f"<b>{rupiah(float(np.sum(f.revenue)))}</b>")
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
        people = await Customers.load(data.db)
        ranked = np.argsort(-f.revenue)
        export(doc, "customers", ["phone", "name", "p_alive", "purchases_52_weeks", "spend_per_purchase",
                                  "revenue_52_weeks"],
               lambda: [[s.customers[i], people.label(s.customers[i]), round(float(f.p_alive[i]), 4),
                 round(float(f.purchases[i]), 3), round(float(f.spend_per_purchase[i])), round(float(f.revenue[i]))]
                for i in ranked.tolist()])
        top = ranked[:30]
        table.text = html_table(
            ["Pelanggan / Customer", "P(aktif)", "Pembelian 52 mg / Purchases 52 wk", "Per pembelian / Per purchase",
             "Omzet 52 mg / Revenue 52 wk"],
            [[people.label(s.customers[i]), f"{f.p_alive[i]:.2f}",
              f"{f.purchases[i]:.1f}", rupiah(f.spend_per_purchase[i]), rupiah(f.revenue[i])] for i in top],
            links=[people.link(s.customers[i]) for i in top])
        bump(marker)

    doc.add_root(column(heading, method, row(fit, hist, sizing_mode="stretch_width"), table, marker,
                        sizing_mode="stretch_width", name="future"))
    doc.title = "Nilai masa depan / Future value"
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
