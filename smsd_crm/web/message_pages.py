"""Messages: inbox and outbox with states, a conversation per number, compose, retry or cancel."""

from __future__ import annotations

from aiohttp import web

from .. import phones
from ..sms.compose import count_parts
from ..sms.typed_text import tidy_typed
from ..storage import customers, form_uses, messages
from .auth import local
from .base import CTX, MAX_SMS_PARTS, MAX_SMS_TEXT, USER, int_or_404, page_error, render, send_sms

BOXES = {"in": ("received", "handled", "failed"),
         "out": ("queued", "sending", "sent", "delivered", "failed", "cancelled")}


async def message_list(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    box = request.query.get("box", "in")
    box = box if box in BOXES else "in"
    state = request.query.get("state") or None
    state = state if state in BOXES[box] else None
    before = request.query.get("before")
    rows = await messages.list_messages(ctx.db, direction=box, state=state, limit=100,
                                        before=int_or_404(before) if before else None)
    return render(request, "messages.html", messages=rows, box=box, state=state, states=BOXES[box],
                  older=rows[-1]["id"] if len(rows) == 100 else None, live="messages")


async def conversation(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    raw = request.query.get("phone", "")[:40]
    phone = phones.normalize(raw, ctx.store.country)
    if phone is None:
        raise page_error(web.HTTPBadRequest, "error.not_a_phone")
    rows = await messages.list_messages(ctx.db, phone=phone, limit=300)
    return render(request, "conversation.html", phone=phone, messages=list(reversed(rows)),
                  customer=await customers.get_by_phone(ctx.db, phone), error=None, text="", live="messages",
                  sent=request.query.get("sent") == "1")


def _conversation_url(phone: str, sent: bool = False) -> str:
    return f"/messages/conversation?phone={phone.replace('+', '%2B')}" + ("&sent=1#compose" if sent else "")


async def compose(request: web.Request) -> web.Response:
    """Send an SMS typed by staff (to a customer or any number), once however often the form is posted."""
    ctx = request.app[CTX]
    form = await request.post()
    raw, text = str(form.get("phone", ""))[:40], tidy_typed(str(form.get("text", "")))
    phone = phones.normalize(raw, ctx.store.country)
    error = None
    if phone is None:
        error = "number"
    elif not text:
        error = "empty"
    elif len(text) > MAX_SMS_TEXT or count_parts(text) > MAX_SMS_PARTS:
        error = "long"
    if error:
        rows = await messages.list_messages(ctx.db, phone=phone, limit=300) if phone else []
        return render(request, "conversation.html", status=400, phone=phone or raw, messages=list(reversed(rows)),
                      customer=await customers.get_by_phone(ctx.db, phone) if phone else None,
                      error=error, text=text, sent=False)
    if await form_uses.claim(ctx.db, str(form.get("once", "")), ctx.clock()):  # else a repeat: sent already
        await send_sms(ctx, phone, text, f"staff:{request[USER]['username']}")
    raise web.HTTPFound(_conversation_url(phone, sent=True))


async def _change(request: web.Request, change) -> web.Response:
    ctx = request.app[CTX]
    form = await request.post()
    message_id = int_or_404(request.match_info["id"])
    if not await change(ctx.db, message_id, ctx.clock()):
        raise page_error(web.HTTPConflict, "error.message_locked")
    ctx.outbox.notify(None)  # due again: wake the senders
    ctx.live.bump("messages")
    raise web.HTTPFound(local(str(form.get("next", "/messages?box=out"))))


async def retry(request: web.Request) -> web.Response:
    return await _change(request, messages.retry)


async def cancel(request: web.Request) -> web.Response:
    return await _change(request, messages.cancel)


def add_routes(app: web.Application) -> list[dict]:
    """Mount the message pages; return their navigation entry."""
    app.router.add_get("/messages", message_list)
    app.router.add_get("/messages/conversation", conversation)
    app.router.add_post("/messages/send", compose)
    app.router.add_post("/messages/{id}/retry", retry)
    app.router.add_post("/messages/{id}/cancel", cancel)
    return [{"path": "/messages", "key": "nav.messages", "role": "staff"}]
