"""Messages and campaigns: SMS in and out per month, delivery rate, what sending cost, and each
campaign's results (sent, delivered, opt-outs that followed, purchases by recipients within a week,
orders citing its promo code)."""

from __future__ import annotations

from datetime import date, timedelta

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div, FactorRange
from bokeh.plotting import figure

from smsd_crm.analytics.campaign_results import DAYS as RESULT_DAYS
from smsd_crm.analytics.campaign_results import results as campaign_results
from smsd_crm.analytics.extract import SMS_PARTS
from smsd_crm.shop_time import sql_day

from .common import bump, export, html_table, revision, rupiah, title

MONTHS = 12



def make(doc, data, hub, today=None):
    """Fill ``doc`` with the messages view; return its (async) refresh."""
    heading, marker = title("Pesan / Messages"), revision()
    src = ColumnDataSource({"month": [], "in": [], "out": []}, name="volumes")
    chart = figure(x_range=FactorRange(factors=[]), height=300, sizing_mode="stretch_width", toolbar_location=None,
                   tools="", title="SMS per bulan / SMS per month", name="volume_chart")
    chart.vbar_stack(["in", "out"], x="month", source=src, width=0.8, color=["#6a8fc0", "#2e7d4f"],
                     legend_label=["masuk / in", "keluar / out"])
    chart.legend.location = "top_left"
    table = Div(text="", name="table", sizing_mode="stretch_width")
    campaigns = Div(text="", name="campaigns", sizing_mode="stretch_width")

    async def refresh() -> None:
        now = today or data.today()
        since = (now.replace(day=1) - timedelta(days=31 * (MONTHS - 1))).replace(day=1)
        rows = await data.db.fetchall(
            f"""SELECT substr({sql_day('created_at')}, 1, 7) AS month,
                      SUM(direction = 'in') AS inbound, SUM(direction = 'out') AS outbound,
                      SUM(direction = 'out' AND state = 'delivered') AS delivered,
                      SUM(direction = 'out' AND state = 'failed') AS failed,
                      SUM(CASE WHEN direction = 'out' THEN {SMS_PARTS} ELSE 0 END) AS parts
               FROM messages WHERE created_at >= shop_start(?) GROUP BY month ORDER BY month""", (since.isoformat(),))
        months = [r["month"] for r in rows]
        chart.x_range.factors = months
        src.data = {"month": months, "in": [r["inbound"] for r in rows], "out": [r["outbound"] for r in rows]}
        export(doc, "months", ["month", "in", "out", "delivered", "failed", "parts", "cost"],
               lambda: [[r["month"], r["inbound"], r["outbound"], r["delivered"], r["failed"], r["parts"],
                         r["parts"] * data.costs.sms_part] for r in rows])
        table.text = html_table(
            ["Bulan / Month", "Masuk / In", "Keluar / Out", "Terkirim / Delivered", "Gagal / Failed",
             "Tingkat terkirim / Delivery rate", "Bagian / Parts", "Biaya / Cost"],
            [[r["month"], r["inbound"], r["outbound"], r["delivered"], r["failed"],
              f"{100 * r['delivered'] / r['outbound']:.1f}%" if r["outbound"] else "—", r["parts"],
              rupiah(r["parts"] * data.costs.sms_part)] for r in rows])
        found = await campaign_results(data.db, days=RESULT_DAYS)
        columns = ["id", "name", "kind", "state", "started_at", "recipients", "sent", "delivered", "failed", "skipped",
                   "parts", "opted_out_after", "buyers", "purchases", "revenue", "code_orders", "code_revenue"]
        export(doc, "campaigns", columns, lambda: [[getattr(c, k) for k in columns] for c in found])
        campaigns.text = (f"<b>Promosi / Campaigns</b> (pembelian {RESULT_DAYS} hari setelah SMS / purchases within "
                          f"{RESULT_DAYS} days of the SMS)" + html_table(
            ["#", "Nama / Name", "Status", "Terkirim / Sent", "Diterima / Delivered", "Gagal / Failed",
             "Berhenti / Opted out", "Pembeli / Buyers", "Omzet / Revenue", "Biaya / Cost", "Kode / Code orders"],
            [[c.id, c.name, c.state, c.sent, c.delivered, c.failed, c.opted_out_after, c.buyers, rupiah(c.revenue),
              rupiah(c.parts * data.costs.sms_part), f"{c.code_orders} · {rupiah(c.code_revenue)}"] for c in found]))
        bump(marker)

    doc.add_root(column(heading, chart, table, campaigns, marker, sizing_mode="stretch_width", name="messages"))
    doc.title = "Pesan & promosi / Messages & campaigns"
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
