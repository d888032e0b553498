"""Text from customers and imported catalogues stays text on every dashboard (issue 15): a category
``"><img src=x onerror=alert(1)>`` in the sales title and CSV link, names in tables, everything
else; checked on the server-side Documents, which are what BokehJS draws."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from bokeh.document import Document
from bokeh.models import Div, HoverTool
from smsd_crm_dashboards import sales as sales_view
from smsd_crm_dashboards.documents import DocumentHub
from smsd_crm_dashboards.views import builtin_views

from smsd_crm.analytics.sales import Bar
from smsd_crm.storage import customers

from .test_dashboard_labels import _drill
from .test_dashboard_views import TODAY, _data, shop  # noqa: F401  (the generated shop)

HOSTILE = '"><img src=x onerror=alert(1)>'
# What the views' HTML may hold: tables, bold labels, links to this site's pages.
TAGS = {"a": {"href", "download"}, "b": set(), "p": set(), "table": {"style"}, "thead": set(), "tbody": set(),
        "tr": set(), "th": set(), "td": set()}
TOOLTIP = r"^(@\w+|@\{[^}]+\})(\{[^}]*\})?$"


class Drill:
    """The sales arrays' drill-down, with a category from an imported CSV."""

    stores = ["main"]

    def __init__(self, category: str) -> None:
        self.category = category

    def by_year(self, store=None):
        return [Bar("2026", "2026", 1000, 500, 3)]

    def by_month(self, year, store=None):
        return [Bar(f"{year}-01", "Jan", 1000, 500, 3)]

    def by_category(self, year, store=None):
        return [Bar(self.category, self.category, 1000, 500, 3)]

    def by_product(self, year, category, store=None):
        return [Bar("B01", "Beras", 1000, 500, 3)]


class Data:
    """What the sales view and its CSV read: only the drill-down."""

    def __init__(self, category: str = "Sembako") -> None:
        self.category = category

    async def drill(self):
        return Drill(self.category)


class Elements(HTMLParser):
    """Every element an HTML text makes, with its attributes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def html_divs(doc) -> list[Div]:
    return [d for d in doc.select({"type": Div}) if not d.render_as_text]


def assert_inert(doc, where: str) -> None:
    """No Div makes an element or attribute beyond the views' own, and every tooltip names a column."""
    for div in html_divs(doc):
        for tag, attrs in Elements(div.text).found:
            assert tag in TAGS and set(attrs) <= TAGS[tag], (where, div.name, tag, attrs)
            if tag == "a":
                assert attrs["href"].startswith("/") and not attrs["href"].startswith("//"), (where, attrs)
    for tool in doc.select({"type": HoverTool}):
        for label, template in tool.tooltips:
            assert re.fullmatch(TOOLTIP, template) and "safe" not in template, (where, label, template)


async def test_a_hostile_category_stays_text_in_the_sales_title_and_csv_link():
    doc = Document()
    refresh = sales_view.make(doc, Data(HOSTILE), DocumentHub())
    await refresh()
    await _drill(doc, refresh, "main", "2026")
    await _drill(doc, refresh, "side", HOSTILE)
    title = doc.get_model_by_name("title")
    assert HOSTILE in title.text and title.render_as_text  # shown as text, never parsed
    (tag, attrs), = Elements(doc.get_model_by_name("export").text).found
    assert tag == "a" and set(attrs) == {"href", "download"}
    link = urlsplit(attrs["href"])
    assert link.path == "/dash/sales.csv" and parse_qs(link.query) == {"year": ["2026"], "category": [HOSTILE]}
    assert_inert(doc, "sales")


async def test_every_view_keeps_hostile_names_inert(shop):  # noqa: F811
    code = (await shop.fetchone("SELECT code FROM products ORDER BY id LIMIT 1"))[0]
    await shop.execute("UPDATE products SET category = ?, name = ? WHERE code = ?", (HOSTILE, HOSTILE + "!", code))
    for phone, in await shop.fetchall("SELECT phone FROM customers ORDER BY id LIMIT 40"):
        await customers.upsert(shop, phone, datetime.now(timezone.utc), name=HOSTILE)
    for view in builtin_views():
        doc = Document()
        refresh = view.make(doc, _data(shop), DocumentHub(), today=TODAY)
        await refresh()
        if view.name == "sales":
            await _drill(doc, refresh, "main", "2026")
            assert_inert(doc, "sales year")
            await _drill(doc, refresh, "side", HOSTILE)
        assert_inert(doc, view.name)
        shown = " ".join(d.text for d in html_divs(doc))
        if view.name in ("customers", "profit", "future", "retention"):
            assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in shown, view.name  # the name, as text
