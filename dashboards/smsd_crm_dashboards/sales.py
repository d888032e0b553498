"""Sales: revenue per year -> click a year: its months and its categories -> click a category: its
products (by name; the code is in the tooltip); SMS orders and till sales stacked; a back control;
refreshed live as orders arrive."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlencode

from bokeh.layouts import column, row
from bokeh.models import Button, ColumnDataSource, Div, FactorRange, Select

from smsd_crm.analytics import sales
from smsd_crm.shop_time import MONTHS

from .common import (
    chart,
    fresh_hover,
    html,
    rupiah,
    rupiah_axis,
    show,
    speaker,
    text_div,
)
from .common import (
    revision as revision_div,
)

COLORS = ["#2e7d4f", "#e0a030"]  # SMS, till
CHANNELS = ["sms", "till"]


def factors(bars: list[sales.Bar], level: str, lang: str) -> list[str]:
    """What the axis shows for each bar: a month's short name, a product's name (with its code only
    when two products share a name), else the key (a year, a category)."""
    if level == "month":
        return [MONTHS[int(b.key[5:7]) - 1][1 if lang == "en" else 0] for b in bars]
    if level == "product":
        names = Counter(b.label or b.key for b in bars)
        return [(b.label or b.key) if names[b.label or b.key] == 1 else f"{b.label} ({b.key})" for b in bars]
    return [b.key for b in bars]


def bar_data(bars: list[sales.Bar], level: str, lang: str) -> dict[str, list]:
    """A chart's columns: ``key`` is what a click drills into (a product's code), ``factor`` what the
    axis shows, the ``*_text`` columns what the tooltip shows."""
    return {"key": [b.key for b in bars], "factor": factors(bars, level, lang), "label": [b.label for b in bars],
            "code": [b.key if level == "product" else "" for b in bars],
            "sms": [b.sms_revenue for b in bars], "till": [b.till_revenue for b in bars],
            "revenue": [b.revenue for b in bars], "units": [b.units for b in bars],
            "revenue_text": [rupiah(b.revenue) for b in bars], "sms_text": [rupiah(b.sms_revenue) for b in bars],
            "till_text": [rupiah(b.till_revenue) for b in bars]}


def _tooltips(level: str, speak) -> list[tuple[str, str]]:
    tips = [(speak.t(f"dash.sales.{level}"), "@label")]
    if level == "product":
        tips.append((speak.t("dash.code"), "@code"))
    return tips + [(speak.t("dash.revenue"), "@revenue_text"), ("SMS", "@sms_text"),
                   (speak.t("dash.till"), "@till_text"), (speak.t("dash.sales.units"), "@units{0,0}")]


def make(doc, data, hub, today=None, lang: str | None = None):
    """Fill ``doc`` with the sales drill-down; return its (async) refresh."""
    speak = speaker(lang)
    state: dict[str, str | None] = {"year": None, "category": None, "store": None}
    # A chain's owner: every store's sales added up (the default), or one store's.
    stores = Select(name="store", options=[("", speak.t("dash.sales.all_stores"))], value="", visible=False,
                    width=200)
    title = text_div(name="title", styles={"font-size": "1.3em", "font-weight": "bold"})
    back = Button(label=speak.t("dash.back"), name="back", visible=False, width=110)
    export = Div(text="", name="export")
    hint = text_div(name="hint", sizing_mode="stretch_width", styles={"color": "#555"})
    revision = revision_div()

    main_src = ColumnDataSource(bar_data([], "year", lang), name="main")
    main = chart(300, x_range=FactorRange(factors=[]), tools="tap", name="main_chart")
    main.vbar_stack(CHANNELS, x="factor", source=main_src, width=0.8, color=COLORS,
                    legend_label=["SMS", speak.t("dash.till")])
    main.legend.location = "top_left"
    main.legend.label_text_font_size = "8pt"
    main.xaxis.major_label_orientation = 0.8

    side_src = ColumnDataSource(bar_data([], "category", lang), name="side")
    side = chart(300, y_range=FactorRange(factors=[]), tools="tap", name="side_chart", visible=False)
    side.hbar_stack(CHANNELS, y="factor", source=side_src, height=0.8, color=COLORS)

    async def refresh() -> None:
        year, category, store = state["year"], state["category"], state["store"]
        drill = await data.drill()
        if len(drill.stores) > 1:  # a chain: the choice is there once a second store has sold
            stores.options = [("", speak.t("dash.sales.all_stores"))] + [
                (s, speak.t("dash.sales.store", store=s)) for s in drill.stores]
            stores.visible = True
        if year is None:
            main_bars, main_level = drill.by_year(store), "year"
            main.title.text = speak.t("dash.sales.per_year")
            hint.text = speak.t("dash.sales.hint_year")
            title.text = speak.t("dash.view.sales")
            query = {}
        else:
            main_bars, main_level = drill.by_month(year, store), "month"
            main.title.text = speak.t("dash.sales.per_month", year=year)
            if category is None:
                side_bars, side_level = drill.by_category(year, store), "category"
                side.title.text = speak.t("dash.sales.categories", year=year)
                hint.text = speak.t("dash.sales.hint_category")
                title.text = speak.t("dash.sales.title_year", year=year)
                query = {"year": year}
            else:
                side_bars, side_level = drill.by_product(year, category, store), "product"
                side.title.text = speak.t("dash.sales.products", year=year, category=category)
                hint.text = speak.t("dash.sales.hint_product")
                title.text = speak.t("dash.sales.title_category", year=year, category=category)
                query = {"year": year, "category": category}
            side_src.data = bar_data(side_bars, side_level, lang)
            side.y_range.factors = side_src.data["factor"]
            side.height = 90 + 30 * max(len(side_bars), 3)
            rupiah_axis(side.xaxis[0], 0, max((b.revenue for b in side_bars), default=0), lang, count=3)
            fresh_hover(side, _tooltips(side_level, speak))
        if store is not None:
            title.text += " · " + speak.t("dash.sales.store", store=store)
            query["store"] = store
        main_src.data = bar_data(main_bars, main_level, lang)
        main.x_range.factors = main_src.data["factor"]
        rupiah_axis(main.yaxis[0], 0, max((b.revenue for b in main_bars), default=0), lang)
        fresh_hover(main, _tooltips(main_level, speak))  # a drill-down leaves no tooltip behind
        side.visible = back.visible = year is not None
        link = "/dash/sales.csv" + (f"?{urlencode(query)}" if query else "")
        show(export, html('<a href="{}" download>{}</a>', link, speak.t("csv")))
        revision.text = str(int(revision.text) + 1)  # changed last: a client waits on it

    def on_main(attr, old, new) -> None:
        if new and state["year"] is None:
            state["year"] = main_src.data["key"][new[0]]
            main_src.selected.indices = []
            doc.add_next_tick_callback(refresh)

    def on_side(attr, old, new) -> None:
        if new and state["year"] is not None and state["category"] is None:
            state["category"] = side_src.data["key"][new[0]]
            side_src.selected.indices = []
            doc.add_next_tick_callback(refresh)

    def on_store(attr, old, new) -> None:
        state["store"] = new or None
        doc.add_next_tick_callback(refresh)

    def on_back() -> None:
        if state["category"] is not None:
            state["category"] = None
        else:
            state["year"] = None
        doc.add_next_tick_callback(refresh)

    main_src.selected.on_change("indices", on_main)
    side_src.selected.on_change("indices", on_side)
    back.on_click(on_back)
    stores.on_change("value", on_store)
    doc.add_root(column(row(back, export), stores, title, hint, main, side, revision, sizing_mode="stretch_width",
                        name="sales"))
    doc.title = speak.t("dash.view.sales")
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
