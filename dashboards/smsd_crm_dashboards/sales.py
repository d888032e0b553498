"""Sales: revenue per year -> click a year: its months and its categories -> click a category: its
products; SMS orders and till sales stacked; a back control; refreshed live as orders arrive."""

from __future__ import annotations

from bokeh.layouts import column, row
from bokeh.models import Button, ColumnDataSource, Div, FactorRange, HoverTool, NumeralTickFormatter
from bokeh.plotting import figure

from smsd_crm.analytics import sales

COLORS = ["#2e7d4f", "#e0a030"]  # SMS, till
CHANNELS = ["sms", "till"]


def _data(bars: list[sales.Bar]) -> dict[str, list]:
    return {"key": [b.key for b in bars], "label": [b.label for b in bars], "sms": [b.sms_revenue for b in bars],
            "till": [b.till_revenue for b in bars], "revenue": [b.revenue for b in bars],
            "units": [b.units for b in bars]}


def _hover() -> HoverTool:
    return HoverTool(tooltips=[("", "@label"), ("Rp", "@revenue{0,0}"), ("SMS", "@sms{0,0}"),
                               ("Till", "@till{0,0}"), ("unit", "@units{0,0}")])


def make(doc, data, hub):
    """Fill ``doc`` with the sales drill-down; return its (async) refresh."""
    state: dict[str, str | None] = {"year": None, "category": None}
    title = Div(text="", name="title", styles={"font-size": "1.3em", "font-weight": "bold"})
    back = Button(label="← Kembali / Back", name="back", visible=False, width=160)
    export = Div(text="", name="export")
    revision = Div(text="0", name="revision", visible=False)

    main_src = ColumnDataSource(_data([]), name="main")
    main = figure(x_range=FactorRange(factors=[]), height=320, sizing_mode="stretch_width", name="main_chart",
                  tools="tap", toolbar_location=None, title="Omzet / Revenue (Rp)")
    main.vbar_stack(CHANNELS, x="key", source=main_src, width=0.8, color=COLORS,
                    legend_label=["SMS", "Kasir / Till"])
    main.add_tools(_hover())
    main.yaxis.formatter = NumeralTickFormatter(format="0,0")
    main.legend.location = "top_left"

    side_src = ColumnDataSource(_data([]), name="side")
    side = figure(y_range=FactorRange(factors=[]), height=320, sizing_mode="stretch_width", name="side_chart",
                  tools="tap", toolbar_location=None, visible=False, title="Kategori / Categories")
    side.hbar_stack(CHANNELS, y="key", source=side_src, height=0.8, color=COLORS)
    side.add_tools(_hover())
    side.xaxis.formatter = NumeralTickFormatter(format="0,0")

    async def refresh() -> None:
        year, category = state["year"], state["category"]
        if year is None:
            bars = (await data.drill()).by_year()
            main_src.data, main.x_range.factors = _data(bars), [b.key for b in bars]
            main.title.text = "Omzet per tahun (klik satu tahun) / Revenue per year (click a year)"
            side.visible = back.visible = False
            title.text = "Penjualan / Sales"
            link = "/dash/sales.csv"
        else:
            drill = await data.drill()
            months = drill.by_month(year)
            main_src.data, main.x_range.factors = _data(months), [b.key for b in months]
            main.title.text = f"{year}: omzet per bulan / revenue per month"
            if category is None:
                side_bars = drill.by_category(year)
                side.title.text = f"{year}: kategori (klik satu) / categories (click one)"
                title.text = f"Penjualan {year} / Sales {year}"
                link = f"/dash/sales.csv?year={year}"
            else:
                side_bars = drill.by_product(year, category)
                side.title.text = f"{year} · {category}: produk / products"
                title.text = f"Penjualan {year} · {category} / Sales {year} · {category}"
                link = f"/dash/sales.csv?year={year}&category={category}"
            side_src.data = _data(side_bars)
            side.y_range.factors = [b.key for b in side_bars]
            side.yaxis.major_label_overrides = {b.key: b.label for b in side_bars}
            side.visible = back.visible = True
        export.text = f'<a href="{link}" download>CSV</a>'
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

    def on_back() -> None:
        if state["category"] is not None:
            state["category"] = None
        else:
            state["year"] = None
        doc.add_next_tick_callback(refresh)

    main_src.selected.on_change("indices", on_main)
    side_src.selected.on_change("indices", on_side)
    back.on_click(on_back)
    doc.add_root(column(row(title, back, export), main, side, revision, sizing_mode="stretch_width",
                        name="sales"))
    doc.title = "Penjualan / Sales"
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
