"""The phone simulator page: type as a customer on the emulated modems and see the replies.

Shown only when the pool has emulated modems; a real modem is never reachable from here.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from .base import CTX, MAX_SMS_TEXT, page_error, render

DEFAULT_PHONE = "0812 0000 1234"


def _simulator(request: web.Request):
    simulator = request.app[CTX].simulator
    if simulator is None:
        raise page_error(web.HTTPNotFound, "error.no_simulator")
    return simulator


async def simulator_page(request: web.Request) -> web.Response:
    simulator = _simulator(request)
    typed = request.query.get("phone", DEFAULT_PHONE)[:40]
    phone = simulator.phone(typed)
    return render(request, "simulator.html", typed=typed, phone=phone, error=request.query.get("error"),
                  entries=simulator.conversation(phone) if phone else [], live="simulator")


async def simulator_send(request: web.Request) -> web.Response:
    simulator = _simulator(request)
    form = await request.post()
    typed, text = str(form.get("phone", ""))[:40], str(form.get("text", ""))
    phone = simulator.phone(typed)
    target = "/simulator?phone=" + quote(typed, safe="")
    if phone is None:
        raise web.HTTPFound(target + "&error=number")
    if not text.strip() or len(text) > MAX_SMS_TEXT:
        raise web.HTTPFound(target + "&error=text")
    simulator.send(phone, text)
    raise web.HTTPFound(target)


def add_routes(app: web.Application) -> list[dict]:
    """Mount the simulator; its navigation entry shows only when there are emulated modems."""
    app.router.add_get("/simulator", simulator_page)
    app.router.add_post("/simulator/send", simulator_send)
    return [{"path": "/simulator", "key": "nav.simulator", "role": "staff",
             "when": lambda ctx: ctx.simulator is not None}]
