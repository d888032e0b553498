"""Issue 12 through the running daemon on the emulated modem: threads hold, free wording,
units, greetings and thanks, each judged by its effects in the database."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from .conftest import SMSD_CRM, query, wait_until, write_config

CATALOGUE = Path(__file__).parent.parent / "smsd_crm" / "demo" / "data" / "products.csv"
A, B = "+6281300000101", "+6281300000102"


@pytest.fixture
async def shop(tmp_path, emulator, daemons):
    config = write_config(tmp_path, emulator.device, extra="plugins_dir: null\n")
    (tmp_path / "data").mkdir()
    subprocess.run([SMSD_CRM, "catalog", "import", str(CATALOGUE), "-c", str(config)], check=True,
                   capture_output=True, timeout=60)
    await daemons(config, tmp_path / "daemon.log")
    return tmp_path / "data" / "test.sqlite3"


async def send(emulator, db: Path, sender: str, text: str) -> list[str]:
    """Deliver one SMS, wait until the daemon handled it, return the replies it queued."""
    last = query(db, "SELECT COALESCE(MAX(id), 0) FROM messages")[0][0]
    emulator.deliver(sender, text)
    row = await wait_until(lambda: query(db, "SELECT id FROM messages WHERE direction = 'in' AND address = ? "
                                             "AND id > ? AND state != 'received'", (sender, last)), 30, text)
    return [r[0] for r in query(db, "SELECT text FROM messages WHERE direction = 'out' AND in_reply_to = ?",
                                (row[0][0],))]


def effects(db: Path, phone: str) -> tuple:
    return (query(db, "SELECT COUNT(*) FROM orders WHERE phone = ?", (phone,)),
            query(db, "SELECT COUNT(*) FROM complaints WHERE phone = ?", (phone,)),
            query(db, "SELECT promotions FROM consent WHERE phone = ?", (phone,)),
            query(db, "SELECT name, address FROM customers WHERE phone = ?", (phone,)))


async def test_follow_ups_in_an_open_complaint_join_the_ticket_and_change_nothing_else(shop, emulator):
    db = shop
    [opened] = await send(emulator, db, A, "KOMPLAIN telur pecah")
    ticket = int(re.search(r"K(\d+)", opened).group(1))
    before = effects(db, A)
    follow_ups = ["Pesanan saya kemarin belum sampai juga", "Info dong, yg antar kemarin siapa ya",
                  "Harga segitu kok kualitasnya begini", "Stop kirim yg itu", "Pesanan td siang kak, dianter mas nya"]
    for i, text in enumerate(follow_ups):
        replies = await send(emulator, db, A, text)
        # acknowledged up to flood.unknown_per_hour (3) an hour; every follow-up joins the ticket
        assert replies == ([f"Tambahan untuk keluhan K{ticket} sudah kami terima. Terima kasih."] if i < 3 else []), \
            (text, replies)
    notes = [r[0] for r in query(db, "SELECT text FROM complaint_notes WHERE complaint_id = ? AND author = 'customer'"
                                     " ORDER BY rowid", (ticket,))]
    assert notes[-len(follow_ups):] == follow_ups
    assert effects(db, A) == before  # no order, no second ticket, promotions not stopped
    # an exact command still works inside the thread, and STOP on its own still opts out
    [price] = await send(emulator, db, A, "HARGA gula")
    assert "Gula Pasir 1kg" in price
    [stopped] = await send(emulator, db, A, "STOP")
    assert stopped.startswith("Anda tidak akan menerima promosi") and "MULAI" in stopped
    assert query(db, "SELECT promotions FROM consent WHERE phone = ?", (A,)) == [(0,)]


async def test_loose_orders_with_units_make_the_right_lines(shop, emulator):
    db = shop
    cases = [("PESAN minyak 1 liter", [("M02", 1)]), ("mau pesan gula 2 kg ya kak 🙏", [("G01", 2)]),
             ("tolong kirim beras 1 karung", [("B01", 1)]), ("psn telur sekilo sama terigu 1", [("T01", 1), ("T02", 1)])]
    for text, lines in cases:
        [reply] = await send(emulator, db, B, text)
        number = int(re.match(r"Pesanan #(\d+)", reply).group(1))
        assert sorted(query(db, "SELECT code, quantity FROM order_lines WHERE order_id = ?", (number,))) == lines
    orders = query(db, "SELECT COUNT(*) FROM orders WHERE phone = ?", (B,))
    [asked] = await send(emulator, db, B, "pesan minyak 6 liter")
    assert "Minyak Goreng 2L" in asked and "Minyak Goreng 1L" in asked and asked.endswith("Pesanan belum dibuat.")
    [liter] = await send(emulator, db, B, "PESAN liter")
    assert liter.startswith("Format: PESAN")
    assert query(db, "SELECT COUNT(*) FROM orders WHERE phone = ?", (B,)) == orders


async def test_greetings_are_answered_politely_and_thanks_cost_nothing(shop, emulator):
    db = shop
    for i, text in enumerate(("Assalamualaikum", "Selamat pagi", "P")):
        [reply] = await send(emulator, db, f"+62813000002{i:02d}", text)
        assert reply.startswith("Halo, selamat datang di Toko Uji!") and "PESAN" in reply, reply
    for text in ("Terima kasih", "ok", "makasih ya kak"):
        assert await send(emulator, db, A, text) == []
    assert effects(db, A) == ([(0,)], [(0,)], [], [])


async def test_questions_and_opt_out_in_the_customers_words(shop, emulator):
    db = shop
    [points] = await send(emulator, db, A, "cek poin")
    assert points.startswith("Poin Anda: 0")
    [price] = await send(emulator, db, A, "ada kecap?")
    assert "Kecap Manis 520ml" in price
    [typo] = await send(emulator, db, A, "HARGA gual")
    assert "Gula Pasir 1kg" in typo
    [order] = await send(emulator, db, A, "PESAN gula 1")
    number = re.match(r"Pesanan #(\d+)", order).group(1)
    [cancelled] = await send(emulator, db, A, f"BATAL pesanan {number}")
    assert cancelled == f"Pesanan #{number} dibatalkan. Terima kasih."
    for text in ("jangan kirim promo lagi", "tdk usah kirim promo2 lg ya"):
        await send(emulator, db, B, "MULAI")
        [stopped] = await send(emulator, db, B, text)
        assert stopped.startswith("Anda tidak akan menerima promosi") and "MULAI" in stopped
        assert query(db, "SELECT promotions FROM consent WHERE phone = ?", (B,)) == [(0,)]
    [reply] = await send(emulator, db, "+6281300000103", "Stop ya")  # an Indonesian customer's "Stop"
    assert reply.startswith("Anda tidak akan menerima promosi")
