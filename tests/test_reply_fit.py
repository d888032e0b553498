"""Every built-in reply fits one SMS (issue 12, "Replies that fit").

One SMS holds 160 GSM-7 septets (3GPP TS 23.038; a character of the extension table such as
``€`` or ``[`` takes two); one character outside GSM-7 makes the whole text UCS-2, 70
characters. Every reply template of every enabled built-in plugin, in both languages, and the
core texts are filled with the longest value each field can get, rendered by ``ctx.text`` as a
plugin does, and must be a single GSM-7 SMS (counted by the project's own codec). Lists (order
lines, products, rewards, the menu) are bounded by ``ctx.text``; further down the plugins run
with a long catalogue, many rewards and emoji, through the router.
"""

from __future__ import annotations

import string
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import smsd_crm_info as info
import smsd_crm_points as points
import smsd_crm_registration as registration
from annotated_types import MaxLen
from hypothesis import given
from hypothesis import strategies as st
from smsd_crm_complaint import answer
from smsd_crm_help import menu_words
from smsd_crm_order import sms as order_sms
from smsd_crm_order.moves import STATE_NAMES

from smsd_crm import Listing, format_rupiah
from smsd_crm.campaigns.preview import render as render_campaign_text
from smsd_crm.config import StoreConfig, parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.models import InboundMessage
from smsd_crm.router import Router
from smsd_crm.sms import compose, gsm7
from smsd_crm.sms.fit import MORE, clip, fit_items, fits_one_sms, septets, to_gsm7

from .conftest import quiet_outbox

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
LANGUAGES = ("id", "en")


def _max_length(model, field: str) -> int:
    """The ``max_length`` a config model sets on ``field`` (so the worst case follows the limit)."""
    return next(m.max_length for m in model.model_fields[field].metadata if isinstance(m, MaxLen))


STORE = "Toko Sumber Rejeki Makmur Jaya"
assert len(STORE) == _max_length(StoreConfig, "name")  # the longest shop name config allows
MONEY = format_rupiah(9_999_999)
NUMBER = "999999"  # order, ticket, member, campaign numbers: six digits
COUNT = "99999"
POINTS = "9999999"
LONG_LIST = Listing([f"{i}x {'W' * order_sms.NAME_IN_REPLY} (KODE{i:02d}) {MONEY}/bungkus, sisa 5" for i in range(25)])

# The longest value each field gets, as the plugin passes it to ctx.text: plugin name -> field -> value,
# "*" for every plugin. A callable gets (ctx, language). Lists are Listings: ctx.text bounds them.
WORST: dict[str, dict[str, Any]] = {
    "*": {"no": NUMBER, "total": MONEY},
    "registration": {
        "name": "N" * 30,  # the plugin passes clip(name, 30); a 60-letter name runs below
        "member": NUMBER, "max": str(max(registration.MAX_NAME, registration.MAX_ADDRESS)),
        "field": "Tanggal lahir",  # the longest field label
    },
    "order": {
        "lines": LONG_LIST, "items": LONG_LIST, "choices": LONG_LIST,
        "item": "W" * order_sms.NAME_IN_REPLY,  # a product name or a typed item, clipped
        "given": "9" * 12,  # a quantity (or a pack word) as typed, clipped
        "unit": "U" * 12,  # the catalogue unit, clipped
        "orders": Listing([f"#{NUMBER}"] * 4),  # a customer's open orders, at most four
        "max": "9999", "stock": "1000000",
        "state": max((s for names in STATE_NAMES.values() for s in names.values()), key=len),
    },
    "complaint": {
        # Staff's own answer, sent in full (several SMS when staff write that much; the desk allows
        # 600 characters): here one that fills the rest of one SMS, to check the frame around it.
        "text": "A" * (160 - len(f"K{NUMBER}: ")),
    },
    "points": {
        "balance": POINTS, "points": POINTS, "cost": POINTS, "date": "31-12-2026", "list": LONG_LIST,
        "voucher": "X" * 8, "reward": "R" * _max_length(points.Reward, "name"),
        "code": "C" * 10,  # a reward code as typed, clipped
        "expiring": lambda ctx, lang: ctx.text("expiring", lang, points=POINTS, date="31-12-2026"),
    },
    "info": {
        "items": LONG_LIST, "stock": "5", "query": "Q" * 60,
        **{key: key[0].upper() * _max_length(info.InfoConfig, key) for key in ("hours", "address", "delivery")},
    },
    "owner": {
        "target": "T" * 20, "choices": LONG_LIST, "id": NUMBER, "count": NUMBER, "parts": "9",
        "encoding": "UCS-2", "cost": MONEY, "time": "21:00", "date": "2026-12-31", "sales": MONEY,
        "receipts": COUNT, "orders": COUNT, "orders_total": MONEY, "new": COUNT, "ready": COUNT,
        "complaints": COUNT, "code": "C" * 20, "name": "W" * 40, "qty": "1000000",
        "modem": "M" * 32, "balance": MONEY, "sms": COUNT,  # credit alerts: a modem id is at most 32
        "left": "99", "minutes": "9999",
    },
    "help": {
        "keywords": lambda ctx, lang: Listing(menu_words(ctx, lang).split(", ")),
        "suggestion": lambda ctx, lang: max((k.word for k in ctx.keywords() if not k.secret_words), key=len),
    },
    "core": {"id": NUMBER, "name": "N" * 60, "sent": NUMBER, "delivered": NUMBER, "failed": NUMBER,
             "skipped": NUMBER, "nama": "N" * 60, "toko": STORE, "store": STORE},
}
# Replies sent together as one SMS: (plugin, template) -> the template appended to it.
APPENDED = {("owner", "promo_queued"): "promo_later"}


def _fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def _one_gsm7_sms(text: str) -> str | None:
    """None when ``text`` is one GSM-7 SMS, else what is wrong."""
    culprit = gsm7.first_non_gsm7(text)
    if culprit is not None:
        return f"UCS-2 because of {culprit!r}"
    if (n := len(gsm7.encode(text))) > compose.SINGLE_GSM7:
        return f"{n} septets, {compose.count_parts(text)} SMS"
    return None


def _values(plugin: str, template: str, ctx, lang: str, missing: list[str], where: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in _fields(template):
        if field == "store":
            continue  # ctx.text fills it from the config (STORE here)
        table = WORST.get(plugin, {})
        value = table[field] if field in table else WORST["*"].get(field)
        if value is None:
            missing.append(f"{where}: no worst case for {{{field}}}: add the longest value the plugin can pass "
                           f"to WORST[{plugin!r}] in tests/test_reply_fit.py (and bound it in the plugin: clip() "
                           f"for a typed or catalogue text, a Listing for a list)")
            continue
        values[field] = value(ctx, lang) if callable(value) else value
    return values


@asynccontextmanager
async def _session(tmp_path: Path, yaml: str = ""):
    settings = parse_config(f"store: {{name: {STORE}}}\nplugins_dir: plugins\n{yaml}", tmp_path / "c.yaml")
    (tmp_path / "plugins").mkdir(exist_ok=True)
    async with offline_session(settings, clock=lambda: NOW, third_party=False) as (host, db):
        yield settings, host, db


async def test_every_builtin_reply_fits_one_gsm7_sms_with_worst_case_values(tmp_path):
    problems: list[str] = []
    async with _session(tmp_path) as (settings, host, _):
        builtins = [p for p in host.enabled() if p.source == "builtin"]
        assert {p.name for p in builtins} >= {"registration", "order", "complaint", "points", "info", "optout",
                                              "owner", "help"}
        checked = 0
        for plugin in builtins:
            replies = plugin.config.replies
            if not replies:
                continue
            names = set().union(*(replies.get(lang, {}) for lang in LANGUAGES))
            ctx = host.contexts[plugin.name]
            for name in sorted(names):
                for lang in LANGUAGES:
                    where = f"{plugin.name}.{lang}.{name}"
                    template = replies.get(lang, {}).get(name)
                    if template is None:
                        problems.append(f"{where}: missing (every reply is written in both languages)")
                        continue
                    if not gsm7.is_gsm7(template):
                        problems.append(f"{where}: the template has {gsm7.first_non_gsm7(template)!r}, not GSM-7")
                    text = ctx.text(name, lang, **_values(plugin.name, template, ctx, lang, problems, where))
                    if (extra := APPENDED.get((plugin.name, name))) is not None:
                        more = ctx.config.template(extra, lang)
                        text += ctx.text(extra, lang, **_values(plugin.name, more, ctx, lang, problems, where))
                    if (wrong := _one_gsm7_sms(text)) is not None:
                        problems.append(f"{where}: {wrong}: {text!r}")
                    checked += 1
        core = {"flood.reply": settings.flood.reply, "campaigns.replies.done":
                {lang: settings.campaigns.replies[lang]["done"] for lang in LANGUAGES},
                "campaigns.greetings.birthday_text": settings.campaigns.greetings.birthday_text,
                "campaigns.greetings.winback_text": settings.campaigns.greetings.winback_text}
        for key, by_lang in core.items():
            for lang in LANGUAGES:
                template = by_lang[lang]
                text = render_campaign_text(template, _values("core", template, None, lang, problems, key))
                if (wrong := _one_gsm7_sms(text)) is not None:
                    problems.append(f"{key}.{lang}: {wrong}: {text!r}")
                checked += 1
    assert checked > 100
    assert not problems, "\n".join(problems)


async def test_the_default_menu_lists_every_command_in_one_sms(tmp_path):
    async with _session(tmp_path) as (_, host, _db):
        ctx = host.contexts["help"]
        for lang in LANGUAGES:
            words = menu_words(ctx, lang)
            menu = ctx.text("menu", lang, keywords=Listing(words.split(", ")))
            assert menu.endswith(f": {words}."), menu  # nothing left out
            assert _one_gsm7_sms(menu) is None, menu
        assert menu_words(ctx, "id").split(", ")[:3] == ["DAFTAR", "UBAH", "PESAN"]


MANY_COMMANDS = """
from pydantic import Field
from smsd_crm import PluginConfig, hookimpl


class C(PluginConfig):
    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        f"c{i}": {"id": [f"PERINTAHPANJANG{i}"]} for i in range(8)})

@hookimpl
def register_config_model():
    return C
"""


async def test_a_menu_too_long_for_one_sms_keeps_every_plugins_main_command(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "many.py").write_text(MANY_COMMANDS)
    async with _session(tmp_path) as (settings, host, db):
        replies = await _converse(settings, host, db, ["BANTUAN", "apa kabar"])
    for reply in replies:
        assert _one_gsm7_sms(reply) is None, reply
        for main in ("DAFTAR", "PESAN", "KOMPLAIN", "POIN", "HARGA", "BERHENTI", "BANTUAN", "PERINTAHPANJANG0"):
            assert main in reply, (main, reply)
        assert "TUKAR" not in reply and "PERINTAHPANJANG7" not in reply  # second commands went first


async def _converse(settings, host, db, texts: list[str], first_phone: int = 6281300000100) -> list[str]:
    """Each text from its own number through the router; the replies in order."""
    router = Router(db, host, settings, quiet_outbox(db, lambda: NOW), lambda: NOW)
    replies = []
    for i, text in enumerate(texts):
        phone = f"+{first_phone + i}"
        await router.accept(InboundMessage("sim1", phone, text, NOW - timedelta(seconds=5), sim_id="510"))
        while not router._queue.empty():
            await router.route(router._queue.get_nowait())
        row = await db.fetchone("SELECT text FROM messages WHERE direction = 'out' AND phone = ? ORDER BY id DESC",
                                (phone,))
        replies.append(row["text"] if row else "")
    return replies


def _catalogue(n: int) -> str:
    rows = ["code,name,price,stock"]
    for i in range(n):
        name = f"Beras Pulen Wangi Istimewa Kemasan Karung Besar Nomor {i:02d} Panen Raya Terbaik Sekali"[:80]
        rows.append(f"P{i:02d},{name},9999999,")
    return "\n".join(rows) + "\n"


async def test_long_lists_are_cut_to_one_sms_by_the_plugins(tmp_path):
    from smsd_crm.csv_io.catalog import parse_products
    from smsd_crm.storage.catalog import import_rows

    rewards = "\n".join(f"      - {{code: R{i}, name: Hadiah Istimewa Nomor {i:02d} Besar, cost: {100 + i}}}"
                        for i in range(12))
    async with _session(tmp_path, f"plugins:\n  points:\n    rewards:\n{rewards}\n") as (settings, host, db):
        rows, errors = parse_products(_catalogue(12))
        assert not errors and len(rows[0].name) == 80
        await import_rows(db, rows, NOW)
        order = "PESAN#" + "#".join(f"P{i:02d}#1" for i in range(12))
        replies = await _converse(settings, host, db, [order, "HARGA beras pulen", "HADIAH", "REWARDS",
                                                       "PESAN P00 0"])
        lines = await db.fetchone("SELECT COUNT(*) AS n FROM order_lines")
    placed, price, rewards_id, rewards_en, bad_quantity = replies
    for reply in replies:
        assert _one_gsm7_sms(reply) is None, reply
    assert placed.startswith("Pesanan #1: 1x Beras") and ", dll. Total" in placed, placed
    assert placed.endswith(f"Total {format_rupiah(12 * 9_999_999)}. Batal: BATAL 1"), placed
    assert lines["n"] == 12  # the order has every line; only the SMS lists fewer
    assert price.startswith("Beras Pulen") and price.endswith("; dll"), price
    assert rewards_id.startswith("Hadiah: R0 Hadiah Istimewa Nomor 00 Besar = 100 poin; "), rewards_id
    assert "; dll. Tukar: TUKAR kode." in rewards_id, rewards_id
    assert rewards_id.endswith("Poin Anda: 0."), rewards_id
    assert "; etc. To redeem" in rewards_en and rewards_en.endswith("Your points: 0."), rewards_en
    assert bad_quantity.startswith("Jumlah Beras Pulen Wangi Istimewa Kemasan... tidak valid"), bad_quantity


async def test_emoji_a_customer_types_never_force_ucs2(tmp_path):
    async with _session(tmp_path) as (settings, host, db):
        replies = await _converse(settings, host, db, [
            "DAFTAR Siti 🌸#Gg. Kenanga 3", "PESAN 🙏 1", "PESAN sepeda🚲 1", "HARGA “sepeda” 🚲",
            "TUKAR 🎁🎁", "KOMPLAIN telur pecah 😡", "🙏🙏", "REGISTER Zoë 🌸#Elm Street 5",
            "DAFTAR " + "Nur" * registration.MAX_NAME + "#Jl. Mawar 5", "DAFTAR " + " Wulan" * 10 + "#Jl. X 1"])
        await answer(host.contexts["complaint"], 1, "Maaf 🙏 telur kami ganti besok…")
        staff = await db.fetchone("SELECT text FROM messages WHERE direction = 'out' ORDER BY id DESC")
    for reply in replies:
        assert _one_gsm7_sms(reply) is None, reply
    welcome, prayer, bicycle, price, redeem, _, unknown, welcome_en, too_long, longest = replies
    assert welcome.startswith(f"Selamat datang Siti di {STORE}!"), welcome
    assert prayer.startswith("Barang tidak dikenal: ?.") or "Format: PESAN" in prayer, prayer
    assert bicycle.startswith("Barang tidak dikenal: sepeda."), bicycle
    assert "sepeda" in price and "tidak ditemukan" in price, price
    assert unknown == "", unknown  # only emoji: a reaction, answered with nothing (no SMS to pay for)
    assert welcome_en.startswith(f"Welcome Zoe to {STORE}!"), welcome_en
    assert too_long.startswith("Nama tidak valid"), too_long
    assert longest.startswith("Selamat datang Wulan Wulan Wulan Wulan... di "), longest
    # staff's own words go out as typed (the desk's counter showed them UCS-2 and what it costs)
    assert staff["text"] == "K1: Maaf 🙏 telur kami ganti besok…", staff["text"]


async def test_ctx_text_makes_every_value_gsm7(tmp_path):
    async with _session(tmp_path) as (_, host, _db):
        ctx = host.contexts["order"]
        unknown = ctx.text("unknown", "id", items=["🙏", "sepeda🚲", "“roti” tawar…"])
        assert unknown.startswith("Barang tidak dikenal: ?, sepeda, \"roti\" tawar.... "), unknown
        assert ctx.text("suggest", "en", item="Zoë’s 🎂", choices=["Kue Tart (K01)"]).startswith(
            "Zoe's: did you mean Kue Tart (K01)?")


# ------------------------------------------------------------------ the pure functions

def test_to_gsm7_spells_what_it_can_and_drops_the_rest():
    cases = {
        "Siti 🌸": "Siti", "🙏": "", "sepeda🚲": "sepeda", "sepeda🚲 biru": "sepeda biru",
        "Terima kasih 🙏 banyak": "Terima kasih banyak", "Siti (🌸), Budi": "Siti, Budi",
        "Café “Ibu” ‘Ani’…": "Café \"Ibu\" 'Ani'...", "ﬁne ½ Ａｂｃ": "fine 1/2 Abc", "Łódź Çiğdem": "Lodz Çigdem",
        "Zoë": "Zoe", "a — b": "a - b", "👨\u200d👩\u200d👧 keluarga": "keluarga", "❤️ Ani": "Ani",
        "Привет Budi": "Budi", "Budi [€5] ~ ok": "Budi [€5] ~ ok", "e\u0301": "é",
    }
    for text, expected in cases.items():
        assert to_gsm7(text) == expected, text


@given(st.text())
def test_to_gsm7_always_gives_gsm7_and_keeps_gsm7_text(text):
    made = to_gsm7(text)
    assert gsm7.is_gsm7(made)
    assert to_gsm7(made) == made


@given(st.text(), st.integers(min_value=3, max_value=200))
def test_clip_stays_within_its_septets(text, limit):
    clipped = clip(text, limit)
    assert septets(clipped) <= limit
    assert clipped == to_gsm7(text) or clipped.endswith(MORE)


@given(st.lists(st.text(min_size=1, max_size=90), max_size=30), st.integers(min_value=0, max_value=150))
def test_a_fitted_list_fits_whenever_the_rest_of_the_text_does(items, frame):
    render: Callable[[str], str] = lambda value: "F" * frame + value + "."  # noqa: E731
    value = fit_items(render, items)
    assert fits_one_sms(render(value))
    assert value == ", ".join(to_gsm7(i) or ("?" if i.strip() else "") for i in items) or value.endswith(MORE)
