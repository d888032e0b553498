"""What every view shares: the title row, the revision marker, HTML tables with escaped cells."""

from __future__ import annotations

from html import escape

from bokeh.models import Div

COLORS = {"regular": "#2e7d4f", "deal_seeker": "#e0a030", "inactive": "#8a8a8a", "switcher": "#b03030",
          "other": "#6a8fc0"}
CLASS_NAMES = {"regular": "Pelanggan tetap / Regulars", "deal_seeker": "Pencari promo / Deal seekers",
               "inactive": "Tidak aktif / Inactive", "switcher": "Pengalih / Switchers", "other": "Lainnya / Other"}


def title(text: str) -> Div:
    """The view's heading."""
    return Div(text=escape(text), name="title", styles={"font-size": "1.3em", "font-weight": "bold"})


def revision() -> Div:
    """A hidden counter changed last in every refresh: clients wait on it."""
    return Div(text="0", name="revision", visible=False)


def bump(marker: Div) -> None:
    """Mark a refresh as complete."""
    marker.text = str(int(marker.text) + 1)


def html_table(headers: list[str], rows: list[list], links: list[str | None] | None = None) -> str:
    """An HTML table; every cell is escaped (names come from SMS). ``links`` make the first cell a link."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = [escape(str(c)) for c in row]
        if links and links[i]:
            cells[0] = f'<a href="{escape(links[i])}">{cells[0]}</a>'
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    style = "border-collapse:collapse;font-size:0.9em"
    return (f'<table style="{style}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            if rows else "<p>—</p>")


def export(doc, name: str, headers: list[str], rows) -> None:
    """Offer a table as ``/dash/<view>.csv?source=<name>`` beside the view's data sources: every row
    (not only those drawn) with plain numbers. ``rows`` is a function making the rows, called only
    when the CSV is asked for (a refresh stays fast). Kept in the document's template variables, which
    stay on the server, so a long table never travels to the browser."""
    doc.template_variables.setdefault("exports", {})[name] = (list(headers), rows)


def rupiah(value: float) -> str:
    """Rp12.345 (Indonesian thousands separator)."""
    sign = "-" if value < 0 else ""
    return sign + "Rp" + f"{abs(round(value)):,}".replace(",", ".")


class Customers:
    """Names and page links of the customers, read once per refresh."""

    def __init__(self, rows) -> None:
        self._by_phone = {r["phone"]: (r["id"], r["name"]) for r in rows}

    @classmethod
    async def load(cls, db) -> "Customers":
        """Every customer's id and name."""
        return cls(await db.fetchall("SELECT id, phone, name FROM customers"))

    def label(self, phone: str) -> str:
        """The name, or the number when there is none."""
        return (self._by_phone.get(phone) or (None, None))[1] or phone

    def link(self, phone: str) -> str | None:
        """The customer's page, or None for a number that is not a customer."""
        found = self._by_phone.get(phone)
        return f"/customers/{found[0]}" if found else None
