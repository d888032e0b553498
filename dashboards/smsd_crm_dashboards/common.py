"""What every view shares: the page language, charts that fit a phone, Rupiah axes, the title row,
the revision marker, HTML tables with escaped cells.

Text reaches the page escaped by construction: a Div either shows text (``text_div``: BokehJS sets it
as text, never parses it) or HTML that only ``html``, ``catalogue_html`` and ``html_table`` make
(``markupsafe.Markup``: a fixed template from this code with every value escaped), set with ``show``,
which escapes anything that is not Markup. Tooltips name columns (``@label``): BokehJS escapes the
values. Links are built with ``urlencode``."""

from __future__ import annotations

import math

from bokeh.models import BasicTickFormatter, Div, FixedTicker, HoverTool, LinearAxis, NumeralTickFormatter
from bokeh.plotting import figure
from markupsafe import Markup, escape

from smsd_crm.i18n import Speaker

COLORS = {"regular": "#2e7d4f", "deal_seeker": "#e0a030", "inactive": "#8a8a8a", "switcher": "#b03030",
          "other": "#6a8fc0"}


def speaker(lang: str | None) -> Speaker:
    """The message catalogue (``smsd_crm/texts.yaml``, the pages' own) in the page's language:
    Indonesian unless the page asked for English."""
    return Speaker(lang or "id")


def capital(text: str) -> str:
    """A catalogue word as a label: its first letter upper case (``pencari promo`` -> ``Pencari promo``)."""
    return text[:1].upper() + text[1:]


def class_name(kind: str, speak: Speaker) -> str:
    """One of the studies' four classes (or "other") in the page's language, as a label."""
    return capital(speak.word("class", kind))


def segment_name(segment: str, speak: Speaker) -> str:
    """An RFM segment in the page's language (the data and CSV keep the standard English name)."""
    return speak.word("segment", segment)


def chart(height: int = 280, **kw) -> figure:
    """A figure as wide as the screen allows (down to a 360 px phone) with no tool bar; its numeric
    axes never switch to scientific notation (Rupiah axes get ``rupiah_axis`` on top)."""
    kw.setdefault("tools", "")
    fig = figure(height=height, sizing_mode="stretch_width", toolbar_location=None, min_width=200, **kw)
    fig.title.text_font_size = "11pt"
    for axis in fig.axis:
        if isinstance(axis, LinearAxis):
            axis.formatter = BasicTickFormatter(use_scientific=False)
    return fig


def bar_height(bars: int) -> int:
    """A horizontal bar chart's height for ``bars`` bars: each keeps a readable row."""
    return 90 + 28 * max(bars, 3)


UNITS = ((1e12, " T", "T"), (1e9, " M", "B"), (1e6, " jt", "M"), (1e3, " rb", "k"))


def rupiah_short(value: float, lang: str = "id") -> str:
    """An axis tick: Rp35 jt, Rp2,5 M, Rp500 rb (English: Rp35M, Rp2.5B, Rp500k); never 3.5e+7."""
    size, sign = abs(value), "-" if value < 0 else ""
    for unit, short_id, short_en in UNITS:
        if size >= unit:
            number = f"{size / unit:.2f}".rstrip("0").rstrip(".")
            if lang == "en":
                return f"{sign}Rp{number}{short_en}"
            return f"{sign}Rp{number.replace('.', ',')}{short_id}"
    return f"{sign}Rp{size:.0f}"


def rupiah_ticks(low: float, high: float, lang: str = "id", count: int = 5) -> dict[float, str]:
    """About ``count`` round ticks (1, 2, 2.5 or 5 x 10^k rupiah apart) covering [low, high] and 0,
    each with its Rupiah label."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low < 10:
        high = low + 10
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in ((1, 2, 2.5, 5, 10) if power >= 10 else (1, 2, 5, 10)) if m * power >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    return {float(i * step): rupiah_short(i * step, lang) for i in range(first, last + 1)}


def rupiah_axis(axis, low: float, high: float, lang: str, count: int = 5) -> None:
    """Label ``axis`` in Rupiah for values between ``low`` and ``high``: round ticks chosen here with
    their text (Rp35 jt), since the pages' CSP forbids the JavaScript a CustomJSTickFormatter compiles
    and NumeralTickFormatter knows no Indonesian units. The charts have no zoom, so fixed ticks hold."""
    ticks = rupiah_ticks(low, high, lang, count)
    axis.ticker = FixedTicker(ticks=list(ticks), minor_ticks=[])
    axis.major_label_overrides = ticks
    axis.formatter = NumeralTickFormatter(format="0,0")  # only if a tick ever lacked its label
    axis.tags = ["rupiah"]


def fresh_hover(fig, tooltips: list[tuple[str, str]], renderers="auto") -> None:
    """Give ``fig`` a new hover tool: BokehJS keeps a tooltip on screen when the chart under it is
    redrawn (a drill-down moves the frame), and only a new tool starts without one."""
    fig.tools = [t for t in fig.tools if not isinstance(t, HoverTool)] + [
        HoverTool(tooltips=tooltips, renderers=renderers)]


def html(template: str, /, *args, **values) -> Markup:
    """HTML from a fixed ``template`` written in this code (never from data), every value escaped
    unless it is Markup itself: ``html('<a href="{}">{}</a>', url, label)``."""
    return Markup(template).format(*args, **values)


def catalogue_html(speak, name: str, /, **values) -> Markup:
    """A catalogue text that carries HTML (``<b>``) with its values escaped."""
    return Markup(speak.t(name)).format(**values)


def show(div: Div, content: str) -> None:
    """Set what an HTML Div shows: Markup as it is, any other text escaped."""
    div.text = str(escape(content))


def text_div(text: str = "", **kw) -> Div:
    """A Div that shows text: BokehJS never parses it as HTML, whatever it holds."""
    return Div(text=text, render_as_text=True, **kw)


def title(text: str) -> Div:
    """The view's heading."""
    return text_div(text, name="title", styles={"font-size": "1.3em", "font-weight": "bold"})


def revision() -> Div:
    """A hidden counter changed last in every refresh: clients wait on it."""
    return text_div("0", name="revision", visible=False)


def bump(marker: Div) -> None:
    """Mark a refresh as complete."""
    marker.text = str(int(marker.text) + 1)


def table_box(name: str) -> Div:
    """A Div for ``html_table``s as wide as the screen: a wider table scrolls inside it, so a phone's
    page never gets wider than the screen (Bokeh's Div otherwise grows with its content)."""
    return Div(text="", name=name, sizing_mode="stretch_width", styles={"overflow-x": "auto", "max-width": "100%"})


def html_table(headers: list[str], rows: list[list], links: list[str | None] | None = None) -> Markup:
    """An HTML table; every cell is escaped (names come from SMS). ``links`` (paths on this site) make
    the first cell a link."""
    if not rows:
        return Markup("<p>—</p>")
    head = Markup("").join(html("<th>{}</th>", str(h)) for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = [escape(str(c)) for c in row]
        if links and links[i] and links[i].startswith("/") and not links[i].startswith("//"):
            cells[0] = html('<a href="{}">{}</a>', links[i], cells[0])  # a page of this site only
        body.append(html("<tr>{}</tr>", Markup("").join(html("<td>{}</td>", c) for c in cells)))
    return html('<table style="border-collapse:collapse;font-size:0.9em;width:100%"><thead><tr>{}</tr></thead>'
                '<tbody>{}</tbody></table>', head, Markup("").join(body))


def export(doc, name: str, headers: list[str], rows) -> None:
    """Offer a table as ``/dash/<view>.csv?source=<name>`` beside the view's data sources: every row
    (not only those drawn) with plain numbers. ``rows`` is a function making the rows, called only
    when the CSV is asked for (a refresh stays fast). Kept in the document's template variables, which
    stay on the server, so a long table never travels to the browser."""
    doc.template_variables.setdefault("exports", {})[name] = (list(headers), rows)


def number(value: float, lang: str | None = "id") -> str:
    """A whole number with the language's thousands separator: 12.345 (English 12,345)."""
    text = f"{round(value):,}"
    return text if lang == "en" else text.replace(",", ".")


def rupiah(value: float) -> str:
    """Rp12.345 (Indonesian thousands separator)."""
    sign = "-" if value < 0 else ""
    return sign + "Rp" + f"{abs(round(value)):,}".replace(",", ".")


NAMES_SECONDS = 60.0  # customers' names and links are read again at most this often
PAST_SECONDS = 600.0  # a past month's figures are counted again at most this often


class Customers:
    """Names and page links of the customers, read once per refresh."""

    def __init__(self, rows) -> None:
        self._by_phone = {r["phone"]: (r["id"], r["name"]) for r in rows}

    @classmethod
    async def load(cls, db) -> "Customers":
        """Every customer's id and name."""
        return cls(await db.fetchall("SELECT id, phone, name FROM customers"))

    @classmethod
    async def recent(cls, data) -> "Customers":
        """``load`` at most once a minute (``data``: the ``DashboardData``): 200,000 names take half a
        second to read, and every open view wanted them after every order. A customer who registered
        or changed name in the last minute shows as the number, without a link, until then."""
        return await data.lasting(("customers",), NAMES_SECONDS, lambda: cls.load(data.db))

    def label(self, phone: str) -> str:
        """The name, or the number when there is none."""
        return (self._by_phone.get(phone) or (None, None))[1] or phone

    def link(self, phone: str) -> str | None:
        """The customer's page, or None for a number that is not a customer."""
        found = self._by_phone.get(phone)
        return f"/customers/{found[0]}" if found else None
