"""Conversations through the emulator on a real pty with `smsd-crm run`: every keyword so far,
Indonesian and English, malformed and hostile input, each asserting the reply."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest

from smsd_crm.emulator.pty_modem import next_reply

from .conftest import SMSD_CRM, query, wait_until, write_config

SAMPLE = Path(__file__).parent.parent / "smsd_crm" / "demo" / "data" / "products.csv"
A, B, C = "+6281300000001", "+6281300000002", "+6281300000003"

# (sender, text, a regular expression the reply must match)
SCRIPT = [
    (A, "DAFTAR Budi Santoso#Jl. Mawar 5", r"^Selamat datang Budi Santoso di Toko Uji! No\. anggota Anda \d{5}\."),
    (A, "daftar budi santoso#jl. mawar 6", r"^Data Anda diperbarui, Budi Santoso\."),
    (B, "REGISTER Ann Lee#Main Street 5#31-12-1990", r"^Welcome Ann Lee to Toko Uji!"),
    (B, "UPDATE ADDRESS Elm Street 9", r"^Your address is changed\."),
    (C, "UBAH ALAMAT Jl. Melati 9", r"^Alamat Anda sudah diubah\."),  # recorded before any DAFTAR
    (A, "UBAH", r"^Format: UBAH NAMA x"),
    (A, "DAFTAR Budi#Jl. X#31-02-1990", r"^Tanggal lahir tidak valid"),
    (A, "DAFTAR 😀😀", r"^Format: DAFTAR nama#alamat"),  # emoji carry no name
    (C, "DAFTAR Siti 🌸#Gg. Kenanga 3", r"^Data Anda diperbarui, Siti\. "),  # C sent UBAH before: known; no emoji
    (A, "PESAN beras 2, gula 1", r"^Pesanan #(\d+): 2x Beras Premium 5kg Rp156\.000, 1x Gula Pasir 1kg Rp18\.000\. "
                                 r"Total Rp174\.000\. Batal: BATAL \1$"),
    (A, "pesan B01*1;G01*2", r"^Pesanan #\d+: 1x Beras Premium 5kg Rp78\.000, 2x Gula Pasir 1kg Rp36\.000\."),
    (A, "PESAN#M01#2#T01#1", r"^Pesanan #\d+: 2x Minyak Goreng 2L Rp76\.000, 1x Telur Ayam 1kg Rp29\.000\."),
    (A, "beli dua indomie goreng", r"^Pesanan #\d+: 2x Mie Instan Goreng Rp7\.000\. Total Rp7\.000\."),
    (A, "PESEN gula 1", r"^Pesanan #\d+: 1x Gula Pasir 1kg"),  # a typo in the keyword is still understood
    (B, "ORDER bike 1", r"^Unknown item: bike\. Check with PRICE"),
    (B, "ORDER gula 1", r"^Order #(\d+): 1x Gula Pasir 1kg Rp18\.000\. Total Rp18\.000\. To cancel: CANCEL \1$"),
    (A, "PESAN", r"^Format: PESAN barang jumlah"),
    (A, "PESAN sepeda 1", r"^Barang tidak dikenal: sepeda\."),
    (A, "PESAN beras 2, sepeda 1", r"^Barang tidak dikenal: sepeda\. .*Pesanan belum dibuat\.$"),
    (A, "PESAN beras 0", r"^Jumlah Beras Premium 5kg tidak valid \(0\); boleh 1-100\."),
    (A, "PESAN beras -3", r"^Jumlah Beras Premium 5kg tidak valid \(-3\)"),
    (A, "PESAN beras 999999", r"^Jumlah Beras Premium 5kg tidak valid \(999999\)"),
    (A, "PESAN beras banyak", r"^Barang tidak dikenal: beras banyak\."),
    (A, "PESAN mie 2", r"^mie: maksud Anda Mie Instan"),
    (A, "PESAN roti 50", r"^Maaf, stok Roti Tawar tinggal 10\."),
    (A, "PESAN '; DROP TABLE orders;-- 1", r"Pesanan belum dibuat\.$"),
    (A, "PESAN <script>alert(1)</script> 1", r"Pesanan belum dibuat\.$"),
    (A, "STATUS", r"^Pesanan #\d+: baru\. Total Rp18\.000\.$"),
    (A, "STATUS 99999", r"^Pesanan #99999 tidak ditemukan\."),
    (C, "STATUS", r"^Anda belum punya pesanan\."),
    (A, "BATAL", r"^Pesanan mana yang dibatalkan\? #\d+, #\d+"),  # several open orders: which one?
    (A, "BATAL 99999", r"^Pesanan #99999 tidak ditemukan\."),
    (B, "CANCEL 99999", r"^Order #99999 was not found\."),
    (A, "BANTUAN", r"^Menu Toko Uji: DAFTAR, UBAH, PESAN, BATAL, STATUS, KOMPLAIN, POIN, HADIAH, TUKAR, HARGA, "
                   r"INFO, BERHENTI, MULAI, BANTUAN\."),
    (B, "HELP", r"^Toko Uji menu: REGISTER, UPDATE, ORDER, CANCEL, STATUS, COMPLAINT, POINT, REWARDS, REDEEM, "
                r"PRICE, INFO, STOP, START, HELP\."),
    (A, "POIN", r"^Poin Anda: 0\. Ketik HADIAH untuk daftar hadiah\.$"),
    (B, "points", r"^Your points: 0\. Text REWARDS"),
    (A, "HADIAH", r"^Hadiah: V10 Voucher Rp10\.000 = 100 poin; V25 Voucher Rp25\.000 = 230 poin; GULA Gula"),
    (A, "TUKAR V10", r"^Poin Anda 0, perlu 100 untuk Voucher Rp10\.000\.$"),
    (B, "REDEEM v10", r"^You have 0 points; Voucher Rp10\.000 needs 100\.$"),
    (B, "REWARDS", r"^Rewards: V10 Voucher Rp10\.000 = 100 poin"),
    (A, "TUKAR XYZ", r"^Kode hadiah 'XYZ' tidak ada\."),
    (B, "REDEEM", r"^Format: REDEEM reward code\."),
    (A, "TUKAR", r"^Format: TUKAR kode hadiah"),
    (C, "KOMPLAIN telur yang saya beli kemarin pecah 3", r"^Keluhan Anda tercatat dengan nomor K(\d+)\."),
    (C, "keluhan juga kulitnya kotor", r"^Tambahan untuk keluhan K\d+ sudah kami terima\."),
    (C, "KOMPLAIN", r"^Format: KOMPLAIN isi keluhan"),
    (B, "COMPLAINT the rice had bugs", r"^Your complaint is recorded as K\d+\."),
    (C, "aduan <img src=x onerror=alert(1)> '; DROP TABLE complaints;--", r"^Tambahan untuk keluhan K\d+"),
    (A, "HARGA gula", r"^Gula Pasir 1kg \(G01\) Rp18\.000/kg, ada$"),
    # no size typed: every size; a size typed in words: that pack (the 1 L was quoted for "2 liter")
    (A, "cek harga minyak", r"^Minyak Goreng 2L \(M01\) Rp38\.000/pouch, ada; Minyak Goreng 1L \(M02\) Rp19\.500"),
    (A, "brp harga minyak goreng 2 liter", r"^Minyak Goreng 2L \(M01\) Rp38\.000/pouch, ada$"),
    (A, "harga minyak 1 liter", r"^Minyak Goreng 1L \(M02\) Rp19\.500/pouch, ada$"),
    (A, "HARGA minyak 3 liter", r"^Minyak Goreng 2L \(M01\) Rp38\.000/pouch, ada; Minyak Goreng 1L \(M02\)"),
    (A, "harga M01", r"^Minyak Goreng 2L \(M01\) Rp38\.000/pouch, ada$"),
    (B, "PRICE susu", r"^Kopi Sachet Susu isi 10 \(K02\) Rp14\.000/renceng, in stock; Susu"),
    (A, "HARGA roti", r"^Roti Tawar \(R01\) Rp16\.000/bungkus, ada$"),
    (A, "HARGA sepeda", r"^Barang 'sepeda' tidak ditemukan\."),
    (A, "HARGA", r"^Format: HARGA nama barang"),
    (A, "INFO", r"^Toko Uji: buka 07\.00-21\.00 setiap hari\. Alamat Jl\. Contoh No\. 1\."),
    (A, "BERHENTI", r"^Anda tidak akan menerima promosi dari Toko Uji lagi\. Balasan pesanan tetap dikirim\."),
    (A, "STATUS", r"^Pesanan #\d+: baru\."),  # replies to own requests still come after BERHENTI
    (A, "mulai", r"^Terima kasih! Anda akan menerima promosi dari Toko Uji\."),
    (B, "STOP", r"^You will get no more promotions from Toko Uji\."),
    (C, "unreg", r"^Anda tidak akan menerima promosi"),
    (B, "START", r"^Thank you! You will get promotions from Toko Uji\. Text STOP to stop\.$"),
    (A, "UBAH NAMA Budi S.", r"^Nama Anda sudah diubah\."),
    (A, "UBAH LAHIR 17-08-1985", r"^Tanggal lahir Anda sudah diubah\."),
    (B, "UPDATE NAME Ann", r"^Your name is changed\."),
    (B, "UPDATE BIRTHDAY 99-99-1999", r"^Invalid birthday\."),
    (B, "PRICE", r"^Format: PRICE item name\."),
    (A, "?", r"^Menu Toko Uji"),
    (A, "", r"^Maaf, perintah tidak dikenal\."),
    (A, "   ", r"^Maaf, perintah tidak dikenal\."),
    (A, "DAFTRA Budi#Jl. Mawar 5", r"^Data Anda diperbarui, Budi\."),  # a typo, read as DAFTAR
    (A, "DFT Budi", r"^Maksud Anda: DAFTAR\?"),  # too far to guess: a hint
    (A, "apa kabar", r"^Maaf, perintah tidak dikenal\. Menu:"),
    (A, "x" * 1000, r"^Maaf, perintah tidak dikenal\."),
    (A, "KOMPLAIN " + "telur pecah semua, " * 50, r"^Keluhan Anda tercatat dengan nomor K\d+"),  # 1,000 chars
    (A, "telurnya dari rak depan", r"^Tambahan untuk keluhan K\d+"),  # a plain follow-up joins the ticket
    (A, "", r"^Maaf, perintah tidak dikenal\."),  # an empty one does not
]


@pytest.fixture
async def shop(tmp_path, emulator, daemons):
    # The script is many customers' day in a minute, repeats and nonsense on purpose: the flood guard,
    # the budget of "not understood" replies and the repeat rule are tested in test_router.py, test_loops.py.
    config = write_config(tmp_path, emulator.device, extra="plugins_dir: null\n"
                          "flood: {max_per_minute: 1000, unknown_per_hour: 1000, repeat_minutes: 0, replies_per_hour: 1000}\n")
    (tmp_path / "data").mkdir()
    subprocess.run([SMSD_CRM, "catalog", "import", str(SAMPLE), "-c", str(config)], check=True,
                   capture_output=True, timeout=60)
    await daemons(config, tmp_path / "daemon.log")
    return config, tmp_path / "data" / "test.sqlite3"


async def converse(emulator, sender: str, text: str) -> str:
    queue = emulator.subscribe(sender)
    try:
        emulator.deliver(sender, text) if text else emulator.core.deliver(sender, "")
        return await next_reply(queue, 20)
    finally:
        emulator.unsubscribe(queue)


async def test_every_keyword_in_both_languages_with_nasty_input(shop, emulator):
    failures = []
    for sender, text, pattern in SCRIPT:
        reply = await converse(emulator, sender, text)
        if not re.search(pattern, reply):
            failures.append(f"{text[:40]!r} -> {reply!r} (expected /{pattern}/)")
    assert not failures, "\n".join(failures)


async def test_registration_forms_store_tidy_names(shop, emulator):
    _, db = shop
    texts = {  # issue 12: each of these stored "Ani,", "Siti Aminah.Jl. Kenanga", "nama siti alamat"...
        "+6281300000011": ["DAFTAR Ani, Jl. Kenanga 3"],
        "+6281300000012": ["REG Siti Aminah.Jl. Kenanga 3"],
        "+6281300000013": ["reg nama siti alamat jl melati 9"],
        "+6281300000014": ["Daftar nama: Nur, alamat: Jl. Cemara No 6\n17-08-1990"],
        "+6281300000015": ["DAFTAR ahmad bin abdullah#Jl. X 1", "UBAH NAMA siti binti hasan",
                           "UBAH ALAMAT ke Perum Puri Indah B7"],
    }
    for phone, messages in texts.items():
        for text in messages:
            await converse(emulator, phone, text)
    stored = query(db, "SELECT phone, name, address, birthday FROM customers WHERE phone LIKE '+628130000001_' "
                       "ORDER BY phone")
    assert stored == [
        ("+6281300000011", "Ani", "Jl. Kenanga 3", None),
        ("+6281300000012", "Siti Aminah", "Jl. Kenanga 3", None),
        ("+6281300000013", "Siti", "jl melati 9", None),
        ("+6281300000014", "Nur", "Jl. Cemara No 6", "1990-08-17"),
        ("+6281300000015", "Siti binti Hasan", "Perum Puri Indah B7", None),
    ]
    assert (await converse(emulator, "+6281300000011", "daftar ani,")).startswith("Data Anda diperbarui, Ani.")


async def test_the_same_sms_twice_is_answered_once(shop, emulator):
    from datetime import datetime, timezone

    from smsd_crm.sms.compose import encode_deliver
    [part] = encode_deliver(A, "PESAN gula 1", datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))
    queue = emulator.subscribe(A)
    emulator.core.store_pdu(part.hex)
    assert (await next_reply(queue, 20)).startswith("Pesanan #")
    emulator.core.store_pdu(part.hex)  # the network delivers it again
    await wait_until(lambda: not emulator.core.storage, 20)
    await asyncio.sleep(0)  # the duplicate was read and deleted: no second reply, no second order
    db = shop[1]
    assert query(db, "SELECT COUNT(*) FROM orders") == [(1,)]
    assert query(db, "SELECT COUNT(*) FROM messages WHERE direction = 'in'") == [(1,)]


async def test_staff_move_an_order_and_the_customer_gets_each_sms(shop, emulator):
    config, db = shop
    reply = await converse(emulator, A, "PESAN telur 2")
    number = re.match(r"Pesanan #(\d+)", reply).group(1)
    assert query(db, "SELECT stock FROM products WHERE code = 'T01'") == [(28,)]
    queue = emulator.subscribe(A)
    for action, expected in (("ready", f"Pesanan #{number} sudah siap. Total Rp58.000."),
                             ("done", f"Pesanan #{number} selesai. Terima kasih telah berbelanja di Toko Uji!")):
        result = subprocess.run([SMSD_CRM, "order", action, number, "-c", str(config)], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert (await next_reply(queue, 20)).startswith(expected)
    result = subprocess.run([SMSD_CRM, "order", "cancel", number, "-c", str(config)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and f"pesanan #{number} berstatus selesai; tidak bisa menjadi dibatalkan" in result.stdout
    assert (await converse(emulator, A, "POIN")).startswith("Poin Anda: 58.")  # Rp58.000, 1 point per Rp1.000
    assert query(db, "SELECT state FROM orders WHERE id = ?", (int(number),)) == [("done",)]


async def test_customer_cancel_returns_the_stock(shop, emulator):
    _, db = shop
    reply = await converse(emulator, B, "ORDER bikes 3, eggs 3 please")  # English words: an English reply
    assert reply.startswith("Unknown item: bikes")
    reply = await converse(emulator, B, "ORDER eggs 3 please")
    number = re.match(r"Order #(\d+)", reply).group(1)
    assert query(db, "SELECT stock FROM products WHERE code = 'T01'") == [(27,)]
    assert await converse(emulator, B, f"CANCEL {number} please") == f"Order #{number} is cancelled. Thank you."
    assert query(db, "SELECT stock FROM products WHERE code = 'T01'") == [(30,)]
    assert (await converse(emulator, B, f"cancel my order {number}")).startswith(
        f"Order #{number} can no longer be cancelled (status: cancelled)")


async def test_stop_and_start_are_recorded_in_core_with_their_messages(shop, emulator):
    _, db = shop
    await converse(emulator, A, "BERHENTI")
    assert query(db, "SELECT promotions FROM consent WHERE phone = ?", (A,)) == [(0,)]
    await converse(emulator, A, "MULAI")
    await converse(emulator, A, "stop")
    events = query(db, "SELECT e.promotions, m.text, e.source FROM consent_events e "
                       "JOIN messages m ON m.id = e.message_id WHERE e.phone = ? ORDER BY e.id", (A,))
    assert events == [(0, "BERHENTI", "optout"), (1, "MULAI", "optout"), (0, "stop", "optout")]
    assert query(db, "SELECT promotions FROM consent WHERE phone = ?", (A,)) == [(0,)]


async def test_staff_answer_and_close_a_complaint_by_sms(shop, emulator):
    config, db = shop
    reply = await converse(emulator, C, "KOMPLAIN gas bocor")
    number = re.search(r"K(\d+)", reply).group(1)
    queue = emulator.subscribe(C)
    run = lambda *a: subprocess.run([SMSD_CRM, "complaint", *a, "-c", str(config)], capture_output=True,  # noqa
                                    text=True, timeout=60)
    listed = run("list")
    assert f"K{number}" in listed.stdout and "'gas bocor'" in listed.stdout
    assert run("answer", number, "Maaf, tabung diganti hari ini.").returncode == 0
    assert await next_reply(queue, 20) == f"K{number}: Maaf, tabung diganti hari ini."
    assert run("close", number, "tabung diganti").returncode == 0
    assert (await next_reply(queue, 20)).startswith(f"Keluhan K{number} kami tutup.")
    row = query(db, "SELECT state, first_answer_at IS NOT NULL, closed_at >= first_answer_at, close_note "
                    "FROM complaints WHERE id = ?", (int(number),))
    assert row == [("closed", 1, 1, "tabung diganti")]
    again = run("answer", number, "lagi")
    assert again.returncode == 1 and f"keluhan K{number} sudah ditutup" in again.stdout
