"""Built-in plugin: HARGA/PRICE/CEK price check (typos allowed) and INFO (hours, address, delivery)."""

from __future__ import annotations

from pydantic import Field

from smsd_crm import Listing, Message, PluginConfig, PluginContext, Product, Reply, clip, format_rupiah, hookimpl

NAME_IN_REPLY = 40  # septets of a product name in a price answer (the catalogue allows 80)


class InfoConfig(PluginConfig):
    """Keywords, replies and the store's details for INFO."""

    # INFO answers all three with the store's name in one SMS: hence the limits.
    hours: str = Field("07.00-21.00 setiap hari", min_length=1, max_length=30)
    address: str = Field("Jl. Contoh No. 1", min_length=1, max_length=40)
    delivery: str = Field("Antar gratis min. Rp50.000 radius 2 km", min_length=1, max_length=40)
    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "price": {"id": ["HARGA", "CEK"], "en": ["PRICE"]},
        "info": {"id": ["INFO"]},
    })
    replies: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "id": {
            "price": "{items}",
            "in_stock": "ada", "low_stock": "sisa {stock}", "out_of_stock": "habis",
            "not_found": "Barang '{query}' tidak ditemukan. Coba nama lain atau kode barang.",
            "usage": "Format: HARGA nama barang. Contoh: HARGA gula",
            "info": "{store}: buka {hours}. Alamat {address}. {delivery}.",
        },
        "en": {
            "price": "{items}",
            "in_stock": "in stock", "low_stock": "{stock} left", "out_of_stock": "sold out",
            "not_found": "No item '{query}'. Try another name or the item code.",
            "usage": "Format: PRICE item name. Example: PRICE sugar",
            "info": "{store}: open {hours}. Address {address}. {delivery}.",
        },
    })


@hookimpl
def register_config_model():
    """The info plugin's config section."""
    return InfoConfig


def _stock(ctx: PluginContext, product: Product, lang: str) -> str:
    if product.stock is None or product.stock > 5:
        return ctx.text("in_stock", lang)
    if product.stock == 0:
        return ctx.text("out_of_stock", lang)
    return ctx.text("low_stock", lang, stock=product.stock)


@hookimpl
async def handle_message(message: Message, ctx: PluginContext) -> Reply | None:
    """HARGA: up to three matching products with price and stock; INFO: the store's details."""
    if message.phone is None:
        return None
    lang = message.language
    if message.command == "info":
        c = ctx.config
        return Reply(ctx.text("info", lang, hours=c.hours, address=c.address, delivery=c.delivery))
    if message.command != "price":
        return None
    words = message.args.strip(" #.,;*").split()
    same = {w.upper() for by_lang in ctx.config.keywords.get("price", {}).values() for w in by_lang}
    while words and words[0].upper() in same:  # "CEK HARGA gula"
        words.pop(0)
    query = " ".join(words)[:60]
    if not query:
        return Reply(ctx.text("usage", lang), fallback=True)
    product, suggestions = await ctx.catalog.resolve(query)
    found = [product] if product else suggestions[:3]
    if product is not None and not any(ch.isdigit() for ch in query) and product.code.lower() != query.lower():
        found = (await ctx.catalog.sizes_of(product))[:3]  # "harga minyak": the 2 L and the 1 L pouch
    if not found:
        return Reply(ctx.text("not_found", lang, query=clip(query, 60)), fallback=True)
    items = Listing([f"{clip(p.name, NAME_IN_REPLY)} ({p.code}) {format_rupiah(p.price)}/{p.unit}, "
                     f"{_stock(ctx, p, lang)}" for p in found], "; ")  # as many as fit one SMS
    return Reply(ctx.text("price", lang, items=items))
