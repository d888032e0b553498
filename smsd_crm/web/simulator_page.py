"""The phone simulator page: type as a customer on the emulated modems and see the replies.

Shown only when the pool has emulated modems; a real modem is never reachable from here. Staff send
only from the test numbers of ``simulator.numbers`` (``simulator.any_number`` opens every number)
and never from a number holding a secret (the owner's); the owner sends from any number.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from ..config import SimulatorConfig
from .base import CTX, MAX_SMS_TEXT, USER, page_error, render

DEFAULT_PHONE = "0812 0000 1234"


def _simulator(request: web.Request):
    simulator = request.app[CTX].simulator
    if simulator is None:
        raise page_error(web.HTTPNotFound, "error.no_simulator")
    return simulator


def _rules(request: web.Request) -> SimulatorConfig:
    settings = request.app[CTX].settings
    return settings.simulator if settings is not None else SimulatorConfig()


def refusal(request: web.Request, phone: str) -> str | None:
    """Why this login may not send from ``phone`` (E.164), or None: staff play only test numbers, never
    a number that holds a secret (an owner's: its texts carry the PIN and its commands act)."""
    if request[USER]["role"] == "owner":
        return None
    host = request.app[CTX].host
    if host is not None and phone in host.number_secrets():
        return "owner_number"
    return None if _rules(request).allows(phone) else "range"


async def simulator_page(request: web.Request) -> web.Response:
    simulator = _simulator(request)
    typed = request.query.get("phone", DEFAULT_PHONE)[:40]
    phone = simulator.phone(typed)
    rules = _rules(request)
    limited = request[USER]["role"] != "owner" and not rules.any_number
    # Staff read only the threads they may type in: never the owner's (reports, stock) nor a real customer's.
    why = refusal(request, phone) if phone else None
    return render(request, "simulator.html", typed=typed, phone=phone, error=request.query.get("error") or why,
                  entries=simulator.conversation(phone) if phone and why is None else [], live="simulator",
                  prefixes=", ".join(rules.numbers) if limited else None)


async def simulator_send(request: web.Request) -> web.Response:
    simulator = _simulator(request)
    form = await request.post()
    typed, text = str(form.get("phone", ""))[:40], str(form.get("text", ""))
    phone = simulator.phone(typed)
    target = "/simulator?phone=" + quote(typed, safe="")
    if phone is None:
        raise web.HTTPFound(target + "&error=number")
    why = refusal(request, phone)
    if why is not None:
        raise web.HTTPFound(target + "&error=" + why)
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
