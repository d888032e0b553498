"""Cross-sell: product pairs bought together, with support, confidence and lift, per purchase and per
customer (SMS orders are often single items, so the customer level finds what the basket level misses)."""

from __future__ import annotations

from datetime import date, timedelta

from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, Div, FactorRange
from bokeh.plotting import figure

from smsd_crm.analytics.purchases import Purchases

from .common import bump, export, html_table, revision, title

ORDER_DAYS = 365
CUSTOMER_DAYS = 90
MIN_COUNT = 3
TOP = 15


def _rows(rules, names) -> list[list]:
    return [[f"{names.get(r.x, r.x)} → {names.get(r.y, r.y)}", r.count, f"{100 * r.support:.1f}%",
             f"{100 * r.confidence:.0f}%", f"{r.lift:.2f}"] for r in rules[:TOP]]


async def _rules(data, since: date, by_customer: bool = False):
    return (await data.lines()).rules(Purchases.day_of(since), by_customer, MIN_COUNT)


def make(doc, data, hub, today=None):
    """Fill ``doc`` with the cross-sell view; return its (async) refresh."""
    heading, marker = title("Dibeli bersama / Bought together"), revision()
    lift_src = ColumnDataSource({"pair": [], "lift": []}, name="lifts")
    lifts = figure(y_range=FactorRange(factors=[]), height=360, sizing_mode="stretch_width", toolbar_location=None,
                   tools="", title="Lift teratas (per pembelian) / Top lift (per purchase)", name="lift_chart")
    lifts.hbar(y="pair", right="lift", source=lift_src, height=0.7, color="#2e7d4f")
    orders_table = Div(text="", name="order_rules", sizing_mode="stretch_width")
    customers_table = Div(text="", name="customer_rules", sizing_mode="stretch_width")
    headers = ["X → Y", "n", "support", "confidence", "lift"]

    async def refresh() -> None:
        now = today or data.today()
        db = data.db
        names = {r["code"]: r["name"] for r in await db.fetchall("SELECT code, name FROM products")}
        by_order = await data.cached(("pairs", now), lambda: _rules(data, now - timedelta(days=ORDER_DAYS)))
        by_customer = await data.cached(("customer pairs", now), lambda: _rules(
            data, now - timedelta(days=CUSTOMER_DAYS), by_customer=True))
        for name, rules in (("rules_per_purchase", by_order), ("rules_per_customer", by_customer)):
            export(doc, name, ["x", "y", "count", "support", "confidence", "lift"],
                   lambda rules=rules: [[r.x, r.y, r.count, round(r.support, 6), round(r.confidence, 6),
                                         round(r.lift, 6)] for r in rules])
        top = by_order[:10][::-1]
        pairs = [f"{r.x} → {r.y}" for r in top]
        lift_src.data = {"pair": pairs, "lift": [r.lift for r in top]}
        lifts.y_range.factors = pairs
        orders_table.text = f"<b>Per pembelian ({ORDER_DAYS} hari) / Per purchase</b>" + html_table(
            headers, _rows(by_order, names))
        customers_table.text = f"<b>Per pelanggan ({CUSTOMER_DAYS} hari) / Per customer</b>" + html_table(
            headers, _rows(by_customer, names))
        bump(marker)

    doc.add_root(column(heading, lifts, row(orders_table, customers_table, sizing_mode="stretch_width"), marker,
                        sizing_mode="stretch_width", name="crosssell"))
    doc.title = "Dibeli bersama / Cross-sell"
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
