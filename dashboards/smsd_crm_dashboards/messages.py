"""Messages and campaigns: SMS in and out per month, delivery rate, what sending cost, and each
campaign's results (sent, delivered, opt-outs that followed, purchases by recipients within a week,
orders citing its promo code)."""

from __future__ import annotations

from datetime import date, timedelta

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, FactorRange, HoverTool

from smsd_crm.analytics.campaign_results import DAYS as RESULT_DAYS
from smsd_crm.analytics.campaign_results import results as campaign_results
from smsd_crm.analytics.extract import SMS_PARTS
from smsd_crm.shop_time import sql_day

from .common import (
    PAST_SECONDS,
    bump,
    chart,
    export,
    html,
    html_table,
    revision,
    rupiah,
    show,
    speaker,
    table_box,
    text_div,
    title,
)

MONTHS = 12


def delivery(delivered: int, sent: int, reports: bool, speak) -> tuple[str, str]:
    """How many arrived and the share of sent messages that did, as shown: without delivery reports
    nobody knows (a sent SMS is not a failed one), so both say so instead of 0 and 0%."""
    if not reports:
        unknown = speak.t("not_known")
        return unknown, unknown
    return str(delivered), (f"{100 * delivered / sent:.1f}%" if sent else "—")


async def _months(db, since: date, until: date | None) -> list:
    """Messages per shop month from ``since`` (a first of the month) up to ``until`` (excluded; None:
    up to now)."""
    bound, params = ("AND created_at < shop_start(?)", (since.isoformat(), until.isoformat())) if until \
        else ("", (since.isoformat(),))
    return await db.fetchall(
        f"""SELECT substr({sql_day('created_at')}, 1, 7) AS month,
                  SUM(CASE WHEN direction = 'in' THEN 1 ELSE 0 END) AS inbound, SUM(CASE WHEN direction = 'out' THEN 1 ELSE 0 END) AS outbound,
                  SUM(CASE WHEN direction = 'out' AND state IN ('sent', 'delivered') THEN 1 ELSE 0 END) AS sent,
                  SUM(CASE WHEN direction = 'out' AND state = 'delivered' THEN 1 ELSE 0 END) AS delivered,
                  SUM(CASE WHEN direction = 'out' AND state = 'failed' THEN 1 ELSE 0 END) AS failed,
                  SUM(CASE WHEN direction = 'out' THEN {SMS_PARTS} ELSE 0 END) AS parts
           FROM messages WHERE created_at >= shop_start(?) {bound} GROUP BY month ORDER BY month""", params)


def make(doc, data, hub, today=None, lang: str | None = None):
    """Fill ``doc`` with the messages view; return its (async) refresh."""
    speak = speaker(lang)
    reports = data.delivery_reports
    heading, marker = title(speak.t("dash.messages.heading")), revision()
    src = ColumnDataSource({"month": [], "in": [], "out": []}, name="volumes")
    chart_ = chart(x_range=FactorRange(factors=[]), title=speak.t("dash.messages.per_month"), name="volume_chart")
    chart_.vbar_stack(["in", "out"], x="month", source=src, width=0.8, color=["#6a8fc0", "#2e7d4f"],
                      legend_label=[speak.word("direction", "in"), speak.word("direction", "out")])
    chart_.add_tools(HoverTool(tooltips=[(speak.t("dash.month"), "@month"), (speak.t("dash.in"), "@in"),
                                         (speak.t("dash.out"), "@out")]))
    chart_.legend.location = "top_left"
    chart_.xaxis.major_label_orientation = 0.8
    note = text_div("" if reports else speak.t("dash.messages.reports_off"), name="delivery_note",
                    sizing_mode="stretch_width", visible=not reports)
    table = table_box("table")
    campaigns = table_box("campaigns")

    async def refresh() -> None:
        now = today or data.today()
        since = (now.replace(day=1) - timedelta(days=31 * (MONTHS - 1))).replace(day=1)
        this_month = now.replace(day=1)
        # Past months change only as late delivery reports arrive: counted again at most every
        # PAST_SECONDS; this month after every change (a year of messages is seconds of SQL at 200,000
        # customers, this month's a twelfth of it).
        past = await data.lasting(("message months", since, this_month), PAST_SECONDS,
                                  lambda: _months(data.db, since, this_month))
        rows = past + await _months(data.db, this_month, None)
        months = [r["month"] for r in rows]
        chart_.x_range.factors = months
        src.data = {"month": months, "in": [r["inbound"] for r in rows], "out": [r["outbound"] for r in rows]}
        export(doc, "months", ["month", "in", "out", "sent", "delivered", "failed", "parts", "cost"],
               lambda: [[r["month"], r["inbound"], r["outbound"], r["sent"], r["delivered"] if reports else "",
                         r["failed"], r["parts"], r["parts"] * data.costs.sms_part] for r in rows])
        def month_row(r) -> list:
            arrived, rate = delivery(r["delivered"], r["sent"], reports, speak)
            return [r["month"], r["inbound"], r["outbound"], r["sent"], arrived, r["failed"], rate, r["parts"],
                    rupiah(r["parts"] * data.costs.sms_part)]
        show(table, html_table(
            [speak.t("dash.month"), speak.t("dash.in"), speak.t("dash.out"), speak.t("dash.sent"),
             speak.t("dash.delivered"), speak.t("dash.failed"), speak.t("dash.messages.delivery_rate"),
             speak.t("dash.messages.parts"), speak.t("dash.cost")],
            [month_row(r) for r in rows]))
        found = await campaign_results(data.db, days=RESULT_DAYS)
        columns = ["id", "name", "kind", "state", "started_at", "recipients", "sent", "delivered", "failed", "skipped",
                   "parts", "opted_out_after", "buyers", "purchases", "revenue", "code_orders", "code_revenue"]
        export(doc, "campaigns", columns, lambda: [[getattr(c, k) if k != "delivered" or reports else ""
                                                    for k in columns] for c in found])
        show(campaigns, html("<b>{}</b> {}{}", speak.t("dash.messages.campaigns"),
                             speak.t("dash.messages.within", days=RESULT_DAYS), html_table(
            ["#", speak.t("name"), speak.t("state_heading"), speak.t("dash.sent"), speak.t("dash.delivered"),
             speak.t("dash.failed"), speak.t("dash.messages.opted_out"), speak.t("dash.messages.buyers"),
             speak.t("dash.revenue"), speak.t("dash.cost"), speak.t("dash.messages.code_orders")],
            [[c.id, c.name, speak.word("state", c.state), c.sent, delivery(c.delivered, c.sent, reports, speak)[0],
              c.failed, c.opted_out_after, c.buyers, rupiah(c.revenue), rupiah(c.parts * data.costs.sms_part),
              f"{c.code_orders} · {rupiah(c.code_revenue)}"] for c in found])))
        bump(marker)

    doc.add_root(column(heading, chart_, note, table, campaigns, marker, sizing_mode="stretch_width", name="messages"))
    doc.title = speak.t("dash.view.messages")
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
