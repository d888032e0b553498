"""Plain frozen values shared by the layers (standard library only)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Callable, Protocol


class InboundState(str, enum.Enum):
    """Life of an inbound message row."""

    RECEIVED = "received"  # stored, not yet routed
    HANDLED = "handled"  # routed; the reply (if any) is in the outbox
    FAILED = "failed"  # a plugin raised; kept for staff to read


class OutboundState(str, enum.Enum):
    """Life of an outbound message row."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """An SMS as the modem layer hands it up, before it is stored.

    ``sender`` is the address as received (``+628…``, ``08…``, ``TELKOMSEL``);
    ``smsc_time`` is the service centre time stamp with its own offset.
    """

    modem_id: str
    sender: str
    text: str
    smsc_time: datetime | None
    sim_id: str = ""
    sender_is_alphanumeric: bool = False
    incomplete: bool = False
    raw_pdus: tuple[str, ...] = ()
    error: str | None = None  # set when the PDU could not be decoded: stored, never routed
    binary: bool = False  # 8-bit data (WAP push, SIM toolkit): stored, never answered
    # TP-OA type of number (TS 23.040 9.1.2.5: 1 international, 5 alphanumeric, 6 abbreviated...),
    # None when the modem layer does not know it; see understanding/senders.py
    sender_type_of_number: int | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A stored inbound message as plugins see it.

    ``phone`` is the E.164 number, or ``None`` for a sender that cannot be
    answered (a name, a short code, an impossible number: understanding/senders.py).
    ``keyword`` is the first word as typed (upper case); ``command`` is the plugin
    command it matched (``register``), or ``None``; ``args`` is the text after the
    keyword; ``language`` the language to answer in. ``conversation`` is the state a plugin stored with
    ``ctx.conversations.open`` while that dialogue is open; ``conversation_plugin``
    names its owner.
    """

    id: int
    phone: str | None
    sender: str
    text: str
    received_at: datetime
    modem_id: str
    keyword: str | None = None
    command: str | None = None
    args: str = ""
    language: str = "id"
    conversation: dict[str, Any] | None = None  # the state of the open dialogue, for its plugin
    conversation_plugin: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What a plugin answers: the text goes back to the sender as one outbox row."""

    text: str
    # True for an automatic "not understood" answer (help's fallback, a plugin's own): the router
    # sends at most flood.unknown_per_hour of them to a number, so two machines never talk forever.
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class Keyword:
    """A word that routes to ``plugin``'s ``command``; customers using it speak ``language``."""

    word: str
    command: str
    plugin: str
    language: str = "id"
    # Words after the keyword that are secrets (the owner's PIN): masked before the SMS is stored,
    # and the keyword is not offered to customers in help texts.
    secret_words: int = 0


@dataclass(frozen=True, slots=True)
class Migration:
    """A named schema step. ``sql`` is a script; names are unique per owner.

    ``sql`` is written for SQLite in the portable subset (docs/plugins.md); on PostgreSQL its type
    names are translated (``INTEGER`` -> ``BIGINT``, ``INTEGER PRIMARY KEY`` -> an identity column).
    A step that needs PostgreSQL's own words (a trigger function) gives its whole script for
    PostgreSQL as ``postgresql`` (type names translated likewise), run there as one batch.
    """

    name: str
    sql: str
    postgresql: str | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer record, keyed by E.164 phone number."""

    id: int
    phone: str
    name: str | None
    address: str | None
    birthday: str | None
    language: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Product:
    """A catalogue entry. Money is whole rupiah; ``stock`` None means not counted."""

    id: int
    code: str
    name: str
    aliases: tuple[str, ...]
    category: str
    unit: str
    price: int
    cost: int
    stock: int | None
    active: bool = True


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A claimed outbox row the pool must send."""

    id: int
    phone: str
    text: str
    attempts: int
    preferred_modem: str | None = None
    campaign_id: int | None = None  # a promotion: consent is checked once more before it is sent


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the modem layer reports after a successful send."""

    modem_id: str
    references: tuple[int, ...] = field(default_factory=tuple)
    sim_id: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """An SMS-STATUS-REPORT as the modem layer hands it up.

    ``status`` is TP-ST: below 0x20 delivered, 0x20-0x3F still trying (not
    final), 0x40 and above failed.
    """

    modem_id: str
    sim_id: str
    reference: int
    recipient: str
    status: int
    discharge_time: datetime | None = None

    @property
    def final(self) -> bool:
        """Whether the network has stopped trying."""
        return not 0x20 <= self.status <= 0x3F

    @property
    def delivered(self) -> bool:
        """Whether the message reached the phone."""
        return self.status < 0x20


@dataclass(frozen=True)
class Command:
    """A staff command a plugin adds to the ``smsd-crm`` CLI.

    ``arguments(parser)`` adds its arguments; ``run(args, ctx)`` does the work
    with the plugin's context and returns the exit code.
    """

    name: str
    help: str
    arguments: Callable[[Any], None]
    run: Callable[[Any, Any], Awaitable[int]]


@dataclass(frozen=True)
class Page:
    """A web page a plugin adds to the staff pages.

    ``handler(view, ctx)`` gets a ``PageView`` (the form, the query, the user,
    ``view.render(template, **values)``, ``view.redirect(path)``) and the plugin's
    context. ``role`` is ``staff`` (staff and owner) or ``owner``. Templates live
    in a ``templates`` folder beside the plugin's module and extend ``base.html``.
    """

    path: str
    title: str
    handler: Callable[[Any, Any], Awaitable[Any]]
    role: str = "staff"
    methods: tuple[str, ...] = ("GET", "POST")
    titles: dict[str, str] = field(default_factory=dict)  # the title in other languages: {"en": "Orders"}
    live: str | None = None  # an event topic: the open page reloads itself when it changes


@dataclass(frozen=True)
class ProfileSection:
    """What a plugin shows on a customer's page (``customer_profile``): a titled table.

    Cells are plain text (escaped when shown). ``titles`` holds the title in other
    languages; ``summary`` is one line above the table (a balance, a count).
    """

    title: str
    columns: list[str]
    rows: list[list[Any]]
    summary: str = ""
    titles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HomeLine:
    """One line of a home-page section: plain text (escaped when shown), an optional link, a
    short note on the right (an age, an amount); ``alert`` marks what needs attention first;
    ``quote`` is a customer's own words after the text (shown as typed, never translated)."""

    text: str
    href: str | None = None
    note: str = ""
    alert: bool = False
    quote: str = ""


@dataclass(frozen=True)
class HomeSection:
    """What a plugin shows on the home page for today (``home_section``): a titled list.

    ``summary`` is one line under the title ("3 baru, 1 siap"); ``link`` / ``link_text`` lead to the
    desk; ``empty`` is said when there are no lines; sections are shown by ``order`` (low first).
    Write every text in the ``language`` the hook was given.
    """

    title: str
    lines: list[HomeLine]
    summary: str = ""
    link: str | None = None
    link_text: str = ""
    empty: str = ""
    order: int = 50


@dataclass(frozen=True)
class ApiRoute:
    """A JSON API endpoint a plugin adds (``register_api``), behind the per-client tokens.

    ``path`` starts with ``/api/`` and may hold ``{id}``-style parameters.
    ``handler(call, ctx)`` gets an ``ApiCall`` (``call.path``, ``call.query`` and
    ``call.body`` validated by the pydantic models below, ``call.client``) and
    returns something JSON-able (pydantic models included). ``query``, ``body``,
    ``path_params`` and ``response`` are pydantic models (or types) that both
    validate and describe the endpoint in ``/api/openapi.json``. ``scope`` is what a token needs to
    call it: ``read`` or ``send``; left empty, ``read`` for GET and ``send`` for anything else (every
    change may text a customer).
    """

    method: str
    path: str
    handler: Callable[[Any, Any], Awaitable[Any]]
    summary: str
    response: Any = None
    query: Any = None
    body: Any = None
    path_params: Any = None
    status: int = 200
    tag: str = ""
    problems: dict[int, str] = field(default_factory=dict)  # other 4xx answers, for the description
    scope: str = ""

    @property
    def needs(self) -> str:
        """The scope a token needs for this route."""
        return self.scope or ("read" if self.method.upper() in ("GET", "HEAD") else "send")


# The single callback through which the modem layer hands a message up. It
# returns only once the message is durably stored, so the modem may delete it.
InboundSink = Callable[[InboundMessage], Awaitable[None]]
ReportSink = Callable[[DeliveryReport], Awaitable[None]]


@dataclass(frozen=True)
class Segment:
    """A campaign audience a plugin offers (``register_segments``): ``resolve(ctx)`` returns the
    customers' numbers (core still leaves out those who opted out and any number that is not a
    customer). ``name`` is what the owner types after ``@`` in a PROMO SMS."""

    name: str
    title: str
    resolve: Callable[[Any], Awaitable[list[str]]]


# How far one part of an outbox message got (smsd_crm.modem.submit puts it on the air).
ENCODED, STORED, SUBMITTING, SENT = "encoded", "stored", "submitting", "sent"


@dataclass
class OutgoingPart:
    """One SMS-SUBMIT of an outbox message and how far it got.

    ``pdu`` is hex (SMSC octets + TPDU) and ``tpdu_length`` its TPDU in octets; ``state`` is
    encoded | stored | submitting | sent; ``storage_index`` is its slot on the SIM ``sim_id``
    (IMSI) while it is stored; ``via`` CMSS or CMGS once submitted; ``reference`` the TP-MR
    once sent (None when the send was found in storage afterwards, so its MR is unknown).
    """

    part: int
    total: int
    pdu: str
    tpdu_length: int
    state: str = ENCODED
    modem_id: str | None = None
    sim_id: str | None = None
    storage_index: int | None = None
    via: str | None = None
    reference: int | None = None


class SendJournal(Protocol):
    """Where a part's progress is committed (the outbox's database)."""

    async def record(self, part: OutgoingPart) -> None:
        """Make the part's current state durable; returns once committed."""


class SmsQueue(Protocol):
    """The one way to queue an SMS (the outbox, :class:`smsd_crm.outbox.Outbox`): as the layers
    above it see it."""

    async def enqueue(self, phone: str, text: str, *, priority: int = 0, in_reply_to: int | None = None,
                      plugin: str | None = None, modem_id: str | None = None, campaign_id: int | None = None,
                      fallback: bool = False, max_parts: int | None = None) -> int:
        """Queue an SMS (in the caller's transaction, if any); the senders wake once it commits.
        ``max_parts``: a longer text is cut to cost at most that many SMS."""
        ...

    def route(self, phone: str) -> str | None:
        """The modem preferred for ``phone`` by number prefix, if any."""
        ...

    def notify(self, modem_id: str | None = None) -> None:
        """Rows were made due again (a retry from a page): wake the senders."""
        ...


# Network registration states (3GPP TS 27.007 +CREG <stat>) as people read them: the modem layer
# reports the number, the status table and pages show the name.
# The built-in services (plugins/smsd_crm_<name>), in their registration order. The SMS reader knows
# their commands' words; a third party's keyword is its own plugin's to judge (understanding/intent.py).
BUILTIN_PLUGINS = ("registration", "order", "complaint", "points", "info", "optout", "webhooks", "owner", "help")
REGISTRATION_NAMES = {0: "not registered", 1: "home", 2: "searching", 3: "denied", 4: "unknown", 5: "roaming"}


@dataclass(frozen=True)
class View:
    """One owner's dashboard (``/dash/<name>``): its URL name, its menu title, and
    ``make(doc, data, hub, lang=None)`` that fills a Bokeh Document and returns its async refresh.

    ``title_name`` is a catalogue name (``dash.view.sales``) or, for a plugin's view, the title itself
    (Indonesian), with ``titles`` in other languages (``{"en": "Deliveries"}``). ``make`` runs in the
    dashboards worker process, so it must be a function defined at the top of a module; ``data``
    reads the database read-only (``await data.db.fetchall(sql, params)``, ``data.today()``), ``hub``
    refreshes the document when orders, sales, complaints or messages change
    (``hub.register(doc, refresh)``); ``lang`` is the page's language (``id``/``en``; None: Indonesian).
    See docs/plugins.md (dashboards)."""

    name: str
    title_name: str
    make: Callable[..., Any]
    titles: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import inspect
        import re

        if not isinstance(self.name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", self.name):
            raise ValueError(f"dashboard name {self.name!r}: lower-case letters, digits, - and _ (it is a URL)")
        qualname = getattr(self.make, "__qualname__", "")
        if not inspect.isfunction(self.make) or "<" in qualname or "." in qualname:
            raise ValueError(f"dashboard {self.name!r}: make must be a function defined at the top of a module "
                             f"(the view runs in the dashboards worker process), not {self.make!r}")


@dataclass(frozen=True, slots=True)
class Order:
    """An SMS order (core storage, ``storage/orders.py``). Money is whole rupiah; ``state`` is ``new``,
    ``ready``, ``done`` or ``cancelled``; instants are UTC; ``store_id`` the store it was texted to."""

    id: int
    phone: str
    state: str
    total: int
    language: str
    discount: int
    promo_code: str | None
    store_id: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of an order, priced and costed as sold (whole rupiah)."""

    line: int
    product_id: int
    code: str
    name: str
    quantity: int
    price: int
    cost: int


@dataclass(frozen=True, slots=True)
class Complaint:
    """A complaint ticket (core storage, ``storage/complaints.py``): ``state`` is ``open``,
    ``answered`` or ``closed``; instants are UTC (None: not yet). A chain's tickets are the chain's."""

    id: int
    phone: str
    state: str
    language: str
    opened_at: datetime
    first_answer_at: datetime | None
    closed_at: datetime | None
    close_note: str | None

