"""Typed events emitted after a change is committed; plugins observe them via ``track_event``."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Message


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """An inbound SMS was stored (before it is routed)."""

    message: Message


@dataclass(frozen=True, slots=True)
class MessageHandled:
    """A plugin answered (or declined) an inbound SMS; ``reply_id`` is the outbox row, if any."""

    message: Message
    plugin: str | None
    reply_id: int | None


@dataclass(frozen=True, slots=True)
class DeliveryReported:
    """A status report changed an outbox row: ``state`` is sent (not final), delivered or failed."""

    message_id: int
    state: str
    status: int


@dataclass(frozen=True, slots=True)
class MessageSent:
    """An outbox row was accepted by a modem."""

    message_id: int
    phone: str
    modem_id: str


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    """A customer placed an order (any plugin that takes orders emits it)."""

    order_id: int
    phone: str
    total: int


@dataclass(frozen=True, slots=True)
class OrderStateChanged:
    """An order moved: ``state`` is ready, done or cancelled. Points are earned on done."""

    order_id: int
    phone: str
    old_state: str
    state: str
    total: int


@dataclass(frozen=True, slots=True)
class TillSale:
    """A sale at the till was imported; ``phone`` is None when the till did not know the customer."""

    sale_id: int
    phone: str | None
    total: int
