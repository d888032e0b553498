"""The order plugin's SMS side and staff commands: PESAN/ORDER/BELI, BATAL, STATUS."""

from __future__ import annotations

import re

from pydantic import Field

from smsd_crm import (
    MAX_ITEMS,
    AskSize,
    Command,
    Listing,
    Message,
    OrderPlaced,
    Packs,
    PluginConfig,
    PluginContext,
    Product,
    Reply,
    choose,
    clip,
    format_rupiah,
    hookimpl,
    parse_items,
    record_number,
    size_text,
    wrong_pack,
)

from .moves import STATE_NAMES, STATES, OrderError, move


class OrderConfig(PluginConfig):
    """Keywords, replies and limits of the order plugin."""

    max_quantity: int = Field(100, gt=0, description="the most of one item per order")
    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "order": {"id": ["PESAN", "BELI"], "en": ["ORDER"]},
        "cancel": {"id": ["BATAL"], "en": ["CANCEL"]},
        "status": {"id": ["STATUS"]},
    })
    replies: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "id": {
            "placed": "Pesanan #{no}: {lines}. Total {total}. Batal: BATAL {no}",
            "usage": "Format: PESAN barang jumlah, barang jumlah. Contoh: PESAN beras 2, gula 1",
            "unknown": "Barang tidak dikenal: {items}. Cek dengan HARGA nama barang. Pesanan belum dibuat.",
            "suggest": "{item}: maksud Anda {choices}? Pesanan belum dibuat.",
            "ask_size": "{item} {given}: pilih {choices} dan jumlahnya. Pesanan belum dibuat.",
            "which_order": "Pesanan mana yang dibatalkan? {orders}. Ketik BATAL nomor, mis. BATAL {no}",
            "per_unit": "Maaf, {item} dijual per {unit}, bukan per {given}. Tulis jumlah {unit}nya. Pesanan belum dibuat.",
            "bad_quantity": "Jumlah {item} tidak valid ({given}); boleh 1-{max}. Pesanan belum dibuat.",
            "short_stock": "Maaf, stok {item} tinggal {stock}. Pesanan belum dibuat.",
            "too_many": "Maks. {max} barang per pesanan. Pesanan belum dibuat.",
            "cancelled": "Pesanan #{no} dibatalkan. Terima kasih.",
            "cannot_cancel": "Pesanan #{no} tidak bisa dibatalkan (status: {state}).",
            "cancel_usage": "Format: BATAL nomor pesanan. Contoh: BATAL 12",
            "not_found": "Pesanan #{no} tidak ditemukan.",
            "no_orders": "Anda belum punya pesanan. Ketik PESAN barang jumlah.",
            "status": "Pesanan #{no}: {state}. Total {total}.",
            "moved_ready": "Pesanan #{no} sudah siap. Total {total}. Terima kasih!",
            "moved_done": "Pesanan #{no} selesai. Terima kasih telah berbelanja di {store}!",
            "moved_cancelled": "Maaf, pesanan #{no} dibatalkan oleh toko. Hubungi kami untuk info.",
        },
        "en": {
            "placed": "Order #{no}: {lines}. Total {total}. To cancel: CANCEL {no}",
            "usage": "Format: ORDER item quantity, item quantity. Example: ORDER rice 2, sugar 1",
            "unknown": "Unknown item: {items}. Check with PRICE item name. No order was made.",
            "suggest": "{item}: did you mean {choices}? No order was made.",
            "ask_size": "{item} {given}: choose {choices} and how many. No order was made.",
            "which_order": "Which order? {orders}. Text CANCEL number, e.g. CANCEL {no}",
            "per_unit": "Sorry, {item} is sold per {unit}, not per {given}. Send how many {unit}. No order was made.",
            "bad_quantity": "Quantity for {item} is not valid ({given}); 1-{max} allowed. No order was made.",
            "short_stock": "Sorry, only {stock} {item} left. No order was made.",
            "too_many": "At most {max} items per order. No order was made.",
            "cancelled": "Order #{no} is cancelled. Thank you.",
            "cannot_cancel": "Order #{no} can no longer be cancelled (status: {state}).",
            "cancel_usage": "Format: CANCEL order number. Example: CANCEL 12",
            "not_found": "Order #{no} was not found.",
            "no_orders": "You have no orders yet. Text ORDER item quantity.",
            "status": "Order #{no}: {state}. Total {total}.",
            "moved_ready": "Order #{no} is ready. Total {total}. Thank you!",
            "moved_done": "Order #{no} is complete. Thank you for shopping at {store}!",
            "moved_cancelled": "Sorry, order #{no} was cancelled by the store. Contact us for details.",
        },
    })


@hookimpl
def register_config_model():
    """The order plugin's config section."""
    return OrderConfig


NAME_IN_REPLY = 40  # septets of a product name or a typed item in a reply (the catalogue allows 80)


def _short(name: str) -> str:
    return clip(name, NAME_IN_REPLY)


PROMO_CODE = re.compile(r"(?i)\b(?:kode|code)\s*[:#]?\s*([a-z0-9]{2,20})\b")


async def _check_items(message: Message, ctx: PluginContext, args: str) -> Reply | list[tuple[Product, int]]:
    """The products and quantities asked for, or the reply that explains what is wrong."""
    lang, cfg = message.language, ctx.config
    products = await ctx.catalog.products()
    keep = frozenset(w for p in products for n in (p.code, p.name, *p.aliases) for w in n.lower().split())
    items = parse_items(args, ctx.lexicon, keep)
    if not items or any(not i.query for i in items):
        return Reply(ctx.text("usage", lang), fallback=True)  # format hints are budgeted too
    if len(items) > MAX_ITEMS:
        return Reply(ctx.text("too_many", lang, max=MAX_ITEMS))
    wanted: dict[int, tuple[Product, int]] = {}
    unknown: list[str] = []
    for item in items:
        product, suggestions = await ctx.catalog.resolve(item.query)
        if product is None:
            if suggestions:
                choices = Listing([f"{_short(p.name)} ({p.code})" for p in suggestions[:2]], " / ")
                return Reply(ctx.text("suggest", lang, item=_short(item.query), choices=choices))
            unknown.append(_short(item.query))
            continue
        quantity = item.quantity
        if wrong_pack(item.unit, product, ctx.lexicon):  # "aqua 2 dus" for a bottle: ask, do not guess
            return Reply(ctx.text("per_unit", lang, item=_short(product.name), unit=clip(product.unit, 12),
                                  given=clip(item.unit or "", 12)))
        if item.size is not None:  # "minyak yg 2 liter 3": the 2 L pouch, three of them
            pack = choose(item.size, product, products, ctx.lexicon)
            if not isinstance(pack, Packs) or pack.quantity != 1:
                sizes = Listing([f"{_short(p.name)} ({p.code})" for p in
                                 (pack.options if isinstance(pack, AskSize) else (pack.product,))], " / ")
                return Reply(ctx.text("ask_size", lang, item=_short(item.query), given=size_text(item.size),
                                      choices=sizes))
            product = pack.product
        if item.measure is not None:  # "gula 2 kg", "minyak 2 liter": counted in the catalogue's packs
            packs = choose(item.measure, product, products, ctx.lexicon)
            if isinstance(packs, AskSize):
                sizes = Listing([f"{_short(p.name)} ({p.code})" for p in packs.options], " / ")
                return Reply(ctx.text("ask_size", lang, item=_short(item.query), given=clip(item.raw_quantity, 12),
                                      choices=sizes))
            product, quantity = packs.product, packs.quantity
        if quantity is None or not 0 < quantity <= cfg.max_quantity:
            return Reply(ctx.text("bad_quantity", lang, item=_short(product.name),
                                  given=clip(item.raw_quantity, 10) or "?", max=cfg.max_quantity))
        before = wanted.get(product.id, (product, 0))[1]
        if before + quantity > cfg.max_quantity:  # "es 100 sama es 100 sama es 100": the total counts
            return Reply(ctx.text("bad_quantity", lang, item=_short(product.name), given=str(before + quantity),
                                  max=cfg.max_quantity))
        wanted[product.id] = (product, before + quantity)
    if unknown:
        return Reply(ctx.text("unknown", lang, items=unknown), fallback=True)
    for product, quantity in wanted.values():
        if product.stock is not None and product.stock < quantity:
            return Reply(ctx.text("short_stock", lang, item=_short(product.name), stock=product.stock))
    return list(wanted.values())


async def _place(message: Message, ctx: PluginContext) -> Reply:
    # "PESAN beras 2 KODE HEMAT10": a campaign's promo code, so the campaign's results count the order
    code, args = None, message.args
    if (m := PROMO_CODE.search(args)) is not None:
        args = (args[:m.start()] + " " + args[m.end():]).strip(" ,")
        code = m.group(1).upper() if await ctx.campaigns.promo_code_exists(m.group(1)) else None
    checked = await _check_items(message, ctx, args)
    if isinstance(checked, Reply):
        return checked
    total = sum(p.price * q for p, q in checked)
    async with ctx.db.transaction():
        for product, quantity in checked:
            if not await ctx.catalog.take_stock(product, quantity):  # checked above, in this transaction
                raise RuntimeError(f"stock of {product.code} changed while ordering")
        order_id = await ctx.orders.place(message.phone, checked, message.language, message_id=message.id,
                                          promo_code=code)
    await ctx.emit(OrderPlaced(order_id, message.phone, total))
    lines = [f"{q}x {_short(p.name)} {format_rupiah(p.price * q)}" for p, q in checked]  # as many as fit
    return Reply(ctx.text("placed", message.language, no=order_id, lines=lines, total=format_rupiah(total)))


def _number(args: str) -> int | None:
    """The order number in ``12``, ``#12``, ``pesanan 12``, ``no. 12``: the first number written."""
    m = re.search(r"(?<![\w])#?(\d{1,9})(?![\w])", args)
    return int(m.group(1)) if m else None


async def _cancel(message: Message, ctx: PluginContext) -> Reply:
    lang, number = message.language, _number(message.args)
    if number is None:  # "gak jadi, batal aja": the customer's one open order, else ask which
        open_orders = await ctx.db.fetchall("SELECT id FROM orders WHERE phone = ? AND state = 'new' "
                                            "AND store_id = ? ORDER BY id DESC LIMIT 4", (message.phone, ctx.store.id))
        if not open_orders:
            return Reply(ctx.text("cancel_usage", lang), fallback=True)
        if len(open_orders) > 1:
            numbers = Listing([f"#{o['id']}" for o in open_orders], ", ")
            return Reply(ctx.text("which_order", lang, orders=numbers, no=open_orders[0]["id"]))
        number = open_orders[0]["id"]
    order = await ctx.db.fetchone("SELECT * FROM orders WHERE id = ? AND phone = ? AND store_id = ?",
                                  (number, message.phone, ctx.store.id))
    if order is None:
        return Reply(ctx.text("not_found", lang, no=number))
    if order["state"] != "new":
        return Reply(ctx.text("cannot_cancel", lang, no=number, state=STATE_NAMES[lang][order["state"]]))
    await move(ctx, number, "cancelled", by="customer", notify=False)
    return Reply(ctx.text("cancelled", lang, no=number))


async def _status(message: Message, ctx: PluginContext) -> Reply:
    lang, number = message.language, _number(message.args)
    if number is None:
        order = await ctx.db.fetchone("SELECT * FROM orders WHERE phone = ? AND store_id = ? ORDER BY id DESC LIMIT 1",
                                      (message.phone, ctx.store.id))
        if order is None:
            return Reply(ctx.text("no_orders", lang))
    else:
        order = await ctx.db.fetchone("SELECT * FROM orders WHERE id = ? AND phone = ? AND store_id = ?",
                                      (number, message.phone, ctx.store.id))
        if order is None:
            return Reply(ctx.text("not_found", lang, no=number))
    return Reply(ctx.text("status", lang, no=order["id"], state=STATE_NAMES[lang][order["state"]],
                          total=format_rupiah(order["total"])))


@hookimpl
async def handle_message(message: Message, ctx: PluginContext) -> Reply | None:
    """PESAN/ORDER/BELI, BATAL/CANCEL, STATUS."""
    if message.phone is None:
        return None
    handler = {"order": _place, "cancel": _cancel, "status": _status}.get(message.command or "")
    return await handler(message, ctx) if handler else None


# ------------------------------------------------------------------ staff commands

def _arguments(parser) -> None:
    parser.add_argument("action", choices=["list", "show", "ready", "done", "cancel"],
                        help="list orders, show one, or move one (the customer gets an SMS)")
    parser.add_argument("number", nargs="?", type=record_number("#"),
                        help="the order number as shown: #12 (or 12) (for show/ready/done/cancel)")
    parser.add_argument("--state", choices=[*STATES, "all"], default="new", help="which orders to list")


async def _staff(args, ctx: PluginContext) -> int:
    speak = ctx.speaker(getattr(args, "lang", None))  # the shop's language unless --lang says otherwise
    if args.action == "list":
        where = "" if args.state == "all" else "AND state = ?"
        rows = await ctx.db.fetchall(f"SELECT * FROM orders WHERE store_id = ? {where} ORDER BY id",
                                     (ctx.store.id,) if args.state == "all" else (ctx.store.id, args.state))
        for o in rows:
            print(f"#{o['id']:<5} {speak.word('state', o['state']):<10} {o['phone']:<16} "
                  f"{speak.money(o['total']):>12}  {speak.when(o['created_at'])}")
        print(speak.t("order.cli.count", count=len(rows)))
        return 0
    if args.number is None:
        print(speak.t("cli.error", problem=speak.t("order.cli.needs_number", action=args.action)))
        return 2
    if args.action == "show":
        order = await ctx.db.fetchone("SELECT * FROM orders WHERE id = ? AND store_id = ?", (args.number, ctx.store.id))
        if order is None:
            print(speak.t("cli.error", problem=OrderError("not_found", args.number).say(speak)))
            return 1
        print(speak.t("order.cli.show", no=order["id"], state=speak.word("state", order["state"]),
                      phone=order["phone"], total=speak.money(order["total"]), created=speak.when(order["created_at"])))
        for line in await ctx.db.fetchall("SELECT * FROM order_lines WHERE order_id = ? ORDER BY line",
                                          (args.number,)):
            print(f"  {line['quantity']} x {line['code']} {line['name']} @ {speak.money(line['price'])}")
        return 0
    state = {"ready": "ready", "done": "done", "cancel": "cancelled"}[args.action]
    try:
        await move(ctx, args.number, state, by="staff")
    except OrderError as exc:
        print(speak.t("cli.error", problem=exc.say(speak)))
        return 1
    print(speak.t("order.cli.moved", no=args.number, state=speak.word("state", state)))
    return 0


@hookimpl
def register_commands():
    """``smsd-crm order list|show|ready|done|cancel``."""
    return [Command("order", "list orders and move them (the customer gets an SMS)", _arguments, _staff)]
