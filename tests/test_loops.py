"""Issue 12, "No loops, no wasted SMS": senders that cannot be people are never answered, automatic
"not understood" replies are budgeted per number, and a repeated text is answered once.

The daemon runs as its own process on the emulated modem (a real pty); the sliding windows (an hour,
ten minutes) are checked in-process with a clock the test moves, never by waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from datetime import timedelta

import pytest

from smsd_crm.config import parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.emulator.pty_modem import next_reply
from smsd_crm.models import InboundMessage
from smsd_crm.router import OVER_BUDGET, REPEATED, Router
from smsd_crm.sms.compose import encode_deliver
from smsd_crm.sms.pdu import decode
from smsd_crm.storage import users
from smsd_crm.understanding.senders import answerable, why_not
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.live import LiveFeed
from smsd_crm.web.passwords import hash_password

from .conftest import query, quiet_outbox, wait_until, write_config
from .test_web_auth import Clock, client, log_in

PEER = "+6281300000077"  # an automated system on an ordinary number (a shop's order bot, a gateway)
CUSTOMER = "+6281300000001"
CONTROL = "+6281300000002"
ERROR_TEXT = "Maaf, format SMS salah. Ketik INFO"
SHORT_CODES = ["70514", "99899", "123456", "0000000000"]
# The test plays an hour in seconds; the flood guard counts per minute, so it would speak up here
# where a peer answering every ~7 s never reaches it. It is tested in test_router.py.
CONFIG = "plugins_dir: null\nflood: {max_per_minute: 1000}\n"


# ------------------------------------------------------------------ senders (pure)

@pytest.mark.parametrize("address", ["+6281234567890", "081234567890", "6281234567890", "0812-3456-7890",
                                     "+62 812 3456 7890", "+6285700000001", "02112345678", "+6591234567",
                                     "+31641600986", "+442071234567"])
def test_people_can_be_answered(address):
    assert answerable(address, alphanumeric=False), why_not(address, alphanumeric=False)
    assert answerable(address, alphanumeric=False, type_of_number=1 if address.startswith("+") else 0)


@pytest.mark.parametrize("address, reason", [
    ("888", "short code"), ("3636", "short code"), ("9494", "short code"), ("70514", "short code"),
    ("99899", "short code"), ("123456", "short code"), ("+62812", "short code"),
    ("0000000000", "one digit repeated"), ("+620000000000", "one digit repeated"),
    ("1234567890123456", "too long"), ("*123#", "not a phone number"), ("", "not a phone number"),
    ("+6270514", "not a valid number in ID"), ("+11476124010", "not a valid number in US"),
])
def test_short_codes_and_impossible_numbers_are_never_answered(address, reason):
    assert reason in (why_not(address, alphanumeric=False) or "")
    assert not answerable(address, alphanumeric=False, type_of_number=0)


def test_names_and_the_types_of_number_that_are_never_a_person():
    assert why_not("TELKOMSEL", alphanumeric=True) == "a name, not a number"
    assert not answerable("INFO", alphanumeric=False, type_of_number=5)
    for ton in (3, 6):  # network specific, abbreviated (TS 23.040 9.1.2.5)
        assert not answerable("6281234567890", alphanumeric=False, type_of_number=ton)
    assert answerable("6591234567", alphanumeric=False, type_of_number=1)  # international without the +
    assert answerable("81234567890", alphanumeric=False, type_of_number=2)  # national, no trunk prefix


def test_the_pdu_decoder_reports_the_type_of_number():
    [part] = encode_deliver("+6281234567890", "halo", Clock()())
    assert decode(part.hex).sender.type_of_number == 1
    assert decode(_abbreviated(part.hex)).sender.type_of_number == 6
    [part] = encode_deliver("TELKOMSEL", "promo", Clock()())
    assert decode(part.hex).sender.type_of_number == 5


def _abbreviated(hex_pdu: str) -> str:
    """The same SMS-DELIVER with its sender's type of address 0x91 (international) made 0xE1 (abbreviated)."""
    toa = 2 + 2 * int(hex_pdu[:2], 16) + 2 + 2  # SMSC length and SMSC, first octet, address length
    assert hex_pdu[toa:toa + 2] == "91"
    return hex_pdu[:toa] + "E1" + hex_pdu[toa + 2:]


# ------------------------------------------------------------------ the daemon on the emulated modem

@pytest.fixture
async def shop(tmp_path, emulator, daemons):
    config = write_config(tmp_path, emulator.device, extra=CONFIG)
    await daemons(config, tmp_path / "daemon.log")
    return tmp_path / "data" / "test.sqlite3"


class LoopPeer:
    """A machine that answers every SMS the shop sends it with an error text, after a moment."""

    def __init__(self, emulator, number: str, texts) -> None:
        self.emulator, self.number, self.texts = emulator, number, iter(texts)
        self.received: list[str] = []

    def send(self) -> None:
        self.emulator.deliver(self.number, next(self.texts))

    async def run(self) -> None:
        queue = self.emulator.subscribe(self.number)
        try:
            while True:
                self.received.append(await next_reply(queue, 3600))
                await asyncio.sleep(0.1)  # "a few seconds" in real life
                self.send()
        finally:
            self.emulator.unsubscribe(queue)


async def _answered_control(emulator, sender: str = CONTROL) -> str:
    """A real customer texts after everything else and is answered: what came before was routed."""
    queue = emulator.subscribe(sender)
    try:
        emulator.deliver(sender, "BANTUAN")
        return await next_reply(queue, 30)
    finally:
        emulator.unsubscribe(queue)


def _inbound(db, phone: str) -> list[tuple]:
    return query(db, "SELECT state, last_error FROM messages WHERE direction = 'in' AND phone = ? ORDER BY id",
                 (phone,))


async def _stop(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_peer_answering_every_sms_gets_three_help_replies_then_silence(shop, emulator):
    db = shop
    # each error text carries its own reference, as gateways' do: no two are the same text
    peer = LoopPeer(emulator, PEER, (f"Maaf, format SMS salah (ref {n}). Ketik INFO" for n in itertools.count(1001)))
    task = asyncio.create_task(peer.run())
    try:
        peer.send()  # the machine starts it (it answered a promotion, say)
        await wait_until(lambda: any(e == OVER_BUDGET for _, e in _inbound(db, PEER)), 60,
                         "the fourth error text is not answered")
        # the loop is broken; the rest of the hour the machine keeps sending on its own
        for rounds in range(5, 11):
            peer.send()
            await wait_until(lambda: [s for s, _ in _inbound(db, PEER)] == ["handled"] * rounds, 30,
                             f"error text {rounds} handled")
        assert (await _answered_control(emulator)).startswith("Menu Toko Uji")
    finally:
        await _stop(task)
    assert _inbound(db, PEER) == [("handled", None)] * 3 + [("handled", OVER_BUDGET)] * 7
    assert query(db, "SELECT COUNT(*), SUM(fallback) FROM messages WHERE direction = 'out' AND phone = ?",
                 (PEER,)) == [(3, 3)]
    assert len(peer.received) == 3  # what the machine got: the three help replies, nothing after


async def test_a_peer_repeating_one_error_text_is_answered_once(shop, emulator):
    db = shop
    peer = LoopPeer(emulator, PEER, itertools.repeat(ERROR_TEXT))
    task = asyncio.create_task(peer.run())
    try:
        peer.send()
        await wait_until(lambda: (("handled", REPEATED) in _inbound(db, PEER)), 60, "the repeat is not answered")
        await _answered_control(emulator)
    finally:
        await _stop(task)
    assert _inbound(db, PEER) == [("handled", None), ("handled", REPEATED)]
    assert len(peer.received) == 1


async def test_short_codes_and_impossible_numbers_are_stored_never_answered(shop, emulator):
    db = shop
    for i, sender in enumerate(SHORT_CODES):
        emulator.deliver(sender, "PESAN beras 1" if i % 2 else "BANTUAN")
    [part] = encode_deliver(CUSTOMER, "BANTUAN", Clock()())
    emulator.core.store_pdu(_abbreviated(part.hex))  # a real-looking number, typed "abbreviated" by the network
    assert (await _answered_control(emulator)).startswith("Menu Toko Uji")
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND state = 'handled'")
                     == [(6,)], 30, "all handled")
    stored = query(db, "SELECT address, phone, state FROM messages WHERE direction = 'in' AND address != ? "
                       "ORDER BY id", (CONTROL,))
    assert stored == [(a, None, "handled") for a in [*SHORT_CODES, CUSTOMER.lstrip("+")]]
    assert query(db, "SELECT phone FROM messages WHERE direction = 'out'") == [(CONTROL,)]
    assert {r.decoded.destination.number for r in emulator.core.submitted} == {CONTROL}


async def test_the_same_text_within_minutes_gets_one_answer(shop, emulator):
    db = shop
    queue = emulator.subscribe(CUSTOMER)
    emulator.deliver(CUSTOMER, "BANTUAN")
    assert (await next_reply(queue, 30)).startswith("Menu Toko Uji")
    emulator.deliver(CUSTOMER, "  bantuan ")  # case and spacing do not make it new
    emulator.deliver(CUSTOMER, "INFO")
    assert (await next_reply(queue, 30)).startswith("Toko Uji: buka")
    assert _inbound(db, CUSTOMER) == [("handled", None), ("handled", REPEATED), ("handled", None)]
    assert query(db, "SELECT COUNT(*) FROM messages WHERE direction = 'out'") == [(2,)]
    assert queue.empty()


# ------------------------------------------------------------------ in process: windows and the page

@contextlib.asynccontextmanager
async def _inprocess(tmp_path, extra: str = ""):
    """(send, db, clock, restart, host, settings) with the built-in plugins and a clock the test moves."""
    settings = parse_config("plugins_dir: null\nstore: {name: Toko Uji}\nweb: {port: 0}\n" + extra,
                            tmp_path / "c.yaml")
    clock = Clock()
    async with offline_session(settings, clock, third_party=False) as (host, db):
        routers = [Router(db, host, settings, quiet_outbox(db, clock), clock)]

        async def send(text: str, sender: str = PEER, after: timedelta = timedelta(minutes=1)) -> str | None:
            """Deliver one SMS ``after`` the last; the reply's text, or None."""
            clock.now += after
            router = routers[-1]
            await router.accept(InboundMessage("sim1", sender, text, clock.now, sim_id="510"))
            while not router._queue.empty():
                await router.route(router._queue.get_nowait())
            row = await db.fetchone("SELECT m.id, r.text FROM messages m LEFT JOIN messages r ON r.in_reply_to = m.id "
                                    "WHERE m.direction = 'in' ORDER BY m.id DESC LIMIT 1")
            return row["text"]

        def restart() -> None:
            routers.append(Router(db, host, settings, quiet_outbox(db, clock), clock))

        yield send, db, clock, restart, host, settings


@pytest.fixture
async def pipeline(tmp_path):
    async with _inprocess(tmp_path) as parts:
        yield parts


async def test_the_budget_is_per_hour_per_number_kept_across_a_restart_and_spares_asked_for_menus(pipeline):
    send, db, clock, restart, *_ = pipeline
    assert [await send(f"qwerty {n}") is not None for n in range(3)] == [True, True, True]
    assert await send("BANTUAN") is not None  # the menu asked for is not a "not understood" reply
    restart()  # counted from the database
    assert await send("qwerty 4") is None
    assert await send("qwerty 5", CUSTOMER) is not None  # another number has its own budget
    clock.now += timedelta(minutes=55)  # at the next SMS the first help reply is over an hour old, not the others
    assert await send("qwerty 6") is not None
    assert await send("qwerty 7", after=timedelta(0)) is None
    clock.now += timedelta(hours=1)  # an hour later the budget is whole again
    assert [await send(f"qwerty {n}") is not None for n in range(8, 12)] == [True, True, True, False]
    rows = await db.fetchall("SELECT last_error FROM messages WHERE direction = 'in' AND phone = ? ORDER BY id",
                             (PEER,))
    assert [r["last_error"] for r in rows] == [None] * 4 + [OVER_BUDGET, None, OVER_BUDGET, None, None, None, OVER_BUDGET]


async def test_a_repeat_is_answered_again_after_the_window_and_inside_a_dialogue(pipeline):
    send, _, clock, *_ = pipeline
    assert (await send("INFO", CUSTOMER)).startswith("Toko Uji: buka")
    assert await send("info", CUSTOMER) is None
    clock.now += timedelta(minutes=9)  # the next SMS comes 11 minutes after the answered one
    assert (await send("INFO", CUSTOMER)).startswith("Toko Uji: buka")
    assert (await send("KOMPLAIN telur pecah", CUSTOMER)).startswith("Keluhan Anda tercatat")
    assert (await send("ada 3", CUSTOMER)).startswith("Tambahan untuk keluhan")
    assert (await send("ada 3", CUSTOMER)).startswith("Tambahan untuk keluhan")  # an open dialogue takes it


async def test_an_owner_command_is_never_taken_for_a_repeat_of_one_with_another_pin(tmp_path):
    owner = "plugins:\n  owner:\n    numbers: ['0811-0000-0001']\n    pin: '975310'\n"
    async with _inprocess(tmp_path, owner) as (send, db, *_):
        assert await send("LAPORAN 0000", "+6281100000001") == "PIN salah. 2 kali lagi salah, nomor ini dikunci 30 menit."
        assert (await send("LAPORAN 975310", "+6281100000001")).startswith("Laporan ")  # stored alike, masked
        stored = await db.fetchall("SELECT text, last_error FROM messages WHERE direction = 'in'")
        assert [tuple(r) for r in stored] == [("LAPORAN ****", None)] * 2


async def test_the_messages_page_shows_why_a_message_was_not_answered(pipeline):
    send, db, clock, _, host, settings = pipeline
    for n in range(4):
        await send(f"Maaf, format SMS salah (ref {n}). Ketik INFO")
    await send("Maaf, format SMS salah (ref 3). Ketik INFO")  # not answered, but not a repeat of an answer
    await send("INFO", CUSTOMER)
    await send("INFO", CUSTOMER)
    await users.add_user(db, "kasir", hash_password("mawar-sore-48"), "staff", clock())
    runner = await start_web(WebContext(db, settings.web, settings.store, clock, host, live=LiveFeed(),
                                        settings=settings))
    base = "http://%s:%d" % runner.addresses[0][:2]
    try:
        async with client() as s:
            await log_in(s, base, "kasir")
            page = await (await s.get(f"{base}/messages?box=in")).text()
            budget = 'tidak dijawab: jatah balasan &#34;tidak dikenal&#34; per jam untuk nomor ini habis'
            assert page.count(budget) == 2 and "over budget" not in page
            assert page.count("tidak dijawab: teks yang sama baru saja dijawab") == 1
            first = await db.fetchone("SELECT id FROM messages WHERE last_error = ? ORDER BY id", (OVER_BUDGET,))
            row = page.split(f'id="message-{first["id"]}"')[1].split("</tr>")[0]
            assert "Maaf, format SMS salah (ref 3)" in row and budget in row
            await s.get(f"{base}/lang/en", params={"next": "/messages"})
            page = await (await s.get(f"{base}/messages?box=in")).text()
            assert page.count("not answered: the hourly budget of &#34;not understood&#34; replies to this "
                              "number is used up") == 2
            assert "not answered: the same text was just answered" in page
    finally:
        await runner.cleanup()


async def test_an_owner_command_typed_loosely_from_the_owner_s_number_is_understood(tmp_path):
    """"LAPORAN4321", "4321 laporan", "lprn 4321" got the customer menu (and used up the owner's
    not-understood replies); from a stranger they are refused as "LAPORAN 4321" is."""
    owner = "plugins:\n  owner:\n    numbers: ['0811-0000-0001']\n    pin: '975310'\n"
    async with _inprocess(tmp_path, owner) as (send, db, *_):
        for text in ("LAPORAN975310", "975310 laporan", "lprn 975310", "Laporn 975310"):
            assert (await send(text, "+6281100000001")).startswith("Laporan "), text
        assert (await send("lprn 000000", "+6281100000001")).startswith("PIN salah.")
        assert await send("975310 laporan", "+6281200000077") == "Perintah ini hanya untuk pemilik toko."
        # a customer's words that only look alike stay a customer's
        assert not (await send("laporan 3 hari telat kirim", "+6281200000078")).startswith("Perintah ini")
        assert "975310" not in str([tuple(r) for r in await db.fetchall("SELECT text FROM messages")])
