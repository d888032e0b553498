"""The complaint plugin's web side: the desk at /complaints, the JSON API and the customer page section."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, Field

from smsd_crm import (
    ApiRoute,
    HomeLine,
    HomeSection,
    Page,
    PluginContext,
    ProfileSection,
    Speaker,
    hookimpl,
    record_id,
    tidy_typed,
)

from .tickets import ComplaintError, answer, answer_frame, close

MAX_ANSWER = 600


async def complaint_desk(view, ctx: PluginContext):
    """Open tickets oldest first. "Send reply" texts the answer; "Close" asks first (showing the SMS
    the customer will get and any reply typed but not sent). Nothing typed is lost: a refused form
    comes back with its text, and the page keeps a draft in the browser until the reply is sent."""
    if view.method != "POST":
        return await _desk(view, ctx, notice=await _notice(view, ctx))
    text = tidy_typed(view.form.get("text", ""))
    action = view.form.get("action", "")
    number = record_id(view.form.get("ticket", ""))
    ticket = await ctx.db.fetchone("SELECT * FROM complaints WHERE id = ?", (number,)) if number else None
    if ticket is None:
        return await _desk(view, ctx, error=view.t("complaints.unknown"), unsent=text, status=400)
    if ticket["state"] == "closed" and action != "back":
        if not await view.first_time():  # this very form already closed it: say so again
            view.redirect(f"/complaints?done=closed&k={number}")
        await view.not_done()
        return await _desk(view, ctx, error=view.t("complaints.gone", no=number), unsent=text, status=409)
    if action == "back":  # from the question: the desk, with the draft the browser kept (compose.js)
        view.redirect(f"/complaints#ticket-{number}")
    if action in ("answer", "close_send") and not text:
        return await _desk(view, ctx, error=view.t("complaints.empty_answer"), status=400)
    if len(text) > MAX_ANSWER:
        return await _desk(view, ctx, error=view.t("complaints.too_long", n=MAX_ANSWER), unsent=text, status=400)
    if action == "close":
        return view.render("complaint_close.html", live=False, ticket=ticket, text=text,
                           frame=answer_frame(ctx, number, ticket["language"]),
                           closing_sms=ctx.text("closed", ticket["language"], no=number),
                           notes=await _notes(ctx, number))
    if action not in ("answer", "close_send", "close_confirmed"):
        return await _desk(view, ctx, error=view.t("complaints.unknown"), unsent=text, status=400)
    close_after = action != "answer"
    done = {"answer": "answered", "close_send": "answered_closed"}.get(action, "closed")
    if not await view.first_time():  # a double tap or a resent form: it was done once, not again
        view.redirect(f"/complaints?done={done}&k={number}")
    try:
        if action != "close_confirmed":
            await answer(ctx, number, text, author=f"web:{view.user['username']}")
        if close_after:
            await close(ctx, number, text if action == "close_confirmed" else "")
    except ComplaintError as exc:
        await view.not_done()
        return await _desk(view, ctx, error=exc.say(view.speak), unsent=text, status=409)
    view.redirect(f"/complaints?done={done}&k={number}")


async def _notice(view, ctx: PluginContext) -> str:
    """The line that says what the last action did (after post/redirect/get), when the ticket shows it."""
    done, number = view.query.get("done", ""), record_id(view.query.get("k", ""))
    ticket = await ctx.db.fetchone("SELECT state FROM complaints WHERE id = ?", (number,)) if number else None
    if ticket is None or (done, ticket["state"]) not in (("answered", "answered"), ("answered", "closed"),
                                                         ("closed", "closed"), ("answered_closed", "closed")):
        return ""
    return view.t(f"complaints.done_{done}", no=number)


async def _desk(view, ctx: PluginContext, *, notice: str = "", error: str = "", unsent: str = "",
                status: int = 200):
    rows = await ctx.db.fetchall(
        "SELECT t.*, c.name AS customer, c.id AS customer_id FROM complaints t "
        "LEFT JOIN customers c ON c.phone = t.phone WHERE t.state != 'closed' ORDER BY t.opened_at, t.id")
    tickets = []
    for t in rows:  # times stay stored UTC instants: the template's when() / clock() show them in shop time
        tickets.append({**t, "notes": await _notes(ctx, t["id"]),
                        "frame": answer_frame(ctx, t["id"], t["language"])})
    sent = view.query.get("k", "") if view.query.get("done") else ""
    page = view.render("complaint_desk.html", live=not error, tickets=tickets, notice=notice, error=error,
                       unsent=unsent, sent_draft=f"complaint-{sent}" if record_id(sent) else "")
    page.set_status(status)
    return page


async def _notes(ctx: PluginContext, ticket_id: int) -> list[dict]:
    return await ctx.db.fetchall("SELECT * FROM complaint_notes WHERE complaint_id = ? ORDER BY at", (ticket_id,))


@hookimpl
def register_pages():
    """The complaints desk at /complaints (staff and owner); it reloads itself when a ticket changes."""
    return [Page("/complaints", "Keluhan", complaint_desk, titles={"en": "Complaints"}, live="complaints")]


HOME_LINES = 5
LATE_HOURS = 24  # an open complaint older than this is shown as needing attention


@hookimpl
async def home_section(ctx: PluginContext, language: str, now):
    """Open complaints on the home page, oldest first with their age (a day or older stands out)."""
    speak = Speaker(language, time=ctx.store.time)
    counts = {r["state"]: r["n"] for r in await ctx.db.fetchall(
        "SELECT state, COUNT(*) AS n FROM complaints WHERE state != 'closed' GROUP BY state")}
    rows = await ctx.db.fetchall(
        "SELECT t.id, t.phone, t.state, t.opened_at, c.name, (SELECT text FROM complaint_notes n WHERE n.complaint_id = t.id "
        "ORDER BY n.at LIMIT 1) AS first FROM complaints t LEFT JOIN customers c ON c.phone = t.phone "
        "WHERE t.state != 'closed' ORDER BY t.opened_at, t.id LIMIT ?", (HOME_LINES,))
    late = (now - timedelta(hours=LATE_HOURS)).isoformat()
    lines = [HomeLine(f"K{t['id']} · {t['name'] or t['phone']} · {speak.word('state', t['state'])}:",
                      f"/complaints#ticket-{t['id']}", speak.age(t["opened_at"], now), alert=t["opened_at"] < late,
                      quote=(t["first"] or "")[:60])
             for t in rows]
    return HomeSection(speak.t("nav.complaints"), lines, order=20, link="/complaints",
                       link_text=speak.t("home.to_complaints"),
                       summary=speak.t("home.complaints_summary", open=speak.number(counts.get("open", 0)),
                                       answered=speak.number(counts.get("answered", 0))),
                       empty=speak.t("no_open_complaints"))


# ------------------------------------------------------------------ JSON API

class NoteOut(BaseModel):
    """One message on a ticket: from the customer or an answer by staff."""

    at: str
    author: str
    text: str


class ComplaintOut(BaseModel):
    """A complaint ticket (K12 is id 12)."""

    id: int
    phone: str
    state: Literal["open", "answered", "closed"]
    opened_at: str
    first_answer_at: str | None
    closed_at: str | None
    notes: list[NoteOut]


class ComplaintQuery(BaseModel):
    """Filters for the ticket list."""

    state: Literal["open", "answered", "closed"] | None = None
    limit: int = Field(100, ge=1, le=500)


async def api_list(call, ctx: PluginContext) -> list[ComplaintOut]:
    state = call.query.state
    rows = await ctx.db.fetchall("SELECT * FROM complaints WHERE (CAST(? AS TEXT) IS NULL OR state = ?) ORDER BY id DESC LIMIT ?",
                                 (state, state, call.query.limit))
    out = []
    for t in rows:
        notes = [NoteOut(at=n["at"], author=n["author"], text=n["text"]) for n in await _notes(ctx, t["id"])]
        out.append(ComplaintOut(**{k: t[k] for k in ("id", "phone", "state", "opened_at", "first_answer_at",
                                                     "closed_at")}, notes=notes))
    return out


@hookimpl
def register_api():
    """List complaint tickets with their notes."""
    return [ApiRoute("GET", "/api/complaints", api_list, "List complaint tickets, newest first",
                     response=list[ComplaintOut], query=ComplaintQuery, tag="complaints")]


@hookimpl
async def customer_profile(customer, ctx: PluginContext, language: str):
    """The customer's complaint tickets on their page, in the page's language."""
    speak = Speaker(language, time=ctx.store.time)
    rows = await ctx.db.fetchall("SELECT * FROM complaints WHERE phone = ? ORDER BY id DESC LIMIT 50", (customer.phone,))
    out = []
    for t in rows:
        notes = await _notes(ctx, t["id"])
        out.append([f"K{t['id']}", speak.when(t["opened_at"]), speak.word("state", t["state"]),
                    notes[0]["text"][:120] if notes else "", str(len(notes))])
    return ProfileSection(speak.t("nav.complaints"), ["#", speak.t("opened"), speak.t("state_heading"),
                                                      speak.t("text"), speak.t("notes")], out,
                          summary=speak.number(len(rows)))


__all__ = ["complaint_desk", "customer_profile", "register_api", "register_pages"]
