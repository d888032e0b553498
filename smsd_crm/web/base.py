"""What every web page shares: the context, request keys, the page renderer and the language."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Callable
from urllib.parse import unquote, urlsplit

import jinja2
from aiohttp import web
from markupsafe import Markup

from ..config import CostsConfig, OutboxConfig, Settings, StoreConfig, WebConfig
from ..i18n import Speaker, catalogue, pick_language
from ..models import SmsQueue
from ..outbox import Outbox
from ..sms import gsm7
from ..storage import messages
from ..storage.db import Database
from .live import LiveFeed
from .passwords import Hashing
from .throttle import LoginThrottle

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LANGUAGES = ("id", "en")
LANG_COOKIE = "smsd_lang"


@dataclass(frozen=True)
class WebContext:
    """What the pages need; built by the composition root."""

    db: Database
    config: WebConfig
    store: StoreConfig
    clock: Callable[[], datetime]
    host: Any = None  # the PluginHost, for the pages and API routes plugins add
    live: LiveFeed = field(default_factory=LiveFeed)
    simulator: Any = None  # a PhoneSimulator when the pool has emulated modems, else None
    settings: Settings | None = None  # for the modems and plugins pages
    outbox: SmsQueue | None = None  # the daemon's outbox; None: one that only queues (see __post_init__)
    dashboards: Any = None  # a started DashboardProxy (smsd_crm_dashboards.proxy), or None
    campaigns: Any = None  # the CampaignService, or None (no campaigns page)

    def __post_init__(self) -> None:
        if self.outbox is None:  # pages without a daemon (tests, tools): rows are queued for one
            object.__setattr__(self, "outbox", Outbox(self.db, OutboxConfig(), self.clock))


CTX = web.AppKey("web_context", WebContext)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
NAV = web.AppKey("nav", list)
USER = web.RequestKey("user", object)  # the logged-in session row (username, role, csrf)
CLIENT = web.RequestKey("api_client", str)  # the API client's name
LIVE_SEEN = web.RequestKey("live_seen", dict)  # the topics' versions when the request came in


@web.middleware
async def live_versions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Note the live topics' versions before a page reads its data. A page embeds the version it was
    built from; read after the data, a change landing in between (a campaign finishing while its page
    is being built) would count as shown, and the page would never reload to show it."""
    request[LIVE_SEEN] = request.app[CTX].live.snapshot()
    return await handler(request)
THROTTLE = web.AppKey("login_throttle", LoginThrottle)  # wrong-login counts (auth.login, the account page)
HASHING = web.AppKey("hashing", Hashing)  # password checks and hashes, a few at a time


def owner_only(handler: Handler) -> Handler:
    """Mark a page the owner may see and staff may not."""
    handler.owner_only = True  # type: ignore[attr-defined]
    return handler


def language(request: web.Request) -> str:
    """The page language: the visitor's choice (cookie), else the shop's."""
    return pick_language(request.cookies.get(LANG_COOKIE), request.app[CTX].store.language)


def translator(lang: str) -> Callable[[str, str], str]:
    """``tr(indonesian, english)`` picks the text for ``lang`` (for third-party plugin templates; the
    core and built-in pages name their texts in the catalogue with ``t(name)``)."""
    return (lambda id_text, en_text: en_text) if lang == "en" else (lambda id_text, en_text: id_text)


def speaker(request: web.Request) -> Speaker:
    """The page's texts, words, numbers and times: its language, the shop's time zone."""
    return Speaker(language(request), time=request.app[CTX].store.time)


def nav_label(item: dict, speak: Speaker) -> str:
    """A menu entry's label: a catalogue name (core pages) or a plugin page's own titles."""
    if "key" in item:
        return speak.t(item["key"])
    return item["titles"].get(speak.lang, item["title"])


def csrf_field(user) -> Markup:
    """The hidden CSRF input every form needs."""
    token = Markup.escape(user["csrf"]) if user else ""
    return Markup(f'<input type="hidden" name="csrf" value="{token}">')


def once_field() -> Markup:
    """A hidden input with a fresh random token: the form acts once however often it is posted
    (``storage.form_uses``; put it in every form that texts a customer)."""
    return Markup(f'<input type="hidden" name="once" value="{secrets.token_urlsafe(18)}">')


def render(request: web.Request, name: str, status: int = 200, *, live: str | None = None,
           **values: Any) -> web.Response:
    """A page from a template; every value is HTML-escaped (autoescape).

    ``live`` names an event topic: the page reloads itself when that topic changes.
    """
    env = request.app[TEMPLATES]
    user = request.get(USER)
    lang = language(request)
    speak = speaker(request)
    nav = [dict(n, label=nav_label(n, speak)) for n in request.app[NAV]
           if user and (n["role"] == "staff" or user["role"] == "owner")
           and (n.get("when") is None or n["when"](request.app[CTX]))]
    html = env.get_template(name).render(
        user=user, store=request.app[CTX].store, nav=nav, lang=lang, tr=translator(lang), **speak.functions(),
        path=request.path_qs, live=(live, request.get(LIVE_SEEN, {}).get(live, 0)) if live else None,
        csrf_field=lambda: csrf_field(user), once_field=once_field, sms=sms_facts(request.app[CTX]), **values)
    return web.Response(text=html, content_type="text/html", status=status)


MAX_SMS_TEXT = 1530  # characters a staff SMS may have (ten parts of GSM-7)
MAX_SMS_PARTS = 10  # and the parts it may cost (1530 emoji would be 47 parts of UCS-2)


@dataclass(frozen=True)
class SmsFacts:
    """What the compose counter (static/compose.js) needs: the GSM-7 alphabet (TS 23.038) without
    ESC, its extension characters, and the rupiah per SMS part (``costs.sms_part``)."""

    gsm7: str
    extension: str
    price: float


def sms_facts(ctx: WebContext) -> SmsFacts:
    """The counter's facts for this shop."""
    price = ctx.settings.costs.sms_part if ctx.settings is not None else CostsConfig().sms_part
    return SmsFacts(gsm7.DEFAULT_ALPHABET.replace(chr(gsm7.ESC), ""), "".join(gsm7.EXTENSION.values()), price)


async def send_sms(ctx: WebContext, phone: str, text: str, source: str) -> int:
    """Queue an SMS from staff or an API client (a committed outbox row); return its id."""
    assert ctx.outbox is not None  # set by __post_init__
    message_id = await ctx.outbox.enqueue(phone, text, priority=messages.STAFF_PRIORITY, plugin=source,
                                          modem_id=ctx.outbox.route(phone))
    ctx.live.bump("messages")
    return message_id


MAX_REDIRECT = 2000  # characters of a path to go back to (a browser's address bar holds more; no page needs it)


def local(target: str) -> str:
    r"""``target`` if it is a path on this site, else ``/`` (no open redirect).

    Only printable ASCII (browsers drop tabs and line breaks inside a URL, so ``/\t/evil`` would become
    ``//evil``; a line break would also split the header); no backslash anywhere (browsers read ``\``
    as ``/``: ``/\evil.example`` is another site); one leading ``/`` and never two; and the same once
    percent-decoded, for whatever decodes it again (``/%5Cevil``, ``/%2F%2Fevil``, ``/%09/evil``)."""
    if not isinstance(target, str) or not 0 < len(target) <= MAX_REDIRECT:
        return "/"
    if not all("\x21" <= c <= "\x7e" for c in target):  # as sent: encoded, so printable ASCII
        return "/"
    for text in (target, unquote(target), unquote(unquote(target))):
        if any(c < " " or c == "\x7f" for c in text) or "\\" in text or not text.startswith("/") \
                or text.startswith("//"):
            return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def page_error(cls: type[web.HTTPException], name: str, **values: Any) -> web.HTTPException:
    """An HTTP error whose page (``error_pages``) says catalogue text ``name`` in the reader's
    language; a client that is not a browser gets the English text."""
    exc = cls(text=catalogue().text(name, "en", **values))
    exc.text_name = (name, values)  # type: ignore[attr-defined]
    return exc


def int_or_404(value: str) -> int:
    """A path id as an int, or a 404 (not a 500) for junk."""
    try:
        number = int(value)
    except ValueError:
        raise page_error(web.HTTPNotFound, "error.not_found") from None
    if not 0 < number < 2**63:
        raise page_error(web.HTTPNotFound, "error.not_found")
    return number
