"""Cross-sell: product pairs bought together, with support, confidence and lift, per purchase and per
customer (SMS orders are often single items, so the customer level finds what the basket level misses)."""

from __future__ import annotations

from datetime import date, timedelta

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, FactorRange, HoverTool

from smsd_crm.analytics.purchases import Purchases

from .common import (
    bar_height,
    bump,
    chart,
    export,
    html,
    html_table,
    revision,
    show,
    speaker,
    table_box,
    text_div,
    title,
)

ORDER_DAYS = 365
CUSTOMER_DAYS = 90
MIN_COUNT = 3
TOP = 15


def _rows(rules, names) -> list[list]:
    return [[f"{names.get(r.x, r.x)} → {names.get(r.y, r.y)}", r.count, f"{100 * r.support:.1f}%",
             f"{100 * r.confidence:.0f}%", f"{r.lift:.2f}"] for r in rules[:TOP]]


PAIR_NAME = 14  # characters of each product name on the chart's axis: a pair's label fits beside bars on a phone


def _short(name: str) -> str:
    return name if len(name) <= PAIR_NAME else name[:PAIR_NAME - 1].rstrip() + "…"


def pair_names(rules, names: dict[str, str]) -> list[str]:
    """"Mi instan → Telur 1kg" for each rule (the codes only where a product has no name); the codes
    are added where two pairs would read the same."""
    shown = [f"{_short(names.get(r.x) or r.x)} → {_short(names.get(r.y) or r.y)}" for r in rules]
    return [text if shown.count(text) == 1 else f"{text} ({r.x} → {r.y})" for text, r in zip(shown, rules)]


async def _rules(data, since: date, by_customer: bool = False):
    return (await data.lines()).rules(Purchases.day_of(since), by_customer, MIN_COUNT)


def make(doc, data, hub, today=None, lang: str | None = None):
    """Fill ``doc`` with the cross-sell view; return its (async) refresh."""
    speak = speaker(lang)
    heading, marker = title(speak.t("dash.crosssell.heading")), revision()
    lift_src = ColumnDataSource({"pair": [], "codes": [], "lift": [], "confidence": []}, name="lifts")
    # the chart's title as a Div above it: a Bokeh title does not wrap, and on a phone it was cut
    top_title = text_div(speak.t("dash.crosssell.top"), name="lift_title", styles={"font-weight": "bold"})
    lifts = chart(bar_height(10), y_range=FactorRange(factors=[]), name="lift_chart")
    lifts.hbar(y="pair", right="lift", source=lift_src, height=0.7, color="#2e7d4f")
    lifts.add_tools(HoverTool(tooltips=[("", "@pair"), (speak.t("dash.codes"), "@codes"),
                                        (speak.t("dash.crosssell.lift"), "@lift{0.00}"),
                                        (speak.t("dash.crosssell.confidence"), "@confidence{0%}")]))
    orders_table = table_box("order_rules")
    customers_table = table_box("customer_rules")
    headers = ["X → Y", "n", speak.t("dash.crosssell.support"), speak.t("dash.crosssell.confidence"),
               speak.t("dash.crosssell.lift")]

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
        pairs = pair_names(top, names)
        lift_src.data = {"pair": pairs, "codes": [f"{r.x} → {r.y}" for r in top], "lift": [r.lift for r in top],
                         "confidence": [r.confidence for r in top]}
        lifts.y_range.factors = pairs
        per_order = speak.t("dash.crosssell.per_purchase", days=ORDER_DAYS)
        per_customer = speak.t("dash.crosssell.per_customer", days=CUSTOMER_DAYS)
        show(orders_table, html("<b>{}</b>{}", per_order, html_table(headers, _rows(by_order, names))))
        show(customers_table, html("<b>{}</b>{}", per_customer, html_table(headers, _rows(by_customer, names))))
        bump(marker)

    doc.add_root(column(heading, top_title, lifts, orders_table, customers_table, marker, sizing_mode="stretch_width",
                        name="crosssell"))
    doc.title = speak.t("dash.view.crosssell")
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
