"""The driver against misbehaving modems, over real pseudo-terminals (docs/modem-quirks.md)."""

from __future__ import annotations

import asyncio
import os

import pytest

from smsd_crm.config import ModemConfig
from smsd_crm.emulator.core import PERSONALITIES, apply_personality
from smsd_crm.emulator.pty_modem import next_reply
from smsd_crm.modem.modem import Modem

from .conftest import wait_until
from .gateway import Gateway, now


@pytest.mark.parametrize("personality", sorted(PERSONALITIES))
async def test_each_personality_receives_and_sends(tmp_path, personality):
    async with Gateway(tmp_path) as gw:
        apply_personality(gw.emus[0].core, personality)
        await gw.ready()
        gw.emus[0].deliver("+6281234567890", "DAFTAR Budi#Jl. Mawar 5")
        await wait_until(lambda: gw.inbound, 10)
        assert gw.inbound[0].text == "DAFTAR Budi#Jl. Mawar 5"
        queue = gw.emus[0].subscribe("+6281234567890")
        await gw.queue("+6281234567890", "Selamat datang Budi")
        assert await next_reply(queue, 10) == "Selamat datang Budi"
        await wait_until(lambda: not gw.emus[0].core.storage, 10)


async def test_a_hung_modem_is_reconnected_then_reset_and_comes_back(tmp_path):
    async with Gateway(tmp_path) as gw:
        await gw.ready()
        core = gw.emus[0].core
        core.silent = True  # stops answering; only AT+CFUN=1,1 gets through
        await wait_until(lambda: not gw.modems[0].ready.is_set(), 10, "watchdog noticed")
        await wait_until(lambda: core.resets == 1, 20, "reset after failed restarts")
        await gw.ready()
        message_id = await gw.queue("+6281234567890", "masih hidup")
        await wait_until(lambda: gw.submitted_to("+6281234567890") == 1, 10)
        await wait_until(lambda: gw.state_now(message_id) == "sent", 10, "recorded sent")


async def test_unplug_in_the_middle_of_a_send_then_replug_under_a_new_name(tmp_path):
    async with Gateway(tmp_path) as gw:
        await gw.ready()
        emu = gw.emus[0]
        emu.deliver("+6281111111111", "belum dibaca")  # stays on the SIM across the unplug
        await wait_until(lambda: gw.inbound, 10)
        emu.core.send_delay = 30.0  # the network is slow: unplug while +CMSS is pending
        message_id = await gw.queue("+6281234567890", "Pesanan siap")
        await wait_until(lambda: any(c.startswith("AT+CMSS") for c in emu.core.commands), 10)
        old_path = emu.path
        emu.unplug()
        await wait_until(lambda: not gw.modems[0].ready.is_set(), 10)
        emu.core.send_delay = 0.0  # the send that was on its way died with the power: never on the air
        await emu.replug()
        assert emu.path != old_path
        await gw.ready()
        await wait_until(lambda: gw.submitted_to("+6281234567890") >= 1, 20)
        assert gw.submitted_to("+6281234567890") == 1
        await wait_until(lambda: gw.state_now(message_id) == "sent", 10, "recorded sent")
        assert gw.modems[0].sim_id == "510100000000000"  # recognised by IMSI, whatever the tty


async def test_busy_errors_are_retried_and_a_permanent_one_fails_fast(tmp_path):
    async with Gateway(tmp_path) as gw:
        await gw.ready()
        core = gw.emus[0].core
        core.inject("AT+CMSS", "+CMS ERROR: 314", "+CME ERROR: 515")  # SIM busy, device busy
        retried = await gw.queue("+6281200000001", "coba lagi")
        await wait_until(lambda: gw.submitted_to("+6281200000001") == 1, 15)
        await wait_until(lambda: core.injected["AT+CMSS"] == [], 5)
        core.inject("AT+CMSS", "+CMS ERROR: 304")  # invalid PDU parameter: retrying cannot help
        failed = await gw.queue("+6281200000002", "tidak akan terkirim")
        async with asyncio.timeout(10):
            while await gw.state(failed) != "failed":
                await asyncio.sleep(0.02)
        row = await gw.db.fetchone("SELECT attempts, last_error FROM messages WHERE id = ?", (failed,))
        assert row[0] == 1 and "304" in row[1]
        row = await gw.db.fetchone("SELECT attempts, state FROM messages WHERE id = ?", (retried,))
        assert tuple(row) == (3, "sent")


async def test_registration_loss_moves_sending_to_the_other_modem(tmp_path):
    async with Gateway(tmp_path, count=2) as gw:
        await gw.ready()
        gw.emus[0].core.set_registration(3)  # registration denied, announced as +CREG: 3
        await wait_until(lambda: not gw.modems[0].health.registered, 10)
        for i in range(6):
            await gw.queue(f"+628120000001{i}", "lewat SIM lain")
        await wait_until(lambda: len(gw.emus[1].core.submitted) == 6, 15)
        assert gw.emus[0].core.submitted == []
        gw.emus[0].core.set_registration(1)
        await wait_until(lambda: gw.modems[0].health.registered, 10)
        assert [s.state for s in gw.pool.status()] == ["ready", "ready"]


async def test_garbage_from_the_line_does_not_stop_the_driver(tmp_path):
    async with Gateway(tmp_path) as gw:
        await gw.ready()
        emu = gw.emus[0]
        emu._write(os.urandom(500) + b"\r\n\xff\xfe junk \r\n")
        emu.deliver("+6281234567890", "tetap jalan")
        await wait_until(lambda: gw.inbound, 10)
        await gw.queue("+6281234567890", "ok")
        await wait_until(lambda: gw.submitted_to("+6281234567890") == 1, 10)


async def test_a_full_sim_loses_nothing(tmp_path, caplog):
    async with Gateway(tmp_path) as gw:
        gw.emus[0].core.capacity = 2
        for i in range(7):  # the network holds what does not fit, as an SMSC does
            gw.emus[0].deliver(f"+62812000000{i:02d}", f"pesan {i}")
        await gw.ready()
        await wait_until(lambda: len(gw.inbound) == 7, 20)
        assert sorted(m.text for m in gw.inbound) == [f"pesan {i}" for i in range(7)]
        assert "SIM storage full (2/2)" in caplog.text


async def test_pin_locked_sim_without_a_pin_needs_attention(tmp_path):
    async with Gateway(tmp_path) as gw:
        gw.emus[0].core.pin, gw.emus[0].core.pin_ok = "1234", False
        await wait_until(lambda: "SIM needs attention: SIM PIN" in gw.pool.status()[0].last_error, 10)
        assert gw.emus[0].core.pin_attempts == 0


async def test_sim_without_smsc_warns_and_the_configured_one_is_used(tmp_path, caplog):
    async with Gateway(tmp_path, smsc="+62816124") as gw:
        gw.emus[0].core.smsc = ""
        await gw.ready()
        assert "no SMS service centre number" not in caplog.text  # the config supplies it
        await gw.queue("+6281234567890", "lewat SMSC dari konfigurasi")
        await wait_until(lambda: gw.submitted_to("+6281234567890") == 1, 10)
        assert gw.emus[0].core.submitted[0].decoded.smsc == "+62816124"


async def test_sim_without_smsc_and_none_configured_is_reported(tmp_path, caplog):
    async with Gateway(tmp_path) as gw:
        gw.emus[0].core.smsc = ""
        await gw.ready()
        assert "no SMS service centre number" in caplog.text


async def test_a_modem_that_refuses_cnmi_is_swept(tmp_path):
    async with Gateway(tmp_path) as gw:
        gw.emus[0].core.inject("AT+CNMI", *["ERROR"] * 20)  # AT+CNMI=? and every setting tried
        await gw.ready()
        assert gw.emus[0].core.cnmi_mt == 0  # announces nothing
        gw.emus[0].deliver("+6281234567890", "tanpa pemberitahuan")
        await wait_until(lambda: gw.inbound, 10)  # found by the periodic AT+CMGL=4


@pytest.mark.parametrize("direct", [False, True])
async def test_class_0_flash_sms_is_stored_like_any_other(tmp_path, direct):
    from smsd_crm.sms.compose import encode_deliver
    async with Gateway(tmp_path) as gw:
        await gw.ready()
        [part] = encode_deliver("+6281234567890", "FLASH promo", now(), dcs=0x10)
        if direct:
            gw.emus[0]._write(f"\r\n+CMT: ,{part.tpdu_length}\r\n{part.hex}\r\n".encode())
        else:
            gw.emus[0].core.store_pdu(part.hex)
        await wait_until(lambda: gw.inbound, 10)
        assert gw.inbound[0].text == "FLASH promo"


async def test_a_second_program_cannot_take_the_port(tmp_path):
    async with Gateway(tmp_path) as gw:
        await gw.ready()
        intruder = Modem(ModemConfig(id="other", port=str(gw.emus[0].link)), lambda m: None)
        with pytest.raises(Exception, match="exclusively lock"):
            await intruder.run()


async def test_parts_of_two_long_messages_never_interleave_on_one_modem(tmp_path):
    async with Gateway(tmp_path) as gw:
        await gw.ready()
        modem = gw.modems[0]
        await asyncio.gather(modem.send("+6281200000001", "A" * 400), modem.send("+6281200000002", "B" * 400))
        order = [s.decoded.destination.number for s in gw.emus[0].core.submitted]
        assert order in (["+6281200000001"] * 3 + ["+6281200000002"] * 3,
                         ["+6281200000002"] * 3 + ["+6281200000001"] * 3)
