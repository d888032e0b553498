"""The complaint plugin's web side: the desk at /complaints, the JSON API and the customer page section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from smsd_crm import ApiProblem, ApiRoute, Page, PluginContext, ProfileSection, Speaker, hookimpl

from .tickets import ComplaintError, answer, close

MAX_ANSWER = 600


async def complaint_desk(view, ctx: PluginContext):
    """Open tickets oldest first; an answer goes out as SMS; close with a note."""
    message = ""
    if view.method == "POST":
        try:
            number = int(view.form.get("ticket", ""))
            if view.form.get("action") == "close":
                await close(ctx, number, view.form.get("text", "")[:MAX_ANSWER])
            else:
                await answer(ctx, number, view.form.get("text", "")[:MAX_ANSWER], author=f"web:{view.user['username']}")
        except (ValueError, ComplaintError) as exc:
            message = str(exc) if isinstance(exc, ComplaintError) else "bad request"
        else:
            view.redirect("/complaints")
    rows = await ctx.db.fetchall(
        "SELECT t.*, c.name AS customer, c.id AS customer_id FROM complaints t "
        "LEFT JOIN customers c ON c.phone = t.phone WHERE t.state != 'closed' ORDER BY t.opened_at, t.id")
    tickets = []
    for t in rows:  # times stay stored UTC instants: the template's when() / clock() show them in shop time
        tickets.append({**t, "customer": t["customer"] or "?", "notes": await _notes(ctx, t["id"])})
    return view.render("complaint_desk.html", tickets=tickets, message=message)


async def _notes(ctx: PluginContext, ticket_id: int) -> list[dict]:
    return await ctx.db.fetchall("SELECT * FROM complaint_notes WHERE complaint_id = ? ORDER BY at", (ticket_id,))


@hookimpl
def register_pages():
    """The complaints desk at /complaints (staff and owner); it reloads itself when a ticket changes."""
    return [Page("/complaints", "Keluhan", complaint_desk, titles={"en": "Complaints"}, live="complaints")]


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
    rows = await ctx.db.fetchall("SELECT * FROM complaints WHERE (? IS NULL OR state = ?) ORDER BY id DESC LIMIT ?",
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
