"""Typed events emitted after a change is committed; plugins observe them via ``track_event``.

``topic`` names what an event changes ("orders", "messages", ...): open web pages
that show that topic refresh themselves. A plugin's own event may set one too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .models import Message


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """An inbound SMS was stored (before it is routed)."""

    topic: ClassVar[str] = "messages"

    message: Message


@dataclass(frozen=True, slots=True)
class MessageHandled:
    """A plugin answered (or declined) an inbound SMS; ``reply_id`` is the outbox row, if any."""

    topic: ClassVar[str] = "messages"

    message: Message
    plugin: str | None
    reply_id: int | None


@dataclass(frozen=True, slots=True)
class DeliveryReported:
    """A status report changed an outbox row: ``state`` is sent (not final), delivered or failed."""

    topic: ClassVar[str] = "messages"

    message_id: int
    state: str
    status: int


@dataclass(frozen=True, slots=True)
class MessageSent:
    """An outbox row was accepted by a modem."""

    topic: ClassVar[str] = "messages"

    message_id: int
    phone: str
    modem_id: str


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    """A customer placed an order (any plugin that takes orders emits it)."""

    topic: ClassVar[str] = "orders"

    order_id: int
    phone: str
    total: int


@dataclass(frozen=True, slots=True)
class OrderStateChanged:
    """An order moved: ``state`` is ready, done or cancelled. Points are earned on done."""

    topic: ClassVar[str] = "orders"

    order_id: int
    phone: str
    old_state: str
    state: str
    total: int


@dataclass(frozen=True, slots=True)
class TillSale:
    """A sale at the till was imported; ``phone`` is None when the till did not know the customer."""

    topic: ClassVar[str] = "sales"

    sale_id: int
    phone: str | None
    total: int


@dataclass(frozen=True, slots=True)
class ComplaintOpened:
    """A customer opened a complaint ticket."""

    topic: ClassVar[str] = "complaints"
    ticket_id: int
    phone: str
    text: str


@dataclass(frozen=True, slots=True)
class ComplaintChanged:
    """Staff answered or closed a ticket, or the customer added to it; ``state`` is open or closed."""

    topic: ClassVar[str] = "complaints"
    ticket_id: int
    phone: str
    state: str


@dataclass(frozen=True, slots=True)
class CampaignFinished:
    """Every recipient of a campaign was sent to or skipped; ``counts`` by outcome."""

    topic: ClassVar[str] = "messages"  # pages showing messages (and campaign progress) refresh
    campaign_id: int
    name: str
    counts: dict


@dataclass(frozen=True, slots=True)
class CreditAlert:
    """A SIM about to stop sending (``reason``: low, expiring, package, refused), with what its operator
    last said: ``balance`` (rupiah), ``active_until``, ``sms_left``, ``sms_until`` (YYYY-MM-DD or None)."""

    topic: ClassVar[str] = "modems"
    modem_id: str
    reason: str
    balance: int | None
    active_until: str | None
    sms_left: int | None
    sms_until: str | None
