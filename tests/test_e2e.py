"""End to end: `smsd-crm run -c CONFIG` as its own process, the emulator on a real pty.

The daemon opens the emulator's device path exactly as it would open /dev/ttyUSB0.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections import Counter

import pytest

from smsd_crm.emulator.pty_modem import next_reply
from smsd_crm.sms import pdu

from .conftest import SMSD_CRM, query, sim_send, wait_until, write_config

pytestmark = pytest.mark.e2e


def _replies_by_number(emulator) -> Counter:
    return Counter(s.decoded.destination.number for s in emulator.core.submitted)


async def test_daftar_sms_round_trip(tmp_path, emulator, daemons, shop_database):
    where, db = shop_database
    config = write_config(tmp_path, emulator.device, database=where)
    await daemons(config, tmp_path / "daemon.log")
    replies = emulator.subscribe("+6281234567890")
    emulator.deliver("081234567890", "DAFTAR Budi Santoso#Jl. Mawar 5")
    text = await next_reply(replies, 30)
    assert text.startswith("Selamat datang Budi Santoso di Toko Uji! No. anggota Anda")
    assert query(db, "SELECT phone, name, address FROM customers") == [
        ("+6281234567890", "Budi Santoso", "Jl. Mawar 5")]
    submitted = emulator.core.submitted[-1]
    decoded = pdu.decode(submitted.pdu)
    assert decoded.destination.number == "+6281234567890"
    assert decoded.destination.toa == pdu.TOA_INTERNATIONAL
    assert decoded.encoding == "gsm7" and decoded.concat is None
    await wait_until(lambda: query(db, "SELECT state FROM messages WHERE direction='out'") == [("sent",)])
    await wait_until(lambda: not emulator.core.storage, what="SIM emptied")


async def _deliver_many(emulator, start: int, count: int) -> list[str]:
    numbers = []
    for i in range(start, start + count):
        number = f"+62812000{i:05d}"
        emulator.deliver(number, f"DAFTAR Pelanggan {i}#Jl. Uji {i}")
        numbers.append(number)
    return numbers


async def _each_answered_exactly_once(emulator, db, numbers: list[str]) -> None:
    """Every number got its reply, once, and every stored SMS was handled and deleted."""
    count = len(numbers)
    await wait_until(lambda: set(_replies_by_number(emulator)) >= set(numbers), 60, "all answered")
    await wait_until(lambda: not emulator.core.storage, 30, "SIM emptied")
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM messages WHERE direction='out' AND state='sent'")
                     == [(count,)], 30, "all sent")
    assert all(n == 1 for n in _replies_by_number(emulator).values()), _replies_by_number(emulator)
    assert query(db, "SELECT COUNT(*) FROM messages WHERE direction='in' AND state='handled'") == [(count,)]


async def test_sigterm_loses_nothing_and_sends_nothing_twice(tmp_path, emulator, daemons, shop_database):
    where, db = shop_database
    config = write_config(tmp_path, emulator.device, database=where)
    daemon = await daemons(config, tmp_path / "daemon.log")
    numbers = await _deliver_many(emulator, 0, 10)
    await wait_until(lambda: len(emulator.core.submitted) >= 3, 30, "first replies")
    assert await daemon.stop(signal.SIGTERM) == 0
    numbers += await _deliver_many(emulator, 10, 3)  # arrive while the daemon is down
    await daemons(config, tmp_path / "daemon2.log")
    await _each_answered_exactly_once(emulator, db, numbers)
    assert query(db, "SELECT COUNT(*) FROM customers") == [(13,)]


async def test_sigkill_loses_nothing_and_sends_nothing_twice(tmp_path, emulator, daemons, shop_database):
    where, db = shop_database
    config = write_config(tmp_path, emulator.device, database=where)
    emulator.core.submit_error = 331  # no network: replies wait, committed, in the outbox
    daemon = await daemons(config, tmp_path / "daemon.log")
    numbers = await _deliver_many(emulator, 0, 8)
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM messages WHERE direction='out'") == [(8,)],
                     30, "replies queued")
    numbers += await _deliver_many(emulator, 8, 4)  # some of these may be half-read when killed
    assert await daemon.stop(signal.SIGKILL) == -signal.SIGKILL
    numbers += await _deliver_many(emulator, 12, 4)  # arrive while the daemon is dead
    assert emulator.core.submitted == []
    emulator.core.submit_error = None  # the network is back
    await daemons(config, tmp_path / "daemon2.log")
    await _each_answered_exactly_once(emulator, db, numbers)
    texts = [s.decoded.text for s in emulator.core.submitted]
    assert all(t.startswith("Selamat datang Pelanggan") for t in texts)


async def test_sim_cli_talks_to_the_daemons_own_emulator(tmp_path, daemons):
    config = write_config(tmp_path, "emulator", extra="emulator:\n  control_socket: run/emu.sock\n")
    await daemons(config, tmp_path / "daemon.log")
    code, out, err = await sim_send(config, "+6281234567890", "DAFTAR Budi#Jl. Mawar 5")
    assert code == 0, err
    assert out.startswith("Selamat datang Budi di Toko Uji!")
    code, out, _ = await sim_send(config, "0812 3456 7890", "halo kak")
    assert "Menu:" in out


async def test_sim_cli_without_a_daemon_says_so(tmp_path):
    code, _, err = await sim_send(write_config(tmp_path, "emulator"), "+6281234567890", "halo")
    assert code == 1
    assert "no running daemon" in err and "Traceback" not in err


async def test_status_command_shows_modem_health_and_the_outbox(tmp_path, emulator, daemons, shop_database):
    where, db = shop_database
    config = write_config(tmp_path, emulator.device, database=where)
    daemon = await daemons(config, tmp_path / "daemon.log")
    replies = emulator.subscribe("+6281234567890")
    emulator.deliver("081234567890", "BANTUAN")
    await next_reply(replies, 30)
    await wait_until(lambda: query(db, "SELECT sent FROM modem_status") == [(1,)], 30, "status published")
    await wait_until(lambda: query(db, "SELECT samples FROM daemon_status"), 30, "loop lag published")
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, "status", "-c", str(config),
                                                stdout=asyncio.subprocess.PIPE)
    out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    assert proc.returncode == 0
    line = next(x for x in out.splitlines() if x.startswith("sim1"))
    assert "ready" in line and "20/31 (-73 dBm)" in line and "home" in line and "TELKOMSEL" in line
    assert emulator.core.imsi in line and emulator.core.iccid in line
    assert "outbox: 0 queued, 0 sending, 1 sent" in out
    assert re.search(r"^event loop lag \(last minute\): max \d+ ms, p99 \d+ ms", out, re.M), out
    await daemon.stop()
    assert query(db, "SELECT state FROM modem_status") == [("stopped",)]


async def test_an_undecodable_pdu_is_kept_raw_and_freed_from_the_sim(tmp_path, emulator, daemons):
    config = write_config(tmp_path, emulator.device)
    emulator.core.store_pdu("0791261806102040044B")  # cut off inside the sender address
    await daemons(config, tmp_path / "daemon.log")
    db = tmp_path / "data" / "test.sqlite3"
    await wait_until(lambda: query(db, "SELECT state, raw_pdu FROM messages") ==
                     [("failed", "0791261806102040044B")], 30)
    await wait_until(lambda: not emulator.core.storage, 30, "SIM slot freed")
    replies = emulator.subscribe("+6281234567890")
    emulator.deliver("+6281234567890", "BANTUAN")  # and the reader goes on
    assert "Menu" in await next_reply(replies, 30)


async def test_several_emulated_modems_and_the_reply_leaves_by_the_sim_texted(tmp_path, daemons):
    from smsd_crm.emulator.control import request
    config = write_config(tmp_path, "emulator", extra="emulator:\n  control_socket: run/emu.sock\n")
    text = config.read_text().replace("  - id: sim1\n    port: emulator\n",
                                      "  - id: sim1\n    port: emulator\n  - id: sim2\n    port: emulator\n"
                                      "  - id: sim3\n    port: emulator\n")
    config.write_text(text)
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    await wait_until(lambda: log.read_text().count("ready on") == 3, 30, "three modems ready")
    for modem in ("sim2", "sim3", "sim1"):
        answer = await request(tmp_path / "run" / "emu.sock",
                               {"op": "send", "from": f"+62812999{modem[-1]}0000", "text": "BANTUAN",
                                "modem": modem, "timeout": 30}, 40)
        assert answer["ok"] and "Menu" in answer["reply"]
        assert answer["via"] == modem
