"""An order's life: new -> ready -> done, or cancelled; every move is recorded and the customer told."""

from __future__ import annotations

from smsd_crm import OrderStateChanged, PluginContext, Speaker, format_rupiah

STATES = ("new", "ready", "done", "cancelled")
MOVES = {"new": {"ready", "done", "cancelled"}, "ready": {"done", "cancelled"}, "done": set(), "cancelled": set()}
STATE_NAMES = {"id": {"new": "baru", "ready": "siap", "done": "selesai", "cancelled": "dibatalkan"},
               "en": {"new": "new", "ready": "ready", "done": "done", "cancelled": "cancelled"}}


class OrderError(Exception):
    """A staff command that cannot be done (unknown order, a move that is not allowed). ``str()`` is
    English (the API, logs); ``say(speak)`` says it in a person's language from the catalogue
    (``order.error.*``), with the states as its words."""

    def __init__(self, name: str, order_id: int, state: str | None = None, to: str | None = None) -> None:
        self.name, self.order_id, self.state, self.to = name, order_id, state, to
        super().__init__(self.say(Speaker("en")))

    def say(self, speak: Speaker) -> str:
        """The problem in ``speak``'s language."""
        return speak.t(f"order.error.{self.name}", no=self.order_id, state=speak.word("state", self.state),
                       to=speak.word("state", self.to))


async def move(ctx: PluginContext, order_id: int, state: str, by: str, notify: bool = True,
               expect: str | None = None) -> None:
    """Move an order (new -> ready -> done, or cancelled); stock comes back on cancel; the customer hears.
    ``expect``: the state the person was shown when they said yes; if it moved since, nothing happens
    (OrderError ``changed``), so a stale question never sends a second, contradicting SMS."""
    async with ctx.db.transaction():
        order = await ctx.orders.get(order_id)
        if order is None:
            raise OrderError("not_found", order_id)
        if state not in MOVES[order.state]:
            raise OrderError("cannot_move", order_id, order.state, state)
        if expect is not None and order.state != expect:
            raise OrderError("changed", order_id, order.state, state)
        await ctx.orders.set_state(order_id, state, by)
        if state == "cancelled":
            for line in await ctx.orders.lines(order_id):
                await ctx.catalog.return_stock(line.product_id, line.quantity)
        if notify:
            await ctx.send(order.phone, ctx.text(f"moved_{state}", order.language, no=order_id,
                                                 total=format_rupiah(order.total)))
    await ctx.emit(OrderStateChanged(order_id, order.phone, order.state, state, order.total))
