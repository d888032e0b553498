"""Profitability: profit per customer and per segment over the last 12 months (revenue - cost of goods
- promo discounts - points redeemed - SMS cost - complaint handling cost), the whale curve, and the
most and least profitable customers."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, Span

from smsd_crm.analytics import extract, lines
from smsd_crm.analytics.metrics import whale_points
from smsd_crm.analytics.purchases import Purchases

from .common import (
    Customers,
    bump,
    chart,
    class_name,
    export,
    html,
    html_table,
    revision,
    rupiah,
    rupiah_axis,
    show,
    speaker,
    table_box,
    text_div,
    title,
)
from .customers import class_of

PERIOD_DAYS = 365


async def _costs(data, since: date) -> lines.CostTable:
    return lines.cost_table(await data.lines(), await data.purchases(), Purchases.day_of(since),
                                await data.sms_parts(since), await extract.complaints_per_customer(data.db, since),
                                await extract.points_redeemed_per_customer(data.db, since), await data.line_customers())


def make(doc, data, hub, today=None, lang: str | None = None):
    """Fill ``doc`` with the profitability view; return its (async) refresh."""
    speak = speaker(lang)
    heading, marker = title(speak.t("dash.profit.title")), revision()
    tariff, complaint_cost = data.costs.sms_part, data.costs.complaint
    note = text_div(speak.t("dash.profit.note", tariff=rupiah(tariff), complaint=rupiah(complaint_cost)), name="note",
                    sizing_mode="stretch_width")
    whale_src = ColumnDataSource({"share": [], "cumulative": []}, name="whale")
    whale = chart(name="whale_chart", title=speak.t("dash.profit.whale"), x_axis_label=speak.t("dash.profit.whale_x"),
                  y_axis_label=speak.t("dash.profit.whale_y"))
    whale.line("share", "cumulative", source=whale_src, line_width=2, color="#2e7d4f")
    whale.add_layout(Span(location=100, dimension="width", line_dash="dashed", line_color="#888"))
    class_src = ColumnDataSource({"group": [], "label": [], "profit": [], "profit_text": []}, name="by_class")
    by_class = chart(x_range=FactorRange(factors=[]), title=speak.t("dash.profit.per_class"),
                     name="class_chart")
    by_class.vbar(x="label", top="profit", source=class_src, width=0.7, color="#e0a030")
    by_class.add_tools(HoverTool(tooltips=[("", "@label"), (speak.t("dash.profit"), "@profit_text")]))
    by_class.xaxis.major_label_orientation = 0.5
    tables = table_box("tables")

    async def refresh() -> None:
        now = today or data.today()
        costs = await data.cached(("costs", now), lambda: _costs(data, now - timedelta(days=PERIOD_DAYS)))
        profits = costs.profit(tariff, complaint_cost)
        whale_src.data = dict(zip(("share", "cumulative"), whale_points(profits)))
        kinds = await class_of(data, now)  # by index in the purchase arrays the costs were made with
        # an order between the two reads only appends customers: an index past ``kinds`` is "other"
        known = (costs.customer >= 0) & (costs.customer < len(kinds))
        row_class = np.full(len(costs), "other", dtype=object)
        row_class[known] = kinds[costs.customer[known]]
        per_class = {str(g): float(profits[row_class == g].sum()) for g in set(row_class.tolist())}
        groups = sorted(per_class, key=lambda g: -per_class[g])
        amounts = [per_class[g] for g in groups]
        class_src.data = {"group": groups, "label": [class_name(g, speak) for g in groups], "profit": amounts,
                          "profit_text": [rupiah(v) for v in amounts]}
        by_class.x_range.factors = class_src.data["label"]
        rupiah_axis(by_class.yaxis[0], min(amounts, default=0), max(amounts, default=0), lang)
        people = await Customers.recent(data)
        ranked = np.argsort(-profits, kind="stable").tolist()
        headers = [speak.t("dash.customer"), speak.t("dash.revenue"), speak.t("dash.profit.cost_of_goods"),
                   speak.t("dash.profit.promo"), speak.t("points"), "SMS", speak.t("dash.complaints"),
                   speak.t("dash.profit")]

        def rows(items):
            return [[people.label(c.customer), rupiah(c.revenue), rupiah(c.cost_of_goods), rupiah(c.promo_discounts),
                     rupiah(c.points_redeemed_value), c.sms_parts, c.complaints, rupiah(profits[i])]
                    for i, c in items]

        def links(items):
            return [people.link(c.customer) for _, c in items]
        export(doc, "customers", ["phone", "name", "class", "revenue", "cost_of_goods", "promo_discounts",
                                  "points_redeemed", "sms_parts", "complaints", "profit"],
               lambda: [[c.customer, people.label(c.customer), str(row_class[i]), round(c.revenue),
                         round(c.cost_of_goods), round(c.promo_discounts), round(c.points_redeemed_value),
                         c.sms_parts, c.complaints, round(profits[i])] for i, c in ((i, costs.row(i)) for i in ranked)])
        top = [(i, costs.row(i)) for i in ranked[:15]]
        bottom = [(i, costs.row(i)) for i in ranked[-15:][::-1]]
        show(tables, html("<b>{}</b>{}<b>{}</b>{}", speak.t("dash.profit.most"), html_table(headers, rows(top), links(top)),
                          speak.t("dash.profit.least"), html_table(headers, rows(bottom), links(bottom))))
        bump(marker)

    doc.add_root(column(heading, note, by_class, whale, tables, marker, sizing_mode="stretch_width", name="profit"))
    doc.title = speak.t("dash.profit.title")
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
