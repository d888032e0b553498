"""Built-in plugin: DAFTAR/REG registers a customer; UBAH changes one field.

Written exactly like a third-party plugin: it uses only the public API.
"""

from __future__ import annotations

from pydantic import Field

# The fields are read by smsd_crm.understanding.fields (pure), through the public API.
from smsd_crm import (
    Message,
    PluginConfig,
    PluginContext,
    Reply,
    clip,
    hookimpl,
    parse_birthday,
    parse_registration,
    parse_update,
    split_keyword,
)

MAX_NAME, MAX_ADDRESS = 60, 160


class RegistrationConfig(PluginConfig):
    """Keywords and replies of the registration plugin."""

    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "register": {"id": ["DAFTAR", "REG"], "en": ["REGISTER"]},
        "update": {"id": ["UBAH"], "en": ["UPDATE"]},
    })
    replies: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "id": {
            "welcome": "Selamat datang {name} di {store}! No. anggota Anda {member}. Ketik BANTUAN untuk menu.",
            "updated": "Data Anda diperbarui, {name}. No. anggota {member}. Ketik BANTUAN untuk menu.",
            "usage": "Format: DAFTAR nama#alamat#tgl-lahir. Contoh: DAFTAR Budi#Jl. Mawar 5#17-08-1990",
            "bad_name": "Nama tidak valid (maks. {max} huruf). Contoh: DAFTAR Budi#Jl. Mawar 5",
            "bad_address": "Alamat terlalu panjang (maks. {max} huruf).",
            "bad_birthday": "Tanggal lahir tidak valid. Contoh: 17-08-1990",
            "update_usage": "Format: UBAH NAMA x, UBAH ALAMAT x, atau UBAH LAHIR 17-08-1990",
            "field_updated": "{field} Anda sudah diubah. Terima kasih!",
        },
        "en": {
            "welcome": "Welcome {name} to {store}! Your member no. is {member}. Text HELP for the menu.",
            "updated": "Your details are updated, {name}. Member no. {member}. Text HELP for the menu.",
            "usage": "Format: REGISTER name#address#birthday. Example: REGISTER Budi#Jl. Mawar 5#17-08-1990",
            "bad_name": "Invalid name (max. {max} letters). Example: REGISTER Budi#Jl. Mawar 5",
            "bad_address": "Address too long (max. {max} letters).",
            "bad_birthday": "Invalid birthday. Example: 17-08-1990",
            "update_usage": "Format: UPDATE NAME x, UPDATE ADDRESS x or UPDATE BIRTHDAY 17-08-1990",
            "field_updated": "Your {field} is changed. Thank you!",
        },
    })


@hookimpl
def register_config_model():
    """Registration's config section."""
    return RegistrationConfig


async def _register(message: Message, ctx: PluginContext) -> Reply:
    lang = message.language
    _, sep, _ = split_keyword(message.text)
    reg = parse_registration(sep, message.args)
    if not reg.name:  # nothing typed, or only symbols ("DAFTAR 😀😀")
        return Reply(ctx.text("bad_name" if message.args.strip() else "usage", lang, max=MAX_NAME))
    if len(reg.name) > MAX_NAME or not any(c.isalpha() for c in reg.name):
        return Reply(ctx.text("bad_name", lang, max=MAX_NAME))
    if reg.address and len(reg.address) > MAX_ADDRESS:
        return Reply(ctx.text("bad_address", lang, max=MAX_ADDRESS))
    fields: dict[str, str | None] = {"name": reg.name, "language": lang}
    if reg.address:
        fields["address"] = reg.address
    if reg.birthday:
        born = parse_birthday(reg.birthday)
        if born is None:
            return Reply(ctx.text("bad_birthday", lang))
        fields["birthday"] = born.isoformat()
    customer, created = await ctx.customers.upsert(message.phone, **fields)
    ctx.log.info("customer %s %s", customer.id, "registered" if created else "updated")
    template = "welcome" if created else "updated"
    return Reply(ctx.text(template, lang, name=clip(reg.name, 30), member=f"{customer.id:05d}"))


_FIELD_LABELS = {"id": {"name": "Nama", "address": "Alamat", "birthday": "Tanggal lahir"},
                 "en": {"name": "name", "address": "address", "birthday": "birthday"}}


async def _update(message: Message, ctx: PluginContext) -> Reply:
    lang = message.language
    field, value = parse_update(message.args)  # "NAMA siti aminah" -> ("name", "Siti Aminah")
    if field is None or not value:
        return Reply(ctx.text("update_usage", lang), fallback=True)
    # a number not registered yet is recorded with what it sent ("ganti alamat ke ..." before any DAFTAR)
    if field == "birthday":
        born = parse_birthday(value)
        if born is None:
            return Reply(ctx.text("bad_birthday", lang))
        value = born.isoformat()
    elif field == "name" and (len(value) > MAX_NAME or not any(c.isalpha() for c in value)):
        return Reply(ctx.text("bad_name", lang, max=MAX_NAME))
    elif field == "address" and len(value) > MAX_ADDRESS:
        return Reply(ctx.text("bad_address", lang, max=MAX_ADDRESS))
    await ctx.customers.upsert(message.phone, **{field: value})
    label = _FIELD_LABELS.get(lang, _FIELD_LABELS["en"])[field]
    return Reply(ctx.text("field_updated", lang, field=label))


@hookimpl
async def handle_message(message: Message, ctx: PluginContext) -> Reply | None:
    """DAFTAR/REG/REGISTER and UBAH/UPDATE."""
    if message.phone is None:
        return None
    if message.command == "register":
        return await _register(message, ctx)
    if message.command == "update":
        return await _update(message, ctx)
    return None
