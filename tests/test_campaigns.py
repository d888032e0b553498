"""Campaigns through the emulator: `smsd-crm run` as a separate process opens the emulated modem by
its device path, the owner and customers text it, the CLI starts, pauses and resumes campaigns,
and every SMS the modem was given is recorded by the emulator."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from smsd_crm.emulator.pty_modem import PtyModem, next_reply
from smsd_crm.phones import normalize

from .conftest import SMSD_CRM, query, wait_until, write_config, write_rows

OWNER = "+6281100000001"
PIN = "2468"
STRANGER = "+6285799999999"
OWNER_CONFIG = f"""\
flood:
  max_per_minute: 60  # this test sends the owner's commands quicker than any owner
campaigns:
  quiet_hours: null
plugins:
  owner:
    numbers: ["0811-0000-0001"]
    pin: "{PIN}"
    lockout_attempts: 3
"""


@pytest.fixture
async def slow_emulator(tmp_path):
    """An emulated modem that takes 0.15 s per SMS, so a campaign lasts long enough to act on."""
    emu = PtyModem("sim1", link=tmp_path / "ttyUSB-sim1", send_delay=0.15)
    await emu.start()
    yield emu
    await emu.stop()


class Outgoing:
    """Every SMS the daemon handed to the modem: (E.164 number, text), in order."""

    def __init__(self, emulator: PtyModem) -> None:
        self.sent: list[tuple[str, str]] = []
        emulator.watch(lambda r: self.sent.append((normalize(r.decoded.destination.number), r.decoded.text)))

    def to(self, phone: str) -> list[str]:
        return [t for p, t in self.sent if p == phone]

    def promos(self, marker: str) -> list[tuple[str, str]]:
        return [(p, t) for p, t in self.sent if marker in t]


def seed(db: Path, count: int, opted_out: int = 0) -> list[str]:
    """``count`` customers (+6281300000001...), the first ``opted_out`` of them opted out; returns
    every customer's number. Written beside the running daemon (WAL)."""
    phones = [f"+62813000000{i:02d}" for i in range(1, count + 1)]
    write_rows(db, "INSERT INTO customers (phone, name, language, created_at, updated_at) VALUES "
                   "(?, ?, 'id', '2026-01-01', '2026-01-01')", [(p, f"Pelanggan{p[-2:]}") for p in phones])
    if opted_out:
        write_rows(db, "INSERT INTO consent (phone, promotions, updated_at) VALUES (?, 0, '2026-01-01')",
                   [(p,) for p in phones[:opted_out]])
    return phones


def cli(config: Path, *args: str) -> str:
    done = subprocess.run([SMSD_CRM, *args, "-c", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def reply_to(emulator: PtyModem, phone: str, text: str) -> str:
    queue = emulator.subscribe(phone)
    try:
        emulator.deliver(phone, text)
        return await next_reply(queue, 30)
    finally:
        emulator.unsubscribe(queue)


async def test_an_owner_promo_reaches_exactly_the_opted_in_customers(tmp_path, emulator, daemons):
    config = write_config(tmp_path, emulator.device, extra=OWNER_CONFIG)
    db = tmp_path / "data" / "test.sqlite3"
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    out = Outgoing(emulator)
    phones = seed(db, 10, opted_out=3)
    emulator.deliver(STRANGER, "halo")  # a number that texted the shop is not a customer
    await wait_until(lambda: out.to(STRANGER), 30, "the stranger's answer")

    # a stranger with the right PIN: a refusal; the owner with a wrong one: told so; nothing else
    assert await reply_to(emulator, STRANGER, f"PROMO {PIN} Diskon!") == "Perintah ini hanya untuk pemilik toko."
    assert await reply_to(emulator, OWNER, "PROMO 1111 Diskon!") == \
        "PIN salah. 2 kali lagi salah, nomor ini dikunci 30 menit."
    assert query(db, "SELECT COUNT(*) FROM campaigns") == [(0,)]

    owner = emulator.subscribe(OWNER)  # the answer, then the summary when every promo is out
    emulator.deliver(OWNER, f"promo {PIN} Halo {{nama}}, diskon 10% minyak goreng!")
    answer = await next_reply(owner, 30)
    assert answer.startswith("Promo #1 dikirim ke 7 pelanggan (1 SMS/orang, GSM-7"), answer
    summary = await next_reply(owner, 60)
    emulator.unsubscribe(owner)
    # delivery reports are off (the default): nobody knows how many arrived, and the SMS says so
    assert summary == ("Promo #1 selesai: 7 terkirim (diterima: tidak diketahui, laporan pengiriman mati), "
                       "0 gagal, 0 dilewati.")
    promos = out.promos("diskon 10% minyak goreng")
    assert sorted(p for p, _ in promos) == phones[3:]  # exactly the opted-in customers, each once
    assert all(t == f"Halo Pelanggan{p[-2:]}, diskon 10% minyak goreng!" for p, t in promos)

    # the PIN is nowhere: not in the stored text, not in a raw PDU, not in the log
    stored = query(db, "SELECT text, raw_pdu FROM messages WHERE direction = 'in' AND phone = ? AND text LIKE 'promo%' "
                       "ORDER BY id", (OWNER,))
    assert stored == [("PROMO **** Diskon!", None), ("promo **** Halo {nama}, diskon 10% minyak goreng!", None)]
    assert query(db, "SELECT COUNT(*) FROM messages WHERE text LIKE ?", (f"%{PIN}%",)) == [(0,)]
    assert f" {PIN} " not in log.read_text()

    # broken owner commands get a clear answer and start nothing
    assert (await reply_to(emulator, OWNER, f"PROMO {PIN}")).startswith("Format: PROMO PIN [@segmen] [@tokoini] teks.")
    unknown = await reply_to(emulator, OWNER, f"PROMO {PIN} @vip Diskon")
    assert unknown.startswith("Segmen @vip tidak dikenal. Pilih: @all") and "@tetap" in unknown
    assert query(db, "SELECT COUNT(*) FROM campaigns") == [(1,)]

    # the owner's other commands
    report = await reply_to(emulator, OWNER, f"LAPORAN {PIN}")
    assert report.startswith("Laporan ") and "keluhan terbuka 0" in report
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO products (code, name, category, unit, price, cost, created_at, updated_at) "
                     "VALUES ('B01', 'Beras 5kg', 'Sembako', 'karung', 78000, 70000, '2026-01-01', '2026-01-01')")
    conn.close()
    assert await reply_to(emulator, OWNER, f"STOK {PIN} b01 40") == "Stok B01 (Beras 5kg) sekarang 40."
    assert query(db, "SELECT stock FROM products WHERE code = 'B01'") == [(40,)]
    assert (await reply_to(emulator, OWNER, f"STOK {PIN} B01 banyak")).startswith("Format: STOK PIN kode/nama jumlah")

    # three wrong PINs in a row lock the number: then even the right PIN is refused
    for wrong, left in (("0000", 2), ("0001", 1)):  # (the same text again within minutes gets no second answer)
        assert await reply_to(emulator, OWNER, f"LAPORAN {wrong}") == \
            f"PIN salah. {left} kali lagi salah, nomor ini dikunci 30 menit."
    assert await reply_to(emulator, OWNER, "LAPORAN 0002") == "Terlalu banyak PIN salah. Coba lagi nanti."
    assert await reply_to(emulator, OWNER, f"PROMO {PIN} lagi") == "Terlalu banyak PIN salah. Coba lagi nanti."
    assert query(db, "SELECT COUNT(*) FROM campaigns") == [(1,)]
    # customers are never offered the owner's keywords
    assert "PROMO" not in await reply_to(emulator, phones[5], "BANTUAN")


async def test_quiet_hours_defer_a_campaign_until_they_end(tmp_path, emulator, daemons):
    quiet_always = OWNER_CONFIG.replace("quiet_hours: null", "quiet_hours: {start: '00:00', end: '23:59:59'}")
    config = write_config(tmp_path, emulator.device, extra=quiet_always)
    db = tmp_path / "data" / "test.sqlite3"
    log = tmp_path / "daemon.log"
    daemon = await daemons(config, log)
    out = Outgoing(emulator)
    phones = seed(db, 5)
    cli(config, "campaign", "create", "--name", "malam", "--text", "Promo malam {nama}")
    assert "running for 5 recipient(s)" in cli(config, "campaign", "start", "1")
    await wait_until(lambda: "quiet hours until 23:59 local time; campaign(s) 1 wait" in log.read_text(), 30,
                     "the campaign held by quiet hours")
    # a customer's own request is answered at once, quiet hours or not
    assert (await reply_to(emulator, phones[0], "INFO")).startswith("Toko Uji: buka")
    assert out.promos("Promo malam") == []
    assert query(db, "SELECT state, COUNT(*) FROM campaign_recipients GROUP BY state") == [("pending", 5)]
    # the owner who asks by SMS at night is told when it will go
    answer = await reply_to(emulator, OWNER, f"PROMO {PIN} Promo malam juga")
    assert answer.startswith("Promo #2 dikirim ke 5 pelanggan") and answer.endswith(
        "Jam tenang: mulai dikirim pukul 23.59."), answer
    assert await daemon.stop() == 0
    # the quiet hours are over (here: taken out of the config): the campaign goes out
    write_config(tmp_path, emulator.device, extra="campaigns:\n  quiet_hours: null\n")
    await daemons(config, tmp_path / "daemon2.log")
    await wait_until(lambda: len(out.promos("Promo malam")) == 10, 60, "the deferred campaigns")
    assert sorted(p for p, t in out.promos("Promo malam") if "juga" not in t) == phones


async def test_pause_resume_replies_first_and_an_opt_out_during_the_campaign(tmp_path, slow_emulator, daemons):
    emulator = slow_emulator
    # a wide window: without replies going first, a request would wait behind ten promotions
    config = write_config(tmp_path, emulator.device, extra="campaigns:\n  quiet_hours: null\n  window_per_modem: 10\n")
    db = tmp_path / "data" / "test.sqlite3"
    await daemons(config, tmp_path / "daemon.log")
    out = Outgoing(emulator)
    phones = seed(db, 30)
    leaver = phones[-1]  # last in line: opts out while the campaign runs
    cli(config, "campaign", "create", "--name", "minyak", "--text", "Diskon minyak untuk {nama}")
    cli(config, "campaign", "start", "1")
    assert (await reply_to(emulator, leaver, "BERHENTI")).startswith("Anda tidak akan menerima promosi")

    # a customer's request overtakes the campaign: only the promo on the air (and one the modem
    # had just taken) go before it, not the ten waiting in the outbox
    await wait_until(lambda: len(out.promos("Diskon minyak")) >= 3, 30, "the campaign under way")
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM messages WHERE campaign_id = 1 AND state = 'queued'")
                     [0][0] >= 5, 30, "promotions waiting in the outbox")
    before = len(out.promos("Diskon minyak"))
    assert (await reply_to(emulator, phones[0], "INFO")).startswith("Toko Uji: buka")
    assert len(out.promos("Diskon minyak")) - before <= 2
    assert len(out.promos("Diskon minyak")) < 29  # the campaign was still running

    # pause: nothing more goes out (a reply still does), resume: the rest, nobody twice
    await wait_until(lambda: len(out.promos("Diskon minyak")) >= 8, 30, "more of the campaign")
    assert "campaign 1 paused" in cli(config, "campaign", "pause", "1")
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM messages WHERE campaign_id = 1 AND state IN "
                                       "('queued', 'sending')") == [(0,)], 30, "the campaign's messages withdrawn")
    paused_at = len(out.promos("Diskon minyak"))
    assert paused_at < 29
    assert (await reply_to(emulator, phones[1], "INFO")).startswith("Toko Uji: buka")
    assert len(out.promos("Diskon minyak")) == paused_at
    assert "campaign 1 running" in cli(config, "campaign", "resume", "1")
    await wait_until(lambda: query(db, "SELECT state FROM campaigns WHERE id = 1") == [("done",)], 60, "done")
    promos = out.promos("Diskon minyak")
    assert sorted(p for p, _ in promos) == phones[:-1]  # everyone once, the leaver never
    assert query(db, "SELECT state, reason FROM campaign_recipients WHERE phone = ?", (leaver,)) == [
        ("skipped", "opted out")]
    shown = cli(config, "campaign", "show", "1")
    assert "30/30: 29 sent" in shown and "1 skipped" in shown and "0 to go" in shown
    assert "within 7 days of the SMS: 0 recipient(s) bought" in shown


async def test_killing_the_daemon_mid_campaign_sends_nothing_twice_and_finishes(tmp_path, slow_emulator, daemons,
                                                                                shop_database):
    emulator = slow_emulator
    where, db = shop_database
    config = write_config(tmp_path, emulator.device, extra="campaigns:\n  quiet_hours: null\n", database=where)
    daemon = await daemons(config, tmp_path / "daemon.log")
    out = Outgoing(emulator)
    phones = seed(db, 25)
    cli(config, "campaign", "create", "--name", "gula", "--text", "Gula murah untuk {nama}")
    cli(config, "campaign", "start", "1")
    await wait_until(lambda: len(out.promos("Gula murah")) >= 8, 30, "the campaign under way")
    # The modem hangs on the daemon's next send (AT+CMSS), whatever comes between: a send is in flight
    # (claimed, never accepted) when the daemon is killed. Every earlier send was committed before it.
    emulator.core.hang_on = "AT+CMSS"
    await wait_until(lambda: emulator.core.silent, 30, "a send in flight")
    assert query(db, "SELECT COUNT(*) FROM messages WHERE campaign_id = 1 AND state = 'sending'") == [(1,)]
    assert await daemon.stop(signal.SIGKILL) == -signal.SIGKILL
    sent_before = len(out.promos("Gula murah"))
    assert sent_before < 25
    emulator.core.silent = False
    await daemons(config, tmp_path / "daemon2.log")
    await wait_until(lambda: query(db, "SELECT state FROM campaigns WHERE id = 1") == [("done",)], 60, "done")
    promos = sorted(p for p, _ in out.promos("Gula murah"))
    assert promos == phones  # each customer exactly once
    assert query(db, "SELECT COUNT(*) FROM messages WHERE campaign_id = 1 AND state = 'sent'") == [(25,)]
