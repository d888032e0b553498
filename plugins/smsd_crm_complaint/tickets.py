"""The complaint plugin's SMS side and staff commands: tickets opened by SMS, answered and closed.

Timestamps (opened, first answer, closed) are kept for the service analytics.
Staff use ``smsd-crm complaint list|show|answer|close``; answers go out as SMS.
"""

from __future__ import annotations

from pydantic import Field

from smsd_crm import (
    Command,
    Complaint,
    ComplaintChanged,
    ComplaintOpened,
    Message,
    PluginConfig,
    PluginContext,
    Reply,
    Speaker,
    hookimpl,
    record_number,
    tidy_typed,
)

MAX_TEXT = 1000


class ComplaintConfig(PluginConfig):
    """Keywords and replies of the complaint plugin."""

    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "complain": {"id": ["KOMPLAIN", "KELUHAN", "ADUAN"], "en": ["COMPLAINT", "COMPLAIN"]},
    })
    replies: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "id": {
            "opened": "Keluhan Anda tercatat dengan nomor K{no}. Kami segera menindaklanjuti. Terima kasih.",
            "added": "Tambahan untuk keluhan K{no} sudah kami terima. Terima kasih.",
            "usage": "Format: KOMPLAIN isi keluhan. Contoh: KOMPLAIN telur yang saya beli pecah",
            "answer": "K{no}: {text}",
            "closed": "Keluhan K{no} kami tutup. Terima kasih atas masukan Anda.",
        },
        "en": {
            "opened": "Your complaint is recorded as K{no}. We will follow up soon. Thank you.",
            "added": "We received more about complaint K{no}. Thank you.",
            "usage": "Format: COMPLAINT your message. Example: COMPLAINT the eggs I bought were broken",
            "answer": "K{no}: {text}",
            "closed": "Complaint K{no} is closed. Thank you for your feedback.",
        },
    })


@hookimpl
def register_config_model():
    """The complaint plugin's config section."""
    return ComplaintConfig


FOLLOW_UP_MINUTES = 30


@hookimpl
async def handle_message(message: Message, ctx: PluginContext) -> Reply | None:
    """Open a ticket, or add to the customer's open ticket; for 30 minutes plain texts add to it too."""
    if message.phone is None:
        return None
    if message.command == "complain":
        text = message.args
    elif message.conversation_plugin == ctx.name and message.command is None and message.text.strip():
        text = message.text  # a follow-up without a keyword, while the dialogue is open
    else:
        return None
    lang, text = message.language, text.strip(" #.,;*")[:MAX_TEXT]
    if not text:
        return Reply(ctx.text("usage", lang))
    async with ctx.db.transaction():
        open_ticket = await ctx.complaints.latest_open(message.phone)
        if open_ticket:  # more from the customer: the ticket waits for staff again, answered or not
            number, template = open_ticket.id, "added"
        else:
            number, template = await ctx.complaints.open(message.phone, lang), "opened"
        await ctx.complaints.add_note(number, "customer", text, message.id)
        await ctx.conversations.open(message.phone, {"ticket": number}, FOLLOW_UP_MINUTES)
    await ctx.emit(ComplaintOpened(number, message.phone, text) if template == "opened"
                   else ComplaintChanged(number, message.phone, "open"))
    # a follow-up's acknowledgement is budgeted like an automatic answer: a machine echoing it back
    # into the open ticket must not run up an endless exchange (the note is kept either way)
    return Reply(ctx.text(template, lang, no=number), fallback=template != "opened")


class ComplaintError(Exception):
    """A staff command that cannot be done. ``str()`` is English (the API, logs); ``say(speak)`` says
    it in a person's language from the catalogue (``complaint.error.*``)."""

    def __init__(self, name: str, number: int | None = None) -> None:
        self.name, self.number = name, number
        super().__init__(self.say(Speaker("en")))

    def say(self, speak: Speaker) -> str:
        """The problem in ``speak``'s language."""
        return speak.t(f"complaint.error.{self.name}", no=self.number)


async def _open_ticket(ctx: PluginContext, number: int) -> Complaint:
    """The ticket, or ComplaintError if it does not exist or is closed."""
    ticket = await ctx.complaints.get(number)
    if ticket is None:
        raise ComplaintError("not_found", number)
    if ticket.state == "closed":
        raise ComplaintError("closed", number)
    return ticket


def answer_frame(ctx: PluginContext, number: int, language: str) -> tuple[str, str]:
    """What the ``answer`` template puts before and after the staff's words (``("K12: ", "")``).

    The staff's words go out exactly as typed, an emoji included: unlike a customer's words echoed
    in a reply, they were written for this SMS, and the desk's counter showed what they cost."""
    before, _, after = ctx.text("answer", language, no=number, text="{text}").partition("{text}")
    return before, after


async def answer(ctx: PluginContext, number: int, text: str, author: str = "staff") -> None:
    """Send the staff's answer as SMS; the first one sets the first-answer time."""
    text = tidy_typed(text)  # line breaks kept: staff may write a list
    if not text:
        raise ComplaintError("empty_answer", number)
    async with ctx.db.transaction():
        ticket = await _open_ticket(ctx, number)
        await ctx.complaints.mark_answered(number)
        await ctx.complaints.add_note(number, author, text)
        before, after = answer_frame(ctx, number, ticket.language)
        await ctx.send(ticket.phone, before + text + after)
    await ctx.emit(ComplaintChanged(number, ticket.phone, "answered"))


async def close(ctx: PluginContext, number: int, note: str = "") -> None:
    """Close a ticket with a note; the customer is told."""
    async with ctx.db.transaction():
        ticket = await _open_ticket(ctx, number)
        await ctx.complaints.mark_closed(number, note or None)
        if note:  # an internal note, kept with the ticket's messages where the desk, the API and the CLI show them
            await ctx.complaints.add_note(number, "note", note)
        await ctx.send(ticket.phone, ctx.text("closed", ticket.language, no=number))
    await ctx.emit(ComplaintChanged(number, ticket.phone, "closed"))


def _arguments(parser) -> None:
    parser.add_argument("action", choices=["list", "show", "answer", "close"],
                        help="list tickets (oldest first), show one, answer it by SMS, or close it")
    parser.add_argument("number", nargs="?", type=record_number("K"),
                        help="the ticket number as shown: K12 (or 12)")
    parser.add_argument("text", nargs="?", default="", help="the answer (for answer) or a note (for close)")
    parser.add_argument("--state", choices=["open", "answered", "closed", "all"], default="open")


async def _staff(args, ctx: PluginContext) -> int:
    speak = ctx.speaker(getattr(args, "lang", None))  # the shop's language unless --lang says otherwise
    if args.action == "list":
        where = "" if args.state == "all" else "WHERE state = ?"
        rows = await ctx.db.fetchall(f"SELECT * FROM complaints {where} ORDER BY id",
                                     () if args.state == "all" else (args.state,))
        for t in rows:
            first = await ctx.db.fetchone("SELECT text FROM complaint_notes WHERE complaint_id = ? ORDER BY at LIMIT 1",
                                          (t["id"],))
            print(f"K{t['id']:<5} {speak.word('state', t['state']):<9} {t['phone']:<16} {speak.when(t['opened_at'])}  "
                  f"{first['text'][:50]!r}")
        print(speak.t("complaint.cli.count", count=len(rows)))
        return 0
    if args.number is None:
        print(speak.t("cli.error", problem=speak.t("complaint.cli.needs_number", action=args.action)))
        return 2
    try:
        if args.action == "show":
            ticket = await ctx.db.fetchone("SELECT * FROM complaints WHERE id = ?", (args.number,))
            if ticket is None:
                raise ComplaintError("not_found", args.number)
            print(speak.t("complaint.cli.show", no=ticket["id"], state=speak.word("state", ticket["state"]),
                          phone=ticket["phone"], opened=speak.when(ticket["opened_at"])))
            for n in await ctx.db.fetchall("SELECT * FROM complaint_notes WHERE complaint_id = ? ORDER BY at",
                                           (args.number,)):
                print(f"  {speak.when(n['at'])} {speak.word('author', n['author'])}: {n['text']!r}")
        elif args.action == "answer":
            await answer(ctx, args.number, args.text)
            print(speak.t("complaint.cli.answered", no=args.number))
        else:
            await close(ctx, args.number, args.text)
            print(speak.t("complaint.cli.closed", no=args.number))
    except ComplaintError as exc:
        print(speak.t("cli.error", problem=exc.say(speak)))
        return 1
    return 0


@hookimpl
def register_commands():
    """``smsd-crm complaint list|show|answer|close``."""
    return [Command("complaint", "list complaints and answer or close them (by SMS)", _arguments, _staff)]
