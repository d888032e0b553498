"""The home page for today: what needs doing first, on one phone screen.

Plugins bring their own sections (``home_section``: the order plugin's new orders, the complaint
plugin's open complaints, oldest first with their age); the core adds today's sales against the same
weekday last week up to the same hour, the messages waiting or failed, and the modems' health.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aiohttp import web

from .. import status
from ..analytics.sales import revenue_between
from ..models import HomeLine, HomeSection
from ..storage import messages
from ..understanding.grammar import format_rupiah
from .base import CTX, USER, language, render, speaker
from .credit_words import day_text

STALE_MODEM = timedelta(seconds=status.STALE_AFTER)  # the daemon rewrites every row every few seconds


async def home(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    now = ctx.clock().astimezone(timezone.utc)
    sections: list[HomeSection] = []
    if ctx.host is not None:
        found = await ctx.host.collect("home_section", language=language(request), now=now)
        sections += [section for _, section in found if isinstance(section, HomeSection)]
    sections += [await _sales(request, now), await _messages(request, now), await _modems(request, now)]
    sections.sort(key=lambda s: s.order)
    return render(request, "home.html", sections=sections, now_iso=now.isoformat(), live="home")


async def _sales(request: web.Request, now: datetime) -> HomeSection:
    ctx, speak = request.app[CTX], speaker(request)
    start = ctx.store.time.today_start(now)
    # this store's, as LAPORAN and the order desk count (a chain's totals are on the sales dashboard)
    today = await revenue_between(ctx.db, start, now, ctx.db.store)
    week_ago = await revenue_between(ctx.db, start - timedelta(days=7), now - timedelta(days=7), ctx.db.store)
    weekday = speak.t(f"weekday.{(start + timedelta(hours=12)).astimezone(ctx.store.time.zone).weekday()}")
    if week_ago.revenue:
        change = (today.revenue - week_ago.revenue) * 100 / week_ago.revenue
        compare = speak.t("home.sales_change", change=f"{change:+.0f}%", weekday=weekday,
                          before=speak.money(week_ago.revenue), clock=speak.clock(now))
    else:
        compare = speak.t("home.sales_none_before", weekday=weekday, clock=speak.clock(now))
    lines = [HomeLine(speak.t("home.sales_sms"), None, speak.money(today.sms_revenue)),
             HomeLine(speak.t("home.sales_till"), None, speak.money(today.till_revenue)),
             HomeLine(compare, None, "", alert=bool(week_ago.revenue) and today.revenue < week_ago.revenue)]
    owner = request[USER]["role"] == "owner"
    return HomeSection(speak.t("home.sales"), lines, summary=speak.money(today.revenue), order=30,
                       link="/dash/sales" if owner and ctx.dashboards is not None else None,
                       link_text=speak.t("home.to_dashboards"))


async def _messages(request: web.Request, now: datetime) -> HomeSection:
    ctx, speak = request.app[CTX], speaker(request)
    counts = await messages.outbox_counts(ctx.db)
    waiting = counts.get("queued", 0) + counts.get("sending", 0)
    today = ctx.store.time.today_start(now).astimezone(timezone.utc).isoformat()
    failed = (await ctx.db.fetchone("SELECT COUNT(*) AS n FROM messages WHERE direction = 'out' AND state = 'failed' "
                                    "AND updated_at >= ?", (today,)))["n"]  # today's: old ones are history
    lines = [HomeLine(speak.t("home.messages_waiting"), "/messages?box=out&state=queued", speak.number(waiting)),
             HomeLine(speak.t("home.messages_failed"), "/messages?box=out&state=failed", speak.number(failed),
                      alert=failed > 0)]
    return HomeSection(speak.t("nav.messages"), lines, order=40, link="/messages", link_text=speak.t("home.to_messages"))


async def _modems(request: web.Request, now: datetime) -> HomeSection:
    ctx, speak = request.app[CTX], speaker(request)
    lines = []
    alerts: dict[str, list[str]] = {}
    for modem_id, reason in await ctx.db.fetchall(
            "SELECT modem_id, reason FROM credit_alerts WHERE store_id = ? ORDER BY reason", (ctx.db.store,)):
        alerts.setdefault(modem_id, []).append(reason)
    for row in await messages.modem_rows(ctx.db):
        d = status.describe(row)
        stale = now - datetime.fromisoformat(row["updated_at"]).astimezone(timezone.utc) > STALE_MODEM
        state = speak.t("home.modem_silent") if stale else speak.word("modem_state", d["state"])
        credit = [speak.t(f"home.credit_{reason}", balance=format_rupiah(row["balance"] or 0),
                          date=day_text(row["active_until"])) for reason in alerts.get(row["modem_id"], [])]
        lines.append(HomeLine(" · ".join([d["modem"], state, *credit]), None,
                              speak.t("home.signal", signal=d["signal"]),
                              alert=stale or d["state"] != "ready" or bool(credit)))
    owner = request[USER]["role"] == "owner"
    return HomeSection(speak.t("home.modems"), lines, order=50, empty=speak.t("home.no_modems"),
                       link="/admin/modems" if owner else None, link_text=speak.t("home.to_modems"))
