"""The inbound pipeline in-process: store, dedupe, route, reply row, failures, hostile text."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from smsd_crm.config import parse_config
from smsd_crm.context import CoreServices
from smsd_crm.daemon import open_database
from smsd_crm.models import InboundMessage
from smsd_crm.plugins import PluginHost
from smsd_crm.router import Router

from .conftest import quiet_outbox

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
FAILING = """
from smsd_crm import hookimpl, PluginConfig
from pydantic import Field

class C(PluginConfig):
    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {"boom": {"id": ["RUSAK"]}})

@hookimpl
def register_config_model():
    return C

@hookimpl
async def handle_message(message, ctx):
    if message.command == "boom":
        await ctx.customers.upsert(message.phone, name="half written")
        raise RuntimeError("plugin bug")
"""


@pytest.fixture
async def pipeline(tmp_path, database_target):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "failing.py").write_text(FAILING)
    where = (f"database: {{path: {database_target}}}\n" if isinstance(database_target, Path)
             else f"database: {{url: '{database_target}'}}\n")
    settings = parse_config("plugins_dir: plugins\nstore: {name: Toko Uji}\n" + where, tmp_path / "c.yaml")
    host = PluginHost.load(settings, third_party=False)
    db = await open_database(settings, host)
    outbox = quiet_outbox(db, lambda: NOW)

    async def emit(event):
        await host.call_all("track_event", event=event)

    host.bind(CoreServices(db, settings.store, lambda: NOW, lambda: list(host.keyword_table.values()), emit, outbox))
    router = Router(db, host, settings, outbox, lambda: NOW)

    async def send(text: str, sender: str = "081234567890", alnum: bool = False, binary: bool = False) -> list:
        await router.accept(InboundMessage("sim1", sender, text, NOW - timedelta(seconds=5),
                                           sim_id="510", sender_is_alphanumeric=alnum, binary=binary))
        while not router._queue.empty():
            await router.route(router._queue.get_nowait())
        return await db.fetchall("SELECT * FROM messages ORDER BY id")

    yield send, db
    await db.close()


async def test_daftar_registers_and_replies_in_indonesian(pipeline):
    send, db = pipeline
    rows = await send("DAFTAR Budi Santoso#Jl. Mawar 5")
    customer = await db.fetchone("SELECT * FROM customers")
    assert (customer["phone"], customer["name"], customer["address"]) == ("+6281234567890", "Budi Santoso", "Jl. Mawar 5")
    inbound, reply = rows
    assert inbound["state"] == "handled" and inbound["plugin"] == "registration"
    assert reply["direction"] == "out" and reply["state"] == "queued" and reply["in_reply_to"] == inbound["id"]
    assert reply["text"].startswith("Selamat datang Budi Santoso di Toko Uji!")
    assert len(reply["text"]) <= 160


async def test_three_number_forms_are_one_customer(pipeline):
    send, db = pipeline
    await send("DAFTAR Budi#Jl. Mawar 5", "+6281234567890")
    await send("reg Budi S.#Jl. Mawar 6", "6281234567890")
    await send("Daftar budi#Jl. Mawar 7", "081234567890")
    rows = await db.fetchall("SELECT phone, address FROM customers")
    assert [tuple(r) for r in rows] == [("+6281234567890", "Jl. Mawar 7")]


async def test_english_keyword_answers_in_english(pipeline):
    send, _ = pipeline
    rows = await send("register Ann#Main Street 5")
    assert rows[-1]["text"].startswith("Welcome Ann")


async def test_unknown_keyword_gets_help_and_a_typo_gets_a_suggestion(pipeline):
    send, _ = pipeline
    rows = await send("apa kabar")
    assert rows[-1]["text"].startswith("Maaf, perintah tidak dikenal. Menu: DAFTAR")
    rows = await send("DFT Budi#Jl. Mawar 5")
    assert rows[-1]["text"] == "Maksud Anda: DAFTAR? Ketik BANTUAN untuk menu."
    rows = await send("DAFTRA Budi#Jl. Mawar 5")  # close enough to read as DAFTAR
    assert rows[-1]["text"].startswith("Selamat datang Budi")


async def test_alphanumeric_sender_is_stored_never_answered(pipeline):
    send, _ = pipeline
    rows = await send("DAFTAR spam#spam", "TELKOMSEL", alnum=True)
    assert len(rows) == 1 and rows[0]["state"] == "handled" and rows[0]["phone"] is None


async def test_binary_message_is_stored_never_answered(pipeline):
    send, _ = pipeline
    rows = await send("\x06\x05\x04\x0b\x84application/vnd.wap.mms-message", binary=True)
    assert len(rows) == 1 and rows[0]["state"] == "handled" and "binary" in rows[0]["last_error"]


async def test_plugin_failure_rolls_back_its_writes_and_marks_the_message(pipeline):
    send, db = pipeline
    rows = await send("RUSAK sekarang")
    assert [(r["state"], r["plugin"]) for r in rows] == [("handled", "help"), ("queued", "help")]
    assert "plugin bug" in rows[0]["last_error"]  # staff see why the owner of RUSAK did not answer
    assert await db.fetchone("SELECT * FROM customers") is None  # the half write was rolled back
    rows = await send("DAFTAR Budi#Jl. Mawar 5")  # and the next message is fine
    assert rows[-1]["direction"] == "out"


async def test_duplicate_sms_is_answered_once(pipeline):
    send, _ = pipeline
    await send("DAFTAR Budi#Jl. Mawar 5")
    rows = await send("DAFTAR Budi#Jl. Mawar 5")
    assert len(rows) == 2


async def test_only_emoji_is_a_reaction_and_costs_no_sms(pipeline):
    send, _ = pipeline
    rows = await send("😀😀😀")
    assert [(r["direction"], r["state"]) for r in rows] == [("in", "handled")]


@pytest.mark.parametrize("text", ["", "   ", "<script>alert(1)</script>", "'; DROP TABLE customers;--",
                                  "x" * 1000, "DAFTAR " + "A" * 500, "DAFTAR 12345#67890",
                                  "DAFTAR Budi#Jl. Mawar#31-02-1990", "UBAH LAHIR 17-08-1990", "UBAH"])
async def test_hostile_and_broken_text_gets_a_short_answer(pipeline, text):
    send, db = pipeline
    rows = await send(text)
    assert rows[0]["state"] == "handled"
    assert rows[-1]["direction"] == "out" and 0 < len(rows[-1]["text"]) <= 160
    assert await db.fetchone("SELECT COUNT(*) FROM customers") is not None


async def test_a_flooding_number_gets_one_notice_and_others_are_unaffected(pipeline):
    send, db = pipeline
    for i in range(15):  # each answer differs (the very same reply twice in 10 minutes is sent once)
        rows = await send(f"DAFTAR Budi {chr(65 + i)}#Jl. Mawar {i}", "081111111111")
    replies = [r for r in rows if r["direction"] == "out" and r["phone"] == "+6281111111111"]
    assert len(replies) == 11  # ten answers, then one notice
    assert replies[-1]["text"].startswith("Terlalu banyak pesan") and replies[-1]["plugin"] == "core:flood"
    throttled = await db.fetchall("SELECT * FROM messages WHERE last_error = 'throttled'")
    assert len(throttled) == 5 and all(r["state"] == "handled" for r in throttled)
    rows = await send("BANTUAN", "082222222222")  # someone else is answered normally
    assert rows[-1]["text"].startswith("Menu Toko Uji")


async def test_a_dialogue_takes_plain_follow_ups_until_it_expires_and_survives_a_restart(pipeline, tmp_path):
    send, db = pipeline
    rows = await send("KOMPLAIN telur pecah", "081333333333")
    assert rows[-1]["text"].startswith("Keluhan Anda tercatat dengan nomor K")
    rows = await send("yang pecah ada 3 butir", "081333333333")  # no keyword: the open dialogue takes it
    assert rows[-1]["text"].startswith("Tambahan untuk keluhan K")
    notes = await db.fetchall("SELECT text FROM complaint_notes ORDER BY at")
    assert [n["text"] for n in notes] == ["telur pecah", "yang pecah ada 3 butir"]
    rows = await send("BANTUAN", "081333333333")  # a keyword starts afresh
    assert rows[-1]["text"].startswith("Menu")
    stored = await db.fetchone("SELECT plugin, expires_at FROM conversations")
    assert stored["plugin"] == "complaint"  # in the database: a restart keeps it
    await db.execute("UPDATE conversations SET expires_at = ?", ((NOW - timedelta(seconds=1)).isoformat(),))
    rows = await send("halo lagi", "081333333333")  # expired: read on its own again, a greeting
    assert rows[-1]["text"].startswith("Halo, selamat datang")


async def test_an_owner_pin_is_masked_before_storing_and_for_observers(tmp_path):
    from smsd_crm.campaigns.service import CampaignService
    from smsd_crm.events import MessageHandled, MessageReceived
    settings = parse_config("store: {name: Toko Uji}\nplugins:\n  owner:\n    numbers: ['0811-0000-0001']\n"
                            "    pin: '975310'\n", tmp_path / "c.yaml")
    host = PluginHost.load(settings, third_party=False)
    db = await open_database(settings, host)
    seen: list = []
    host.observers.append(seen.append)
    outbox = quiet_outbox(db, lambda: NOW)
    host.bind(CoreServices(db, settings.store, lambda: NOW, lambda: list(host.keyword_table.values()), host.emit,
                           outbox, campaigns=CampaignService(db, settings, lambda: NOW, host)))
    router = Router(db, host, settings, outbox, lambda: NOW)
    try:
        await router.accept(InboundMessage("sim1", "+6281100000001", "promo 975310 @tetap Diskon besar",
                                           NOW - timedelta(seconds=5), raw_pdus=("0791...",)))
        while not router._queue.empty():
            await router.route(router._queue.get_nowait())
        rows = [tuple(r) for r in await db.fetchall("SELECT direction, text, raw_pdu FROM messages ORDER BY id")]
        # the plugin read the real PIN (it answered, not refused), nothing kept it
        assert rows == [("in", "promo **** @tetap Diskon besar", None),
                        ("out", "Tidak ada pelanggan yang bisa menerima promo ini.", None)]
        events = [e for e in seen if isinstance(e, (MessageReceived, MessageHandled))]
        assert len(events) == 2 and all("975310" not in repr(e) for e in events)
        assert events[0].message.args == "**** @tetap Diskon besar"
    finally:
        await db.close()


async def _own_router(tmp_path, yaml: str):
    """(router, db) in-process with settings of the test's own."""
    from smsd_crm.campaigns.service import CampaignService
    settings = parse_config("store: {name: Toko Uji}\nplugins_dir: null\n" + yaml, tmp_path / "c.yaml")
    host = PluginHost.load(settings, third_party=False)
    db = await open_database(settings, host)
    outbox = quiet_outbox(db, lambda: NOW)
    host.bind(CoreServices(db, settings.store, lambda: NOW, lambda: list(host.keyword_table.values()),
                           host.emit, outbox, campaigns=CampaignService(db, settings, lambda: NOW, host)))
    return Router(db, host, settings, outbox, lambda: NOW), db


@pytest.mark.parametrize("text", ["ＬＡＰＯＲＡＮ 975310", "Pagi, LAPORAN 975310", "laporan975310", "L A P O R A N 975310",
                                  "LAPORAN\u200b975310", "LAPORAN 🙏 975310", "LAPORAN PIN 975310", "STOK B01 975310 40",
                                  "LAP0RAN 975310"])
async def test_an_owner_pin_written_oddly_is_never_stored(tmp_path, text):
    router, db = await _own_router(tmp_path, "plugins: {owner: {numbers: ['081100000001'], pin: '975310'}}\n")
    try:
        await router.accept(InboundMessage("sim1", "081100000001", text, NOW, sim_id="510"))
        while not router._queue.empty():
            await router.route(router._queue.get_nowait())
        rows = await db.fetchall("SELECT text, keyword, raw_pdu FROM messages")
        assert rows and all(re.sub(r"[ .\-]", "", "975310") not in re.sub(r"[ .\-]", "", str(v)) for r in rows for v in tuple(r)), [tuple(r) for r in rows]
    finally:
        await db.close()


async def test_the_shops_own_text_sent_back_is_never_acted_on(pipeline):
    send, db = pipeline
    rows = await send("DAFTAR Budi#Jl. Mawar 5")
    welcome = rows[-1]["text"]
    rows = await send(welcome)  # an echo bot (or a forwarding phone) sends the welcome back
    assert (rows[-1]["direction"], rows[-1]["state"], rows[-1]["last_error"]) == ("in", "handled", "echo")
    assert (await db.fetchone("SELECT COUNT(*) AS n FROM messages WHERE direction = 'out'"))["n"] == 1


async def test_replies_to_one_number_are_capped_per_hour(tmp_path):
    router, db = await _own_router(tmp_path, "flood: {replies_per_hour: 2, repeat_minutes: 0}\n")
    try:
        for i in range(4):  # a machine texting "BANTUAN" after every reply
            await router.accept(InboundMessage("sim1", "081234567890", "BANTUAN", NOW + timedelta(seconds=i),
                                               sim_id="510"))
            while not router._queue.empty():
                await router.route(router._queue.get_nowait())
        rows = [tuple(r) for r in await db.fetchall("SELECT direction, last_error FROM messages ORDER BY id")]
        assert rows == [("in", None), ("out", None), ("in", None), ("out", None),
                        ("in", "over reply cap"), ("in", "over reply cap")]
    finally:
        await db.close()


@pytest.mark.parametrize("text", ["LPRN 975310", "Lap 975310", "STK 975310 B01 5", "P.R.O.M.O 975310 diskon",
                                  "975310", "pin 975310", "PIN saya 975310 ya", "LAPORAN 975310975310975",
                                  "LAPORAN 975 310", "LAPORAN 97-53-10"])
async def test_an_owner_pin_in_short_or_bare_forms_is_never_stored(tmp_path, text):
    await test_an_owner_pin_written_oddly_is_never_stored(tmp_path, text)


OWNER = "plugins: {owner: {numbers: ['0811-0000-0001'], pin: '975310'}}\n"


async def _route_all(router, sender: str, *texts: str) -> None:
    for i, text in enumerate(texts):
        await router.accept(InboundMessage("sim1", sender, text, NOW + timedelta(seconds=i), sim_id="510"))
        while not router._queue.empty():
            await router.route(router._queue.get_nowait())


async def _everything_stored(db) -> str:
    """Every value of every table, as one text."""
    tables = [r["name"] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")]
    rows = [r for t in tables for r in await db.fetchall(f'SELECT * FROM "{t}"')]
    return " ".join(str(v) for r in rows for v in tuple(r))


@pytest.mark.parametrize("text", ["LAPORAN975310", "LPRN 975310", "975310 laporan", "tolong 975310",
                                  "975310 tolong ya", "rekap 97 53 10", "kode: 975.310!", "ini 975311",
                                  "apa kabar 1975310"])
async def test_from_the_owners_number_the_pin_is_masked_whatever_the_words(tmp_path, text):
    router, db = await _own_router(tmp_path, OWNER)
    try:
        await _route_all(router, "+6281100000001", text)
        stored = await _everything_stored(db)
        assert "****" in stored and not re.search(r"97\D?53\D?1[01]", stored), stored
    finally:
        await db.close()


# The PIN written with other separators or accents: masked from the owner's numbers whatever the words, and
# from any number when the text names an owner command (or is nothing but the digits).
SEPARATED = ["975 - 310", "975 / 310", "9, 7, 5, 3, 1, 0", "97#53#10", "97*53*10", "975+310", "(975)(310)",
             "975x310", "975|310", "975~310", "9'7'5'3'1'0", "9\u03007\u03005\u03003\u03001\u03000\u0300",
             "97\u0323-53\u0323-10", "975.-310"]
OWNERS_NUMBER, OTHER_NUMBER = "+6281100000001", "+6281200009999"


def _digits_in(value: object) -> str:
    """The digits a value shows, whatever their script, accents or separators."""
    text = unicodedata.normalize("NFKD", str(value))
    return "".join(str(unicodedata.digit(ch)) for ch in text if ch.isdigit())


async def _stored_inbound(db) -> list[tuple[str, str | None]]:
    return [(r["text"], r["keyword"]) for r in await db.fetchall("SELECT text, keyword FROM messages "
                                                                 "WHERE direction = 'in' ORDER BY id")]


async def _pin_is_nowhere(tmp_path, sender: str, text: str) -> None:
    router, db = await _own_router(tmp_path, OWNER)
    try:
        await _route_all(router, sender, text)
        [(stored, keyword)] = await _stored_inbound(db)
        assert "****" in stored and not re.search("975310|975130|957310|975301", _digits_in(stored)), stored
        assert not _digits_in(keyword or ""), keyword  # a word, ****, or none: never a piece of the PIN
        assert "975310" not in _digits_in(await _everything_stored(db))
    finally:
        await db.close()


@pytest.mark.parametrize("pin", SEPARATED)
@pytest.mark.parametrize("sender, template", [(OWNERS_NUMBER, "{}"), (OWNERS_NUMBER, "tolong {} ya"),
                                              (OTHER_NUMBER, "LAPORAN {}"), (OTHER_NUMBER, "{}"),
                                              (OTHER_NUMBER, "PROMO {} diskon")])
async def test_a_pin_with_other_separators_is_masked_in_the_text_and_the_keyword(tmp_path, pin, sender, template):
    await _pin_is_nowhere(tmp_path, sender, template.format(pin))


@pytest.mark.parametrize("text", ["tolong 957310 ya", "ini 975130", "kode 975301"])
async def test_from_the_owners_number_a_pin_with_two_digits_swapped_is_masked(tmp_path, text):
    await _pin_is_nowhere(tmp_path, OWNERS_NUMBER, text)


async def test_three_separators_join_digits_and_words_part_them(tmp_path):
    """At most three characters between two digits of the PIN; figures with words between are kept."""
    router, db = await _own_router(tmp_path, OWNER)
    try:
        await _route_all(router, OWNERS_NUMBER, "stok 975 pcs, terjual 310 pcs", "kode 975 - 310")
        assert await _stored_inbound(db) == [("stok 975 pcs, terjual 310 pcs", "STOK"), ("kode ****", "KODE")]
    finally:
        await db.close()


async def test_a_customers_numbers_are_kept_and_the_owner_still_reads_the_pin(tmp_path):
    router, db = await _own_router(tmp_path, OWNER)
    try:
        await _route_all(router, "081234567890", "kode pos saya 975310")  # not the owner's number: as sent
        await _route_all(router, "+6281100000001", "LAPORAN 975310")
        rows = [tuple(r) for r in await db.fetchall("SELECT direction, text FROM messages ORDER BY id")]
        assert rows[0] == ("in", "kode pos saya 975310")
        assert rows[-2] == ("in", "LAPORAN ****") and rows[-1][1].startswith("Laporan ")  # the PIN was right
    finally:
        await db.close()


@pytest.mark.parametrize("text", [
    "KOMPLAIN mau lapor, sdh transfer 150000 utk pesanan 8046 tp blm dtg",
    "stok barangnya kosong katanya, no resi 88231234",
    "stok gula ada? no rumah 1045",
    "report: order 8047 not arrived",
    "STOK B01 40",
    "lapor kak, sdh bayar 975.000 kemarin",
])
async def test_customers_words_that_look_like_owner_commands_keep_their_numbers(tmp_path, text):
    # "lapor", "stok", "report" are a customer's words too: only the PIN itself is ever masked.
    router, db = await _own_router(tmp_path, OWNER)
    try:
        await _route_all(router, "081234567890", text)
        assert (await db.fetchone("SELECT text FROM messages WHERE direction = 'in'"))["text"] == text
    finally:
        await db.close()


async def test_a_masked_pin_reaches_only_the_plugin_whose_command_wants_it(tmp_path):
    router, db = await _own_router(tmp_path, OWNER)
    try:
        # the owner has a complaint open; a mistyped owner command is still the owner's command (read as
        # LAPORAN: the owner meant it), anything else with the PIN in it joins the ticket, masked
        await _route_all(router, "+6281100000001", "KOMPLAIN telur pecah", "LAPRN 975310", "tolong 975310")
        notes = [r["text"] for r in await db.fetchall("SELECT text FROM complaint_notes ORDER BY rowid")]
        assert notes[0] == "telur pecah" and len(notes) == 2 and all("975310" not in n for n in notes), notes
        replies = [r["text"] for r in await db.fetchall("SELECT text FROM messages WHERE direction = 'out'")]
        assert any(text.startswith("Laporan ") for text in replies), replies
        assert "975310" not in await _everything_stored(db)
    finally:
        await db.close()
