"""What the owner reads on the dashboards (issue 14), checked on the server-side Documents over a
real SQLite file with generated history: products by name, Rupiah axes that never fall into
scientific notation, a future-value view in plain words with the model behind "details",
"not known" where delivery reports are off (also in the owner's SMS), labels in the page's language."""

from __future__ import annotations

import re

import pytest
from bokeh.document import Document
from bokeh.models import BasicTickFormatter, FixedTicker, HoverTool, LinearAxis
from smsd_crm_dashboards import future as future_view
from smsd_crm_dashboards import messages as messages_view
from smsd_crm_dashboards import sales as sales_view
from smsd_crm_dashboards.common import rupiah_ticks
from smsd_crm_dashboards.data import DashboardData
from smsd_crm_dashboards.documents import DocumentHub, page_language
from smsd_crm_dashboards.views import builtin_views

from smsd_crm.campaigns.runner import summary_text
from smsd_crm.config import CampaignsConfig

from .test_dashboard_views import TODAY, _data, shop  # noqa: F401  (the generated shop)
from .test_demo_history import PRODUCTS

NAMES = {p["code"]: p["name"] for p in PRODUCTS}
RUPIAH = re.compile(r"^-?Rp\d+([.,]\d+)?( ?(rb|jt|M|T)|k|M|B|T)?$")


async def _drill(doc, refresh, source: str, key: str) -> None:
    """Click a bar as BokehJS would (select its index), then let the refresh run."""
    src = doc.get_model_by_name(source)
    src.selected.indices = [list(src.data["key"]).index(key)]
    await refresh()


def _axis_labels(axis) -> list[str]:
    assert isinstance(axis.ticker, FixedTicker) and "rupiah" in axis.tags
    ticks = list(axis.ticker.ticks)
    assert ticks and set(ticks) == set(axis.major_label_overrides)  # every tick drawn has its own text
    return [axis.major_label_overrides[t] for t in ticks]


@pytest.mark.parametrize("lang", ["id", "en"])
def test_rupiah_ticks_read_as_money_at_every_size(lang):
    for high in [10 ** k * m for k in range(0, 14) for m in (1, 1.7, 3.5, 7.3)]:
        for low in (0, -high / 3):
            ticks = rupiah_ticks(low, high, lang)
            labels = list(ticks.values())
            assert all(RUPIAH.match(t) for t in labels), (low, high, labels)
            assert len(set(labels)) == len(labels), labels  # neighbours never read the same
            assert min(ticks) <= low and max(ticks) >= high and 3 <= len(ticks) <= 12
    assert rupiah_ticks(0, 3.5e7, lang)[3e7] == ("Rp30 jt" if lang == "id" else "Rp30M")
    assert rupiah_ticks(0, 2.5e6, "id")[1.5e6] == "Rp1,5 jt"


async def test_rupiah_axes_never_use_scientific_notation(shop):  # noqa: F811
    data = _data(shop)
    for view in builtin_views():  # no numeric axis anywhere may switch to 3.5e+7
        doc = Document()
        await view.make(doc, data, DocumentHub(), today=TODAY)()
        for axis in doc.select({"type": LinearAxis}):
            assert not (isinstance(axis.formatter, BasicTickFormatter) and axis.formatter.use_scientific), view.name
    doc = Document()
    from smsd_crm_dashboards import profit as profit_view
    await profit_view.make(doc, data, DocumentHub(), today=TODAY)()
    labels = _axis_labels(doc.get_model_by_name("class_chart").yaxis[0])
    assert any(t.endswith(" jt") or t.endswith(" rb") for t in labels), labels
    doc = Document()
    refresh = sales_view.make(doc, data, DocumentHub())
    await refresh()
    years = _axis_labels(doc.get_model_by_name("main_chart").yaxis[0])
    assert any(t.endswith(" jt") for t in years), years
    await _drill(doc, refresh, "main", "2026")
    assert _axis_labels(doc.get_model_by_name("main_chart").yaxis[0]) != years  # months: their own ticks
    _axis_labels(doc.get_model_by_name("side_chart").xaxis[0])
    doc = Document()
    await future_view.make(doc, data, DocumentHub(), today=TODAY, lang="en")()
    assert all(t.endswith(("k", "M")) or t == "Rp0" for t in _axis_labels(doc.get_model_by_name("top_chart").xaxis[0]))


async def test_products_are_named_and_codes_are_a_tooltip_detail(shop):  # noqa: F811
    doc = Document()
    refresh = sales_view.make(doc, _data(shop), DocumentHub())
    await refresh()
    await _drill(doc, refresh, "main", "2026")
    assert doc.get_model_by_name("main").data["factor"][:3] == ["Jan", "Feb", "Mar"]
    await _drill(doc, refresh, "side", "Sembako")
    side = doc.get_model_by_name("side").data
    codes = list(side["key"])
    assert codes and set(codes) <= set(NAMES)  # a click still means a product code
    shown = list(doc.get_model_by_name("side_chart").y_range.factors)
    assert shown == list(side["factor"]) == [NAMES[c] for c in codes]  # the axis reads names
    hover = [t for t in doc.get_model_by_name("side_chart").tools if isinstance(t, HoverTool)]
    assert len(hover) == 1 and ("Kode", "@code") in hover[0].tooltips and list(side["code"]) == codes
    from smsd_crm_dashboards import crosssell as crosssell_view
    doc = Document()
    await crosssell_view.make(doc, _data(shop), DocumentHub(), today=TODAY)()
    lifts = doc.get_model_by_name("lifts").data
    assert lifts["pair"] and not any(re.search(r"\b[A-Z]\d\d\b", p) for p in lifts["pair"])
    assert all(re.fullmatch(r"[A-Z]\d\d → [A-Z]\d\d", c) for c in lifts["codes"])  # in the tooltip


async def test_a_drill_down_gives_the_charts_a_new_hover_tool(shop):  # noqa: F811
    # BokehJS keeps a tooltip drawn while the chart under it changes; a new tool starts without one
    doc = Document()
    refresh = sales_view.make(doc, _data(shop), DocumentHub())
    await refresh()
    before = [t for t in doc.get_model_by_name("main_chart").tools if isinstance(t, HoverTool)]
    await _drill(doc, refresh, "main", "2026")
    after = [t for t in doc.get_model_by_name("main_chart").tools if isinstance(t, HoverTool)]
    assert len(before) == len(after) == 1 and before[0] is not after[0]
    assert ("Bulan", "@label") in after[0].tooltips


async def test_future_value_in_words_with_the_model_behind_details(shop):  # noqa: F811
    doc = Document()
    await future_view.make(doc, _data(shop), DocumentHub(), today=TODAY)()
    rows = doc.template_variables["exports"]["customers"][1]()
    purchases, revenue = sum(r[3] for r in rows), sum(r[5] for r in rows)
    summary = doc.get_model_by_name("summary").text
    assert f"<b>{round(purchases):,} pembelian</b>".replace(",", ".") in summary
    shown = int(re.search(r"senilai <b>Rp([\d.]+)</b>", summary).group(1).replace(".", ""))
    assert abs(shown - revenue) <= len(rows) and f"{len(rows)} pelanggan" in summary  # rows are rounded
    assert "BG/NBD" not in summary and "α=" not in summary  # no model parameters where the owner reads
    top = doc.get_model_by_name("top").data
    assert list(top["revenue"]) == sorted(top["revenue"]) and len(top["name"]) == future_view.TOP
    assert not any(n.startswith("+62") for n in top["name"])  # names, not numbers
    table = doc.get_model_by_name("table").text
    assert "Pembelian 12 bln" in table and "Omzet 12 bln" in table
    details, toggle = doc.get_model_by_name("details"), doc.get_model_by_name("details_toggle")
    assert details.visible is False and "BG/NBD" in doc.get_model_by_name("method").text
    assert doc.get_model_by_name("fit_chart") in details.children
    toggle.active = True  # the owner clicks "Rincian model"
    assert details.visible is True
    toggle.active = False
    assert details.visible is False
    doc = Document()
    await future_view.make(doc, _data(shop), DocumentHub(), today=TODAY, lang="en")()
    assert "purchases</b> worth" in doc.get_model_by_name("summary").text


async def test_delivery_is_not_known_without_delivery_reports(shop):  # noqa: F811
    def table(reports: bool) -> tuple[list[list[str]], object]:
        doc = Document()
        data = DashboardData(_data(shop).db, delivery_reports=reports)
        return doc, messages_view.make(doc, data, DocumentHub(), today=TODAY)

    def cells(doc) -> list[list[str]]:
        html = doc.get_model_by_name("table").text
        return [re.findall(r"<td>(.*?)</td>", row) for row in html.split("<tr>")[2:]]

    doc, refresh = table(reports=False)  # the default
    await refresh()
    rows = cells(doc)
    assert rows and all(r[4] == "tidak diketahui" and r[6] == "tidak diketahui" for r in rows)
    assert all(int(r[3]) > 0 for r in rows)  # what was sent is known
    assert doc.get_model_by_name("delivery_note").visible
    doc, refresh = table(reports=True)
    await refresh()
    rows = cells(doc)
    assert all(r[6].endswith("%") and int(r[4]) <= int(r[3]) for r in rows)
    assert not doc.get_model_by_name("delivery_note").visible


def test_the_owners_promo_summary_says_delivery_is_not_known_without_reports():
    replies = CampaignsConfig().replies
    counts = {"recipients": 160, "sent": 160, "delivered": 0, "failed": 0, "skipped": 0}
    off = summary_text(replies, "id", 3, "x", counts, reports=False)
    assert "tidak diketahui" in off and "0 diterima" not in off and "160 terkirim" in off
    assert "not known" in summary_text(replies, "en", 3, "x", counts, reports=False)
    assert summary_text(replies, "id", 3, "x", dict(counts, delivered=150), reports=True) == \
        "Promo #3 selesai: 160 terkirim, 150 diterima, 0 gagal, 0 dilewati."
    # a config that replaced the templates without the new one: "?" rather than a false 0
    assert summary_text({"id": {"done": "{sent}/{delivered}"}}, "id", 3, "x", counts, reports=False) == "160/?"
    for lang in ("id", "en"):  # one SMS, GSM-7
        assert len(summary_text(replies, lang, 9999, "x", dict(counts, sent=99999, failed=99999, skipped=99999),
                                reports=False)) <= 160


async def test_labels_follow_the_page_language(shop):  # noqa: F811
    titles = {"sales": ("Penjualan", "Sales"), "profit": ("Profitabilitas", "Profitability"),
              "future": ("Nilai masa depan", "Future value"), "retention": ("Retensi", "Retention"),
              "customers": ("Pelanggan", "Customers"), "crosssell": ("Dibeli bersama", "Cross-sell"),
              "service": ("Layanan", "Service"), "messages": ("Pesan & promosi", "Messages & campaigns")}
    for view in builtin_views():
        for lang, wanted in (("id", titles[view.name][0]), ("en", titles[view.name][1]), (None, titles[view.name][0])):
            doc = Document()
            await view.make(doc, _data(shop), DocumentHub(), today=TODAY, lang=lang)()
            assert doc.title == wanted, (view.name, lang)
    from smsd_crm_dashboards import customers as customers_view
    doc = Document()
    await customers_view.make(doc, _data(shop), DocumentHub(), today=TODAY, lang="en")()
    assert doc.get_model_by_name("trend").data["month"][-1] == "now"
    assert "Deal seekers" in doc.get_model_by_name("summary").text and " / " not in doc.get_model_by_name("summary").text

    class Request:  # what Bokeh keeps of the autoload request (the page adds lang=)
        arguments = {"lang": [b"en"], "bokeh-autoload-element": [b"bk-sales"]}

    class Session:
        request = Request()

    class Doc:
        session_context = Session()
    assert page_language(Doc()) == "en"
    Request.arguments = {"lang": [b"xx"]}
    assert page_language(Doc()) is None and page_language(Document()) is None
