"""What a plugin gets: its config, its own tables, customers, sending and events. Never the modems.

One :class:`PluginContext` per plugin, built by the composition root.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import time
from collections import deque
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, AsyncIterator, Awaitable, Callable, Coroutine, Generic, Iterator, Sequence, TypeVar

from .config import StoreConfig
from .errors import PluginError
from .i18n import Speaker, pick_language
from .models import Complaint, Customer, Keyword, Order, OrderLine, Product, SmsQueue
from .plugin_config import PluginConfig
from .sms.fit import render_reply
from .storage import campaigns as campaign_queries
from .storage import catalog as catalog_queries
from .storage import complaints as complaint_queries
from .storage import consent as consent_queries
from .storage import conversations as conversation_queries
from .storage import customers as customer_queries
from .storage import messages as message_queries
from .storage import orders as order_queries
from .storage import vouchers as voucher_queries
from .storage.db import Database, Params
from .understanding.lexicon import Lexicon
from .understanding.product_query import resolve_sized, sizes_of

# What one plugin's runaway loop can queue (docs/plugins.md, "Limits"): a reply to an SMS costs at most
# REPLY_PARTS SMS (a longer one is cut, ending in "..."), an SMS queued with ctx.send at most SEND_PARTS
# (a staff member's message, as the pages allow), and handling one SMS queues at most SENDS_PER_MESSAGE.
REPLY_PARTS = 4
SEND_PARTS = 10
SENDS_PER_MESSAGE = 10
SENDS_PER_MINUTE = 120  # more than a pool of 4 modems sends (3 s an SMS): a loop, not a shop's work
_sends: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("smsd_crm_sends", default=None)


@contextmanager
def handling_message() -> Iterator[None]:
    """Count what plugins queue with ``ctx.send`` while one inbound SMS (the router's) or one event (the
    plugin host's) is handled."""
    token = _sends.set([0])
    try:
        yield
    finally:
        _sends.reset(token)


@dataclass(frozen=True)
class CoreServices:
    """What the composition root shares with every plugin context."""

    db: Database
    store: StoreConfig
    clock: Callable[[], datetime]
    keywords: Callable[[], list[Keyword]]
    emit: Callable[[object], Awaitable[None]]
    outbox: SmsQueue  # the one way to queue an SMS
    region: str = "ID"
    spawn: Callable[[Coroutine, str], asyncio.Task] | None = None  # None outside the daemon (CLI)
    campaigns: Any = None  # campaigns.service.CampaignService
    lexicon: Lexicon = field(default_factory=Lexicon)  # config texting: the words customers use


# A statement that would end or split the transaction a hook runs in (comments before it skipped).
_CONTROL = re.compile(r"^(?:\s|--[^\n]*\n|/\*.*?\*/)*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b",
                      re.IGNORECASE | re.DOTALL)


class PluginDatabase:
    """Parameterised SQL for a plugin's own tables; rows come back as dicts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write; return the number of rows it changed. ValueError for BEGIN, COMMIT, ROLLBACK,
        SAVEPOINT and RELEASE: use :meth:`transaction` (a hook runs inside the router's transaction).
        A new row's id: ``await ctx.db.fetchval("INSERT ... RETURNING id", ...)``. Errors:
        ``StorageConflict`` for a broken constraint, ``StorageError`` for the rest, on either engine."""
        if _CONTROL.match(sql):
            raise ValueError("ctx.db.execute: transaction statements are not allowed; use ctx.db.transaction()")
        return await self._db.execute_changes(sql, params)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None; ``INSERT ... RETURNING id`` gives a new row's id."""
        if _CONTROL.match(sql):
            raise ValueError("ctx.db.fetchval: transaction statements are not allowed; use ctx.db.transaction()")
        return await self._db.fetchval(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        """The first row as a dict, or None."""
        row = await self._db.fetchone(sql, params)
        return dict(row) if row is not None else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Every row as a dict."""
        return [dict(r) for r in await self._db.fetchall(sql, params)]

    async def lock(self, *key: str) -> None:
        """Inside :meth:`transaction` (or a hook, which runs in the router's): hold ``key`` until it ends.
        Every store of a chain asking for the same key waits its turn, so a check-then-write on shared
        rows (a customer's points balance, then the redemption) holds across stores. Free on SQLite."""
        await self._db.lock(*key)

    async def has_table(self, name: str) -> bool:
        """Whether a table exists (another plugin's, which may be switched off), on either engine."""
        return await self._db.has_table(name)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["PluginDatabase"]:
        """All or nothing; nested inside the router's transaction it is a savepoint."""
        async with self._db.transaction():
            yield self


class Customers:
    """Look up and create customers by E.164 phone number."""

    def __init__(self, services: CoreServices) -> None:
        self._s = services

    async def get(self, phone: str) -> Customer | None:
        """The customer with this number, or None."""
        return await customer_queries.get_by_phone(self._s.db, phone)

    async def upsert(self, phone: str, **fields: str | None) -> tuple[Customer, bool]:
        """Create or update (name, address, birthday, language); return (customer, created)."""
        return await customer_queries.upsert(self._s.db, phone, self._s.clock(), **fields)


class Catalog:
    """The shop's products (core): look up by what a customer typed, take and return stock."""

    def __init__(self, services: CoreServices) -> None:
        self._s = services

    async def products(self) -> list[Product]:
        """Every active product."""
        return await catalog_queries.all_products(self._s.db, active_only=True)

    async def resolve(self, query: str) -> tuple[Product | None, list[Product]]:
        """(the product meant, or None with up to three suggestions) for a typed name, code or alias,
        a size typed with it choosing the pack (``minyak goreng 2 liter``: the 2 L pouch)."""
        return resolve_sized(query, await self.products(), self._s.lexicon)

    async def sizes_of(self, product: Product) -> list[Product]:
        """``product`` first, then its other sizes (``Minyak Goreng 2L``: also ``1L``), largest first."""
        return sizes_of(product, await self.products(), self._s.lexicon)

    async def take_stock(self, product: Product, quantity: int) -> bool:
        """Take from a counted stock if enough is there (always True when not counted)."""
        return await catalog_queries.take_stock(self._s.db, product.id, quantity, self._s.clock())

    async def return_stock(self, product_id: int, quantity: int) -> None:
        """Put stock back (a cancelled order)."""
        await catalog_queries.return_stock(self._s.db, product_id, quantity, self._s.clock())

    async def set_stock(self, code: str, quantity: int) -> Product | None:
        """Set a product's counted stock by code; None if there is no such product."""
        return await catalog_queries.set_stock(self._s.db, code, quantity, self._s.clock())


class Orders:
    """SMS orders (core storage; the built-in order plugin takes them by SMS and moves them). Each
    store's own: another store's order is None here."""

    def __init__(self, services: CoreServices) -> None:
        self._s = services

    async def place(self, phone: str, lines: Sequence[tuple[Product, int]], language: str, *,
                    message_id: int | None = None, promo_code: str | None = None, by: str = "sms") -> int:
        """A new order of (product, quantity) lines at their catalogue prices; returns its number.
        Taking the stock is the caller's (``ctx.catalog.take_stock``, in the same transaction)."""
        return await order_queries.place(self._s.db, phone=phone, lines=lines, language=language,
                                         now=self._s.clock(), message_id=message_id, promo_code=promo_code, by=by)

    async def get(self, order_id: int) -> Order | None:
        """One of this store's orders, or None."""
        return await order_queries.get(self._s.db, order_id)

    async def lines(self, order_id: int) -> list[OrderLine]:
        """Its lines, as sold."""
        return await order_queries.lines(self._s.db, order_id)

    async def set_state(self, order_id: int, state: str, by: str) -> None:
        """Record a move (the plugin decides which moves are allowed); ValueError for no such state."""
        await order_queries.set_state(self._s.db, order_id, state, self._s.clock(), by)

    async def figures(self, since: datetime, until: datetime) -> tuple[int, int, int, int]:
        """This store's orders placed in [since, until), cancelled left out: (count, total rupiah,
        still new, ready)."""
        return await order_queries.figures(self._s.db, since, until)


class Complaints:
    """Complaint tickets (core storage; the built-in complaint plugin opens, answers and closes
    them). A chain's tickets are the chain's."""

    def __init__(self, services: CoreServices) -> None:
        self._s = services

    async def get(self, number: int) -> Complaint | None:
        """One ticket, or None."""
        return await complaint_queries.get(self._s.db, number)

    async def latest_open(self, phone: str) -> Complaint | None:
        """The customer's newest ticket not closed, or None."""
        return await complaint_queries.latest_open(self._s.db, phone)

    async def open(self, phone: str, language: str) -> int:
        """A new ticket; returns its number."""
        return await complaint_queries.open_ticket(self._s.db, phone, language, self._s.clock())

    async def add_note(self, number: int, author: str, text: str, message_id: int | None = None) -> None:
        """``author``: ``customer`` (puts an answered ticket back to open), ``note``, or who answered."""
        await complaint_queries.add_note(self._s.db, number, author, text, self._s.clock(), message_id)

    async def mark_answered(self, number: int) -> None:
        """Staff answered (the first answer's time is kept)."""
        await complaint_queries.mark_answered(self._s.db, number, self._s.clock())

    async def mark_closed(self, number: int, note: str | None = None) -> None:
        """Closed, with a note or none."""
        await complaint_queries.mark_closed(self._s.db, number, self._s.clock(), note)

    async def open_count(self) -> int:
        """Tickets not closed."""
        return await complaint_queries.open_count(self._s.db)


class Vouchers:
    """Vouchers for redeemed points (core storage: the profitability view counts their value)."""

    def __init__(self, services: CoreServices) -> None:
        self._s = services

    async def issue(self, *, code: str, phone: str, reward: str, cost: int, value: int) -> None:
        """Record a voucher (``cost`` points, ``value`` rupiah); StorageConflict if the code exists."""
        await voucher_queries.issue(self._s.db, code=code, phone=phone, reward=reward, cost=cost, value=value,
                                    now=self._s.clock())


class Campaigns:
    """Broadcasts to customers (core keeps consent, the weekly cap, quiet hours and the pace)."""

    def __init__(self, services: CoreServices) -> None:
        self._s = services

    async def broadcast(self, text: str, *, target: str | None = None, notify_phone: str | None = None,
                        name: str = "promo", this_store: bool = False):
        """Start a promotion to opted-in customers (all, or ``@target``: a class, an RFM segment or a
        plugin's segment; ``this_store``: only this store's customers, in a chain). Returns
        ``Started(id, preview)``, or None when nobody can receive it; an unknown target raises
        LookupError with the choices."""
        if self._s.campaigns is None:
            raise RuntimeError("campaigns are not available here")
        return await self._s.campaigns.broadcast(text, target=target, notify_phone=notify_phone, name=name,
                                                 this_store=this_store)

    async def promo_code_exists(self, code: str) -> bool:
        """Whether a campaign has this promo code (orders citing it count in its results)."""
        return await campaign_queries.promo_code_exists(self._s.db, code)


class Consent:
    """Promotion consent, kept by core for every plugin (BERHENTI / MULAI record it here)."""

    def __init__(self, services: CoreServices) -> None:
        self._s = services

    async def set(self, phone: str, promotions: bool, message_id: int | None, source: str) -> bool:
        """Allow or stop promotions to ``phone``; True if that changed anything."""
        return await consent_queries.set_promotions(self._s.db, phone, promotions, self._s.clock(),
                                                    message_id=message_id, source=source)

    async def may_promote(self, phone: str) -> bool:
        """False once the number opted out."""
        return await consent_queries.may_promote(self._s.db, phone)


class Conversations:
    """A short dialogue with one number ("balas YA untuk konfirmasi"), kept in the database."""

    def __init__(self, name: str, services: CoreServices) -> None:
        self._name = name
        self._s = services

    async def open(self, phone: str, state: dict[str, Any], minutes: float = 30) -> None:
        """Until it expires, a message from ``phone`` without a keyword comes to this plugin first."""
        await conversation_queries.put(self._s.db, phone, self._name, state, minutes, self._s.clock())

    async def close(self, phone: str) -> None:
        """End this plugin's dialogue with ``phone``."""
        await conversation_queries.close(self._s.db, phone, self._name)


ConfigT = TypeVar("ConfigT", bound=PluginConfig)


class PluginContext(Generic[ConfigT]):
    """The narrow API a plugin uses. ``config`` is its validated section: write
    ``ctx: PluginContext[MyConfig]`` in a hook's signature and a type checker knows its fields
    (a bare ``PluginContext`` leaves ``config`` untyped)."""

    def __init__(self, name: str, config: ConfigT, services: CoreServices) -> None:
        self.name = name
        self.config: ConfigT = config
        self.store = services.store
        self.log = logging.getLogger(f"smsd_crm.plugin.{name}")
        self.db = PluginDatabase(services.db)
        self.customers = Customers(services)
        self.catalog = Catalog(services)
        self.consent = Consent(services)
        self.conversations = Conversations(name, services)
        self.campaigns = Campaigns(services)
        self.orders = Orders(services)
        self.complaints = Complaints(services)
        self.vouchers = Vouchers(services)
        # What the SMS reader knows about words (units, fillers, synonyms): read-only
        self.lexicon: Lexicon = services.lexicon
        self.state: dict[str, Any] = {}  # the plugin's own in-memory state for this process
        self._s = services
        self._sent: deque[float] = deque()  # monotonic times of this plugin's ctx.send in the last minute

    def now(self) -> datetime:
        """The daemon's clock (UTC); tests inject their own."""
        return self._s.clock()

    def phone(self, text: str) -> str | None:
        """A number as typed (0812..., +62812..., 62812...) in E.164, or None if it is not one."""
        from .phones import normalize
        return normalize(text, self._s.region)

    def today_start(self) -> datetime:
        """Midnight at the start of today in the shop's time zone (``store.timezone``)."""
        return self.store.time.today_start(self.now())

    def speaker(self, language: str | None = None) -> Speaker:
        """The message catalogue (``smsd_crm/texts.yaml``: ``t(name)``, ``word(group, value)``), numbers,
        money and shop times in ``language`` when it is ``id`` or ``en`` (a staff command's ``--lang``),
        else in the shop's (``store.language``): for what staff read, as the pages say it."""
        return Speaker(pick_language(language, self.store.language), time=self.store.time)

    def keywords(self) -> list[Keyword]:
        """Every keyword of every enabled plugin."""
        return self._s.keywords()

    def text(self, template_name: str, language: str, /, **values: Any) -> str:
        """Render this plugin's reply template in ``language`` (``{store}`` is the shop's name).

        Every value is made GSM-7 (an emoji a customer typed never turns the reply into UCS-2);
        a list, or a :class:`~smsd_crm.Listing`, keeps as many items as fit one SMS with the rest
        of the reply (docs/plugins.md, "Replies fit one SMS")."""
        template = self.config.template(template_name, language, self.store.language)
        return render_reply(template, {"store": self.store.name, **values}, language)

    async def send(self, phone: str, text: str) -> int:
        """Queue an SMS to ``phone`` (any form a person types; ValueError when it is no phone number or
        the text is empty) and return the outbox id; committed before it is sent. A text longer than
        ``SEND_PARTS`` SMS is cut to fit them. While one inbound SMS or one event is handled, the
        ``SENDS_PER_MESSAGE``-th send and beyond raise PluginError (a runaway loop queues nothing: the
        router rolls the message's writes back); so does the ``SENDS_PER_MINUTE``-th of this plugin in
        60 s, wherever it comes from (a loop between events and sends)."""
        number = self.phone(phone)
        if number is None:
            raise ValueError(f"ctx.send: {phone!r} is not a phone number")
        if not text or not text.strip():
            raise ValueError("ctx.send: the text is empty")
        counter = _sends.get()
        if counter is not None:
            counter[0] += 1
            if counter[0] > SENDS_PER_MESSAGE:
                raise PluginError(self.name, "ctx.send", f"more than {SENDS_PER_MESSAGE} SMS queued while "
                                  "handling one SMS (reply with Reply; a promotion goes through "
                                  "ctx.campaigns.broadcast; a long job in a task of ctx.spawn)")
        now = time.monotonic()
        while self._sent and now - self._sent[0] > 60:
            self._sent.popleft()
        if len(self._sent) >= SENDS_PER_MINUTE:
            raise PluginError(self.name, "ctx.send", f"more than {SENDS_PER_MINUTE} SMS queued in a minute "
                              "(a promotion goes through ctx.campaigns.broadcast)")
        self._sent.append(now)
        return await self._s.outbox.enqueue(number, text, priority=message_queries.STAFF_PRIORITY, plugin=self.name,
                                            modem_id=self._s.outbox.route(number), max_parts=SEND_PARTS)

    async def emit(self, event: object) -> None:
        """Tell every plugin's ``track_event`` about ``event``."""
        await self._s.emit(event)

    @property
    def in_daemon(self) -> bool:
        """Whether this context runs inside the daemon (False in a CLI command)."""
        return self._s.spawn is not None

    def spawn(self, coro: Coroutine, name: str) -> asyncio.Task:
        """Run a background job (a sender, a scheduler) owned by the daemon: cancelled when it
        stops, a crash logged. Only in the daemon (``in_daemon``); call it from ``startup``."""
        if self._s.spawn is None:
            coro.close()
            raise RuntimeError("background tasks run only in the daemon")
        return self._s.spawn(coro, f"{self.name}:{name}")
