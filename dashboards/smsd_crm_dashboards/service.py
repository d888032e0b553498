"""Service: complaints per week and per 100 purchases, time to first answer and to close, share within
the SLA, who buys again after a complaint (fast vs slow, with the TARP reference figures), SMS reply
latency and the modems' health."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, NumeralTickFormatter, Span

from smsd_crm import status
from smsd_crm.analytics import extract
from smsd_crm.analytics.metrics import percentile, service

from .common import bump, chart, export, html, html_table, revision, show, speaker, table_box, title

PERIOD_DAYS = 365
SLA_HOURS = 24
WINDOW_DAYS = 60
TARP = (0.54, 0.82)  # resolved at all / resolved quickly: the share who buy again (Kotler & Keller)


def _h(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} h"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


async def _after(db, purchases, since: date, now: date):
    return purchases.after_complaints(await extract.closures(db, since), now, WINDOW_DAYS, SLA_HOURS)


def make(doc, data, hub, today=None, lang: str | None = None):
    """Fill ``doc`` with the service view; return its (async) refresh."""
    speak = speaker(lang)
    heading, marker = title(speak.t("dash.view.service")), revision()
    figures = table_box("figures")
    week_src = ColumnDataSource({"week": [], "complaints": [], "per100": []}, name="weeks")
    weeks = chart(x_range=FactorRange(factors=[]), title=speak.t("dash.service.per_week"),
                  name="week_chart")
    weeks.vbar(x="week", top="complaints", source=week_src, width=0.8, color="#b03030")
    weeks.add_tools(HoverTool(tooltips=[("", "@week"), (speak.t("dash.service.complaints"), "@complaints"),
                                        (speak.t("dash.service.per_100"), "@per100{0.0}")]))
    weeks.xaxis.major_label_orientation = 1.2
    after_src = ColumnDataSource({"group": [], "rate": []}, name="after")
    groups = [speak.t("dash.service.fast"), speak.t("dash.service.slow"), speak.t("dash.service.no_complaint")]
    after = chart(x_range=groups, y_range=(0, 1), name="after_chart",
                  title=speak.t("dash.service.again_within", days=WINDOW_DAYS))
    after.vbar(x="group", top="rate", source=after_src, width=0.7, color="#2e7d4f")
    after.yaxis.formatter = NumeralTickFormatter(format="0%")
    for level in TARP:
        after.add_layout(Span(location=level, dimension="width", line_dash="dashed", line_color="#888"))
    modems = table_box("modems")

    async def refresh() -> None:
        now = today or data.today()
        since = now - timedelta(days=PERIOD_DAYS)
        db, p = data.db, await data.purchases()
        answer_h, close_h, opened = await extract.complaint_times(db, since)
        s = service(answer_h, close_h, opened, int(p.count[p.day >= p.day_of(since)].sum()), SLA_HOURS)
        latency = await extract.reply_latency_seconds(db, datetime.now(timezone.utc) - timedelta(days=7))
        figures_rows = [[speak.t("dash.service.complaints_12"), s.complaints],
             [speak.t("dash.service.per_100_purchases"), f"{s.per_100_orders:.2f}"],
             [speak.t("dash.service.first_answer"), f"{_h(s.first_answer_median_h)} · {_h(s.first_answer_p90_h)}"],
             [speak.t("dash.service.closed"), f"{_h(s.close_median_h)} · {_h(s.close_p90_h)}"],
             [speak.t("dash.service.closed_within", hours=SLA_HOURS), _pct(s.within_sla)],
             [speak.t("dash.service.reply_time"),
              f"{percentile(latency, 50) or 0:.1f} s · {percentile(latency, 90) or 0:.1f} s ("
              + speak.t("dash.service.replies", count=len(latency)) + ")"]]
        show(figures, html_table(["", ""], figures_rows))
        export(doc, "figures", ["figure", "value"], lambda: figures_rows)
        weeks_since = now - timedelta(weeks=26)
        rows = await extract.complaints_per_week(db, weeks_since, p.per_week(weeks_since))
        week_src.data = {"week": [w for w, _, _ in rows], "complaints": [c for _, c, _ in rows],
                         "per100": [100 * c / p if p else 0 for _, c, p in rows]}
        weeks.x_range.factors = [w for w, _, _ in rows]
        result = await data.cached(("after complaints", now), lambda: _after(db, p, since, now))
        after_src.data = {"group": groups, "rate": [result.fast or 0, result.slow or 0, result.baseline or 0]}
        after.title.text = speak.t("dash.service.again_at_most", days=WINDOW_DAYS) + \
            f" (n = {result.fast_n} · {result.slow_n})"
        health = [status.describe(dict(r)) for r in await db.fetchall("SELECT * FROM modem_status ORDER BY modem_id")]
        show(modems, html("<b>{}</b>{}", speak.t("modem"), html_table(
            [speak.t("modem"), speak.t("state_heading"), speak.t("signal"), speak.t("network"),
             speak.t("sent_heading"), speak.t("last_error")],
            [[m["modem"], speak.word("modem_state", m["state"]), m["signal"], speak.word("network", m["network"]),
              m["sent"], m["last_error"]] for m in health])))
        bump(marker)

    doc.add_root(column(heading, figures, after, weeks, modems, marker, sizing_mode="stretch_width", name="service"))
    doc.title = speak.t("dash.view.service")
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
