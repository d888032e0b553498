"""Built-in plugin: DAFTAR/REG registers a customer; UBAH changes one field.

Written exactly like a third-party plugin: it uses only the public API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pydantic import Field

from smsd_crm import Message, PluginConfig, PluginContext, Reply, hookimpl, split_keyword

MAX_NAME, MAX_ADDRESS = 60, 160
_DATE = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{2,4})")
_TRAILING_DATE = re.compile(r"[\s#.,;*]*(\d{1,2}[-/]\d{1,2}[-/]\d{2,4})\s*$")
# Words that start an Indonesian address when fields are separated by spaces only.
_ADDRESS_START = {"JL", "JLN", "JALAN", "GG", "GANG", "PERUM", "PERUMAHAN", "KOMP", "KOMPLEK",
                  "KOMPLEKS", "RT", "RW", "DUSUN", "DSN", "DESA", "DS", "KP", "KAMPUNG", "BLOK",
                  "NO", "KEL", "KEC", "ASRAMA", "PASAR", "LORONG", "LR"}


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
            "not_registered": "Nomor Anda belum terdaftar. Ketik DAFTAR nama#alamat",
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
            "not_registered": "Your number is not registered. Text REGISTER name#address",
            "field_updated": "Your {field} is changed. Thank you!",
        },
    })


@dataclass(frozen=True)
class Registration:
    """What a DAFTAR message says."""

    name: str
    address: str | None
    birthday: str | None  # as typed; checked by parse_birthday


def parse_birthday(text: str) -> date | None:
    """``17-08-1990``, ``17/8/90`` -> a date; None when it is not a real date."""
    m = _DATE.fullmatch(text.strip())
    if not m:
        return None
    day, month, year = (int(g) for g in m.groups())
    if year < 100:
        year += 1900 if year > 30 else 2000
    try:
        born = date(year, month, day)
    except ValueError:
        return None
    return born if 1900 <= born.year <= date.today().year else None


def _split_spaces(rest: str) -> tuple[str, str | None]:
    tokens = rest.split()
    for i, token in enumerate(tokens[1:], start=1):
        if token.upper().rstrip(".") in _ADDRESS_START or any(c.isdigit() for c in token):
            return " ".join(tokens[:i]), " ".join(tokens[i:])
    return " ".join(tokens), None


def parse_registration(separator: str, rest: str) -> Registration:
    """Parse what follows the keyword: ``Budi Santoso#Jl. Mawar 5#17-08-1990`` and its variants.

    ``#`` anywhere wins; else the separator typed after the keyword; else
    spaces, where the address starts at a word like ``Jl.`` or one with a digit.
    """
    birthday = None
    m = _TRAILING_DATE.search(rest)
    if m and m.start() > 0:
        birthday, rest = m.group(1), rest[:m.start()]
    sep = "#" if "#" in rest else separator
    if sep and sep != " " and sep in rest:
        name, _, address = rest.partition(sep)
        address = address.strip(" #.,;*") or None
        if address and sep == "#":
            address = " ".join(p.strip() for p in address.split("#") if p.strip())
    else:
        name, address = _split_spaces(rest)
    return Registration(" ".join(name.split()), address and " ".join(address.split()), birthday)


@hookimpl
def register_config_model():
    """Registration's config section."""
    return RegistrationConfig


async def _register(message: Message, ctx: PluginContext) -> Reply:
    lang = message.language
    _, sep, _ = split_keyword(message.text)
    reg = parse_registration(sep, message.args)
    if not reg.name:
        return Reply(ctx.text("usage", lang))
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
    return Reply(ctx.text(template, lang, name=reg.name[:30], member=f"{customer.id:05d}"))


_UPDATE_FIELDS = {"NAMA": "name", "NAME": "name", "ALAMAT": "address", "ADDRESS": "address",
                  "LAHIR": "birthday", "BIRTHDAY": "birthday", "TGL": "birthday"}
_FIELD_LABELS = {"id": {"name": "Nama", "address": "Alamat", "birthday": "Tanggal lahir"},
                 "en": {"name": "name", "address": "address", "birthday": "birthday"}}


async def _update(message: Message, ctx: PluginContext) -> Reply:
    lang = message.language
    word, _, value = split_keyword(message.args)
    field = _UPDATE_FIELDS.get(word)
    value = value.strip(" #.,;*")
    if field is None or not value:
        return Reply(ctx.text("update_usage", lang))
    if await ctx.customers.get(message.phone) is None:
        return Reply(ctx.text("not_registered", lang))
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
