"""The order plugin's web side: the desk at /orders, the JSON API and the customer page section."""

from __future__ import annotations

from datetime import timezone
from typing import Literal

from pydantic import BaseModel, Field

from smsd_crm import (
    ApiProblem,
    ApiRoute,
    HomeLine,
    HomeSection,
    Page,
    PluginContext,
    ProfileSection,
    Speaker,
    format_rupiah,
    hookimpl,
    record_id,
)

from .moves import MOVES, STATES, OrderError, move

DESK_COLUMNS = (("new", "Baru", "New"), ("ready", "Siap", "Ready"), ("done", "Selesai hari ini", "Done today"))
DESK_MOVES = {"new": (("ready", "Siap", "Ready"), ("cancelled", "Batalkan", "Cancel")),
              "ready": (("done", "Selesai", "Done"), ("cancelled", "Batalkan", "Cancel")), "done": ()}


async def _lines(ctx: PluginContext, order_id: int) -> list[dict]:
    return await ctx.db.fetchall("SELECT * FROM order_lines WHERE order_id = ? ORDER BY line", (order_id,))


async def _desk_orders(ctx: PluginContext) -> dict[str, list[dict]]:
    today = ctx.today_start().astimezone(timezone.utc).isoformat()  # the shop's today, as stored (UTC)
    rows = await ctx.db.fetchall(
        "SELECT o.*, c.name AS customer, c.id AS customer_id, c.address FROM orders o "
        "LEFT JOIN customers c ON c.phone = o.phone "
        "WHERE (o.state IN ('new', 'ready') OR (o.state = 'done' AND o.updated_at >= ?)) AND o.store_id = ? "
        "ORDER BY o.id DESC", (today, ctx.store.id))  # newest first: the order just texted in is on top
    out: dict[str, list[dict]] = {state: [] for state, _, _ in DESK_COLUMNS}
    for o in rows:
        # created_at stays the stored UTC instant: the template's when() shows it in shop time
        out[o["state"]].append({**o, "customer": o["customer"], "total": format_rupiah(o["total"]),
                                "lines": await _lines(ctx, o["id"])})
    return out


async def order_desk(view, ctx: PluginContext):
    """New, ready and today's done orders, newest first. A move texts the customer, so the desk asks
    first (showing that SMS; for a cancel, that the stock comes back) and says what it did after. The
    question carries the state it was asked about: if someone moved the order meanwhile, the yes does
    nothing; a repeated yes (a double tap) does nothing either."""
    if view.method != "POST":
        return await _desk(view, ctx, notice=await _notice(view, ctx))
    order_id, to = record_id(view.form.get("order", "")), view.form.get("to", "")
    order = await ctx.db.fetchone(
        "SELECT o.*, c.name AS customer, c.address FROM orders o LEFT JOIN customers c ON c.phone = o.phone "
        "WHERE o.id = ? AND o.store_id = ?", (order_id, ctx.store.id)) if order_id else None
    if order is None or to not in STATES:
        return await _desk(view, ctx, error=view.t("orders.unknown"), status=400)
    if view.form.get("confirm") == "yes" and not await view.first_time():
        view.redirect(f"/orders?moved={order_id}&to={to}")  # this very yes was acted on already
    if to not in MOVES[order["state"]]:  # moved meanwhile by someone else (or a stale page)
        await view.not_done()
        return await _desk(view, ctx, status=409, error=view.t(
            "orders.cannot_move", no=order_id, state=view.speak.word("state", order["state"]),
            to=view.speak.word("state", to)))
    if view.form.get("confirm") != "yes":
        sms = ctx.text(f"moved_{to}", order["language"], no=order_id, total=format_rupiah(order["total"]))
        return view.render("order_move.html", live=False, order={**order,
                                                                    "total": format_rupiah(order["total"])},
                           lines=await _lines(ctx, order_id), to=to, customer_sms=sms)
    try:
        await move(ctx, order_id, to, by=f"web:{view.user['username']}", expect=view.form.get("from") or None)
    except OrderError as exc:
        await view.not_done()
        return await _desk(view, ctx, error=exc.say(view.speak), status=409)
    view.redirect(f"/orders?moved={order_id}&to={to}")


async def _notice(view, ctx: PluginContext) -> str:
    """What the last move did, said after post/redirect/get (only while the order is in that state)."""
    moved, to = record_id(view.query.get("moved", "")), view.query.get("to", "")
    order = await ctx.db.fetchone("SELECT o.id, o.state, o.phone, c.name FROM orders o "
                                  "LEFT JOIN customers c ON c.phone = o.phone WHERE o.id = ? AND o.store_id = ?",
                                  (moved, ctx.store.id)) if moved else None
    if order is None or order["state"] != to:
        return ""
    return view.t("orders.moved", no=order["id"], to=view.speak.word("state", to),
                  customer=order["name"] or order["phone"])


async def _desk(view, ctx: PluginContext, *, notice: str = "", error: str = "", status: int = 200):
    page = view.render("order_desk.html", live=not error, orders=await _desk_orders(ctx), columns=DESK_COLUMNS,
                       moves=DESK_MOVES, notice=notice, error=error)
    page.set_status(status)
    return page


@hookimpl
def register_pages():
    """The order desk at /orders (staff and owner); it reloads itself when an order arrives or moves."""
    return [Page("/orders", "Pesanan", order_desk, titles={"en": "Orders"}, live="orders")]


HOME_LINES = 5


@hookimpl
async def home_section(ctx: PluginContext, language: str, now):
    """Today's orders on the home page: the new ones (newest first, with their age) and the counts."""
    speak = Speaker(language, time=ctx.store.time)
    counts = {r["state"]: r["n"] for r in await ctx.db.fetchall(
        "SELECT state, COUNT(*) AS n FROM orders WHERE state IN ('new', 'ready') AND store_id = ? GROUP BY state",
        (ctx.store.id,))}
    rows = await ctx.db.fetchall(
        "SELECT o.id, o.phone, o.total, o.created_at, c.name FROM orders o LEFT JOIN customers c ON c.phone = o.phone "
        "WHERE o.state = 'new' AND o.store_id = ? ORDER BY o.id DESC LIMIT ?", (ctx.store.id, HOME_LINES))
    lines = [HomeLine(f"#{o['id']} · {o['name'] or o['phone']} · {format_rupiah(o['total'])}", f"/orders#order-{o['id']}",
                      speak.age(o["created_at"], now)) for o in rows]
    return HomeSection(speak.t("home.orders"), lines, order=10, link="/orders", link_text=speak.t("home.to_orders"),
                       summary=speak.t("home.orders_summary", new=speak.number(counts.get("new", 0)),
                                       ready=speak.number(counts.get("ready", 0))),
                       empty=speak.t("home.no_new_orders"))


# ------------------------------------------------------------------ JSON API

class OrderLineOut(BaseModel):
    """One line of an order, with the price it was sold at (Rupiah)."""

    code: str
    name: str
    quantity: int
    price: int


class OrderOut(BaseModel):
    """An order as the API shows it."""

    id: int
    phone: str
    state: Literal["new", "ready", "done", "cancelled"]
    total: int
    created_at: str
    updated_at: str
    lines: list[OrderLineOut]


class OrderQuery(BaseModel):
    """Filters for the order list."""

    state: Literal["new", "ready", "done", "cancelled"] | None = None
    limit: int = Field(100, ge=1, le=500)


class OrderId(BaseModel):
    """The order in the path."""

    id: int = Field(ge=1, le=2**62)


class OrderMove(BaseModel):
    """Where to move the order; the customer gets an SMS."""

    state: Literal["ready", "done", "cancelled"]


async def _out(ctx: PluginContext, row: dict) -> OrderOut:
    lines = [OrderLineOut(**{k: line[k] for k in ("code", "name", "quantity", "price")})
             for line in await _lines(ctx, row["id"])]
    return OrderOut(**{k: row[k] for k in ("id", "phone", "state", "total", "created_at", "updated_at")}, lines=lines)


async def api_list(call, ctx: PluginContext) -> list[OrderOut]:
    state, limit = call.query.state, call.query.limit
    rows = await ctx.db.fetchall(
        "SELECT * FROM orders WHERE (CAST(? AS TEXT) IS NULL OR state = ?) AND store_id = ? ORDER BY id DESC LIMIT ?",
        (state, state, ctx.store.id, limit))
    return [await _out(ctx, r) for r in rows]


async def _get(ctx: PluginContext, order_id: int) -> dict:
    row = await ctx.db.fetchone("SELECT * FROM orders WHERE id = ? AND store_id = ?", (order_id, ctx.store.id))
    if row is None:
        raise ApiProblem(404, f"order {order_id} does not exist")
    return row


async def api_get(call, ctx: PluginContext) -> OrderOut:
    return await _out(ctx, await _get(ctx, call.path.id))


async def api_move(call, ctx: PluginContext) -> OrderOut:
    await _get(ctx, call.path.id)
    try:
        await move(ctx, call.path.id, call.body.state, by=f"api:{call.client}")
    except OrderError as exc:
        raise ApiProblem(409, str(exc)) from None
    return await _out(ctx, await _get(ctx, call.path.id))


@hookimpl
def register_api():
    """List orders, show one, move one (the customer gets an SMS)."""
    return [
        ApiRoute("GET", "/api/orders", api_list, "List orders, newest first", response=list[OrderOut],
                 query=OrderQuery, tag="orders"),
        ApiRoute("GET", "/api/orders/{id}", api_get, "One order with its lines", response=OrderOut,
                 path_params=OrderId, tag="orders"),
        ApiRoute("POST", "/api/orders/{id}/state", api_move, "Move an order (the customer gets an SMS)",
                 response=OrderOut, path_params=OrderId, body=OrderMove, tag="orders",
                 problems={409: "the order cannot make that move"}),
    ]


@hookimpl
async def customer_profile(customer, ctx: PluginContext, language: str):
    """The customer's orders on their page, in the page's language."""
    speak = Speaker(language, time=ctx.store.time)
    rows = await ctx.db.fetchall("SELECT * FROM orders WHERE phone = ? AND store_id = ? ORDER BY id DESC LIMIT 100",
                                 (customer.phone, ctx.store.id))
    out = []
    for o in rows:
        items = ", ".join(f"{line['quantity']}x {line['name']}" for line in await _lines(ctx, o["id"]))
        out.append([f"#{o['id']}", speak.when(o["created_at"]), speak.word("state", o["state"]), items,
                    speak.money(o["total"])])
    spent = sum(o["total"] for o in rows if o["state"] == "done")
    return ProfileSection(speak.t("nav.orders"), ["#", speak.t("time"), speak.t("state_heading"), speak.t("item"),
                                                  speak.t("total")], out,
                          summary=speak.t("done_spent", count=speak.number(len(rows)), spent=speak.money(spent)))


__all__ = ["STATES", "customer_profile", "home_section", "order_desk", "register_api", "register_pages"]
