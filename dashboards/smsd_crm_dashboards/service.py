"""Service: complaints per week and per 100 purchases, time to first answer and to close, share within
the SLA, who buys again after a complaint (fast vs slow, with the TARP reference figures), SMS reply
latency and the modems' health."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, NumeralTickFormatter, Span

from smsd_crm import status
from smsd_crm.analytics import extract
from smsd_crm.analytics.metrics import percentile, post_complaint_retention, service

from .common import bump, chart, export, html_table, revision, table_box, texts, title

PERIOD_DAYS = 365
SLA_HOURS = 24
WINDOW_DAYS = 60
TARP = (0.54, 0.82)  # resolved at all / resolved quickly: the share who buy again (Kotler & Keller)


def _h(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} h"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


async def _after(db, purchases, since: date, now: date):
    return post_complaint_retention(await extract.closures(db, since), purchases.days_by_phone(now), now,
                                    WINDOW_DAYS, SLA_HOURS)


def make(doc, data, hub, today=None, lang: str | None = None):
    """Fill ``doc`` with the service view; return its (async) refresh."""
    tr = texts(lang)
    heading, marker = title(tr("Layanan", "Service")), revision()
    figures = table_box("figures")
    week_src = ColumnDataSource({"week": [], "complaints": [], "per100": []}, name="weeks")
    weeks = chart(x_range=FactorRange(factors=[]), title=tr("Keluhan per minggu", "Complaints per week"),
                  name="week_chart")
    weeks.vbar(x="week", top="complaints", source=week_src, width=0.8, color="#b03030")
    weeks.add_tools(HoverTool(tooltips=[("", "@week"), (tr("keluhan", "complaints"), "@complaints"),
                                        (tr("per 100 pembelian", "per 100 purchases"), "@per100{0.0}")]))
    weeks.xaxis.major_label_orientation = 1.2
    after_src = ColumnDataSource({"group": [], "rate": []}, name="after")
    groups = [tr("cepat", "fast"), tr("lambat", "slow"), tr("tanpa keluhan", "no complaint")]
    after = chart(x_range=groups, y_range=(0, 1), name="after_chart",
                  title=tr(f"Beli lagi dalam {WINDOW_DAYS} hari", f"Bought again within {WINDOW_DAYS} days"))
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
        figures_rows = [[tr("Keluhan (12 bln)", "Complaints (12 mo)"), s.complaints],
             [tr("Per 100 pembelian", "Per 100 purchases"), f"{s.per_100_orders:.2f}"],
             [tr("Jawaban pertama, median · p90", "First answer, median · p90"),
              f"{_h(s.first_answer_median_h)} · {_h(s.first_answer_p90_h)}"],
             [tr("Selesai, median · p90", "Closed, median · p90"), f"{_h(s.close_median_h)} · {_h(s.close_p90_h)}"],
             [tr(f"Selesai dalam {SLA_HOURS} jam", f"Closed within {SLA_HOURS} h"), _pct(s.within_sla)],
             [tr("Balasan SMS, median · p90 (7 hari)", "SMS reply time, median · p90 (7 days)"),
              f"{percentile(latency, 50) or 0:.1f} s · {percentile(latency, 90) or 0:.1f} s ({len(latency)} "
              f"{tr('balasan', 'replies')})"]]
        figures.text = html_table(["", ""], figures_rows)
        export(doc, "figures", ["figure", "value"], lambda: figures_rows)
        weeks_since = now - timedelta(weeks=26)
        rows = await extract.complaints_per_week(db, weeks_since, p.per_week(weeks_since))
        week_src.data = {"week": [w for w, _, _ in rows], "complaints": [c for _, c, _ in rows],
                         "per100": [100 * c / p if p else 0 for _, c, p in rows]}
        weeks.x_range.factors = [w for w, _, _ in rows]
        result = await data.cached(("after complaints", now), lambda: _after(db, p, since, now))
        after_src.data = {"group": groups, "rate": [result.fast or 0, result.slow or 0, result.baseline or 0]}
        after.title.text = tr(f"Beli lagi ≤ {WINDOW_DAYS} hari", f"Bought again ≤ {WINDOW_DAYS} days") + \
            f" (n = {result.fast_n} · {result.slow_n})"
        health = [status.describe(dict(r)) for r in await db.fetchall("SELECT * FROM modem_status ORDER BY modem_id")]
        modems.text = "<b>Modem</b>" + html_table(
            ["Modem", "Status", tr("Sinyal", "Signal"), tr("Jaringan", "Network"), tr("Terkirim", "Sent"),
             tr("Galat", "Error")],
            [[m["modem"], m["state"], m["signal"], m["network"], m["sent"], m["last_error"]] for m in health])
        bump(marker)

    doc.add_root(column(heading, figures, after, weeks, modems, marker, sizing_mode="stretch_width", name="service"))
    doc.title = tr("Layanan", "Service")
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh
