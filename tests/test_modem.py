"""The modem driver against the emulator on a real pseudo-terminal, in one process."""

from __future__ import annotations

import asyncio

import pytest

from smsd_crm.config import ModemConfig
from smsd_crm.emulator.pty_modem import next_reply
from smsd_crm.errors import ModemUnavailable
from smsd_crm.modem.modem import Modem

from .conftest import wait_until


class Sink:
    """Collects inbound messages; can be told to fail like a broken database."""

    def __init__(self) -> None:
        self.messages = []
        self.fail = False

    async def __call__(self, message):
        if self.fail:
            raise RuntimeError("database unavailable")
        self.messages.append(message)


@pytest.fixture
async def driver(emulator):
    sink = Sink()
    modem = Modem(ModemConfig(id="sim1", port=emulator.device, sweep_interval=0.5), sink)
    task = asyncio.create_task(modem.run())
    await asyncio.wait_for(modem.ready.wait(), 10)
    yield modem, sink
    task.cancel()
    with pytest.raises((asyncio.CancelledError, ModemUnavailable)):
        await task


async def test_initialisation_switches_to_pdu_mode_without_echo(emulator, driver):
    commands = emulator.core.commands
    assert commands[:2] == ["AT", "ATE0"]
    assert "AT+CMGF=0" in commands and "AT+CNMI=2,1,0,0,0" in commands
    assert emulator.core.echo is False
    assert driver[0].imei == emulator.core.imei


async def test_messages_stored_before_start_are_swept(emulator):
    emulator.deliver("+6281111111111", "DAFTAR Ani#Jl. Kenari 1")
    emulator.deliver("081222222222", "BANTUAN")
    sink = Sink()
    modem = Modem(ModemConfig(id="sim1", port=emulator.device), sink)
    task = asyncio.create_task(modem.run())
    try:
        await wait_until(lambda: len(sink.messages) == 2, 10)
        await wait_until(lambda: not emulator.core.storage, 10)
    finally:
        task.cancel()
    assert [m.text for m in sink.messages] == ["DAFTAR Ani#Jl. Kenari 1", "BANTUAN"]
    assert sink.messages[1].sender == "081222222222"


async def test_cmti_read_commit_then_delete(emulator):
    sink = Sink()
    # No periodic sweep during the test: the message must come in through +CMTI alone.
    modem = Modem(ModemConfig(id="sim1", port=emulator.device, sweep_interval=3600), sink)
    task = asyncio.create_task(modem.run())
    try:
        # The start-up sweep has listed the (empty) SIM before the message arrives.
        await wait_until(lambda: "AT+CMGL=4" in emulator.core.commands, 10, "the start-up sweep")
        emulator.deliver("+6281333333333", "halo")
        await wait_until(lambda: sink.messages, 10)
        await wait_until(lambda: not emulator.core.storage, 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    reads = [c for c in emulator.core.commands if c.startswith(("AT+CMGR", "AT+CMGD", "AT+CMGL"))]
    assert reads == ["AT+CMGL=4", "AT+CMGR=0", "AT+CMGD=0"]
    assert [m.text for m in sink.messages] == ["halo"]


async def test_nothing_is_deleted_while_the_sink_fails(emulator, driver):
    modem, sink = driver
    sink.fail = True
    emulator.deliver("+6281444444444", "PESAN beras 2")
    await wait_until(lambda: any(c.startswith("AT+CMGR") for c in emulator.core.commands), 10)
    sweeps = emulator.core.commands.count("AT+CMGL=4")
    await wait_until(lambda: emulator.core.commands.count("AT+CMGL=4") > sweeps + 1, 10)
    assert len(emulator.core.storage) == 1  # still on the SIM
    sink.fail = False
    await wait_until(lambda: sink.messages and not emulator.core.storage, 10)
    assert sink.messages[0].text == "PESAN beras 2"


async def test_long_message_parts_are_joined_and_deleted_together(emulator, driver):
    _, sink = driver
    text = "KOMPLAIN " + "telur pecah semua " * 30
    emulator.deliver("+6281555555555", text)
    await wait_until(lambda: sink.messages, 10)
    assert sink.messages[0].text == text
    await wait_until(lambda: not emulator.core.storage, 10)


async def test_send_single_and_multipart(emulator, driver):
    modem, _ = driver
    queue = emulator.subscribe("+6281666666666")
    result = await modem.send("+6281666666666", "Terima kasih 🙏")
    assert await next_reply(queue, 5) == "Terima kasih 🙏"
    long_text = "Promo minggu ini: " + "beras, gula, minyak; " * 20
    await modem.send("+6281666666666", long_text)
    assert await next_reply(queue, 5) == long_text
    assert result.modem_id == "sim1" and result.references


async def test_port_gone_ends_run_with_modem_unavailable(emulator):
    modem = Modem(ModemConfig(id="sim1", port=emulator.device), Sink())
    task = asyncio.create_task(modem.run())
    await asyncio.wait_for(modem.ready.wait(), 10)
    modem._channel.close()  # what a USB unplug looks like from the driver's side
    with pytest.raises(ModemUnavailable):
        await asyncio.wait_for(task, 10)
    assert not modem.ready.is_set()


async def test_missing_port_is_unavailable_not_a_crash(tmp_path):
    modem = Modem(ModemConfig(id="sim9", port=str(tmp_path / "ttyUSB9")), Sink())
    with pytest.raises(ModemUnavailable):
        await modem.run()


async def test_sim_pin_is_entered_once_and_never_logged(tmp_path, caplog):
    from pydantic import SecretStr

    from smsd_crm.emulator.pty_modem import PtyModem

    emu = PtyModem("sim1", pin="4321")
    await emu.start()
    caplog.set_level(1)  # everything, TRACE included
    try:
        modem = Modem(ModemConfig(id="sim1", port=emu.device, pin=SecretStr("4321")), Sink())
        task = asyncio.create_task(modem.run())
        await asyncio.wait_for(modem.ready.wait(), 10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # releases the port's lock
        assert emu.core.pin_attempts == 1 and emu.core.pin_ok

        emu.core.pin_ok, emu.core.pin_attempts = False, 0
        wrong = Modem(ModemConfig(id="sim1", port=emu.device, pin=SecretStr("1111")), Sink())
        with pytest.raises(Exception) as info:
            await asyncio.wait_for(wrong.run(), 10)
        assert emu.core.pin_attempts == 1, repr(info.value)  # never retried: three wrong PINs lock the SIM
        assert "1111" not in str(info.value)
    finally:
        await emu.stop()
    assert "4321" not in caplog.text and "1111" not in caplog.text
    assert 'AT+CPIN=***' in caplog.text


async def test_missing_part_is_delivered_incomplete_after_the_timeout(emulator):
    from datetime import datetime, timezone

    from smsd_crm.sms.compose import encode_deliver
    parts = encode_deliver("+6281777777777", "satu " * 100, datetime.now(timezone.utc), concat_reference=42)
    assert len(parts) == 4
    for part in (parts[0], parts[2], parts[3]):  # part 2 never arrives
        emulator.core.store_pdu(part.hex)
    sink = Sink()
    modem = Modem(ModemConfig(id="sim1", port=emulator.device, sweep_interval=0.2, multipart_timeout=0.5), sink)
    task = asyncio.create_task(modem.run())
    try:
        await wait_until(lambda: sink.messages, 10)
        message = sink.messages[0]
        assert message.incomplete and "[...]" in message.text
        assert message.text.startswith("satu satu") and message.text.count("[...]") == 1
        await wait_until(lambda: not emulator.core.storage, 10, "parts deleted once stored")
    finally:
        task.cancel()


async def test_sixteen_bit_references_both_ways_and_parts_out_of_order(emulator):
    from datetime import datetime, timezone

    from smsd_crm.sms import pdu
    from smsd_crm.sms.compose import encode_deliver
    text = "Pesan panjang dengan referensi 16 bit. " * 12
    parts = encode_deliver("+6281888888888", text, datetime.now(timezone.utc), ref_bits=16,
                           concat_reference=4660)
    for part in reversed(parts):  # arrive last part first
        emulator.core.store_pdu(part.hex)
    sink = Sink()
    modem = Modem(ModemConfig(id="sim1", port=emulator.device, concat_ref_bits=16), sink)
    task = asyncio.create_task(modem.run())
    try:
        await wait_until(lambda: sink.messages, 10)
        assert sink.messages[0].text == text and not sink.messages[0].incomplete
        queue = emulator.subscribe("+6281888888888")
        await modem.send("+6281888888888", text)
        assert await next_reply(queue, 10) == text
        sent = [pdu.decode(s.pdu) for s in emulator.core.submitted]
        assert {s.concat.ref_bits for s in sent} == {16} and len(sent) == len(parts)
    finally:
        task.cancel()


async def _run(modem):
    """Start ``modem.run()``; the caller cancels the task."""
    task = asyncio.create_task(modem.run())
    await asyncio.wait_for(modem.ready.wait(), 10)
    return task


async def _stop(task):
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


EVERY = [{0, 1, 2, 3}, {0, 1, 2, 3}, {0, 1, 2, 3}, {0, 1, 2}, {0, 1}]


@pytest.mark.parametrize("supported", [
    [*EVERY[:4], {1}],  # only <bfr> 1 (Cinterion PHS8 lists +CNMI: (0,1,2),(0,1),(0,2),(0),(1))
    [{1}, *EVERY[1:]],  # only mode 1
    [EVERY[0], {0, 1}, {2, 3}, *EVERY[3:]],  # <mt> 1 only with cell broadcasts routed (<bm> 2, 3)
], ids=["bfr-1-only", "mode-1-only", "bm-2-3-only"])
async def test_cnmi_is_negotiated_so_new_messages_are_announced(emulator, supported):
    emulator.core.cnmi_supported = supported
    sink = Sink()
    # No periodic sweep during the test: the message must come in through +CMTI.
    modem = Modem(ModemConfig(id="sim1", port=emulator.device, sweep_interval=3600), sink)
    task = await _run(modem)
    try:
        await wait_until(lambda: "AT+CMGL=4" in emulator.core.commands, 10, "the start-up sweep")
        emulator.deliver("+6281333333333", "halo")
        await wait_until(lambda: sink.messages, 20, "the message, announced by +CMTI")
    finally:
        await _stop(task)
    assert "AT+CNMI=?" in emulator.core.commands and [m.text for m in sink.messages] == ["halo"]


@pytest.mark.parametrize("refusal", ["no-mt-1-or-3", "cnmi-refused"])
async def test_a_modem_that_cannot_announce_is_swept_often(emulator, caplog, refusal):
    if refusal == "no-mt-1-or-3":
        emulator.core.cnmi_supported[1] = {0, 2}  # +CMT only: stored messages would never be announced
    else:
        emulator.core.inject("AT+CNMI", *["ERROR"] * 20)  # AT+CNMI=? and every setting
    sink = Sink()
    config = ModemConfig(id="sim1", port=emulator.device, sweep_interval=3600, fallback_sweep_interval=0.3)
    modem = Modem(config, sink)
    task = await _run(modem)
    try:
        await wait_until(lambda: "AT+CMGL=4" in emulator.core.commands, 10, "the start-up sweep")
        emulator.deliver("+6281333333333", "halo")
        await wait_until(lambda: sink.messages, 20, "the message, found by a short sweep")
    finally:
        await _stop(task)
    assert emulator.core.cnmi_mt == 0
    assert caplog.text.count("announces new messages") == 1


@pytest.mark.parametrize("encoding", ["ucs2", "gsm7"])
async def test_a_character_cut_between_two_parts_is_stored_whole(emulator, encoding):
    """Senders cut an emoji's surrogate pair, or an ESC from its extension code, between parts."""
    from datetime import datetime, timezone

    from smsd_crm.sms import gsm7
    from smsd_crm.sms.compose import Segment, encode_deliver_segments
    if encoding == "ucs2":
        text = "Makasih ya kak 🙏 " * 5
        units = text.encode("utf-16-be")
        cut = units.index("🙏".encode("utf-16-be")) + 2  # between the high and the low surrogate
    else:
        text = "Harga promo 10€ per bungkus. " * 8
        units = gsm7.encode(text)
        cut = units.index(gsm7.ESC) + 1  # the ESC ends part 1, the euro's code starts part 2
    segments = [Segment(encoding, units[:cut], ""), Segment(encoding, units[cut:], "")]
    for part in encode_deliver_segments("+6281555555555", segments, datetime.now(timezone.utc),
                                        concat_reference=9):
        emulator.core.store_pdu(part.hex)
    sink = Sink()
    task = await _run(Modem(ModemConfig(id="sim1", port=emulator.device, sweep_interval=3600), sink))
    try:
        await wait_until(lambda: sink.messages, 10, "the joined message")
        await wait_until(lambda: not emulator.core.storage, 10, "both parts deleted once stored")
    finally:
        await _stop(task)
    assert [m.text for m in sink.messages] == [text] and not sink.messages[0].incomplete


async def test_two_long_messages_with_one_reference_interleaved_are_both_stored(emulator):
    """One sender, the same concatenation reference twice, parts arriving A1 B1 B2 A2."""
    from datetime import datetime, timedelta, timezone

    from smsd_crm.sms.compose import encode_deliver
    sent = datetime.now(timezone.utc)
    first, second = "KOMPLAIN telur pecah tiga butir. " * 6, "PESAN beras 5 kg dan gula 2 kg. " * 6
    a = encode_deliver("+6281555555555", first, sent, concat_reference=77)
    b = encode_deliver("+6281555555555", second, sent + timedelta(minutes=3), concat_reference=77)
    assert len(a) == len(b) == 2
    for part in (a[0], b[0], b[1], a[1]):
        emulator.core.store_pdu(part.hex)
    sink = Sink()
    task = await _run(Modem(ModemConfig(id="sim1", port=emulator.device, sweep_interval=3600), sink))
    try:
        await wait_until(lambda: len(sink.messages) == 2, 10, "both messages")
        await wait_until(lambda: not emulator.core.storage, 10, "every part deleted once stored")
    finally:
        await _stop(task)
    assert sorted(m.text for m in sink.messages) == sorted([first, second])
    assert not any(m.incomplete for m in sink.messages)


async def test_a_read_answered_busy_is_tried_again_at_once(emulator):
    sink = Sink()
    # No periodic sweep during the test: the message must come in through +CMTI and a retried read.
    task = await _run(Modem(ModemConfig(id="sim1", port=emulator.device, sweep_interval=3600), sink))
    try:
        await wait_until(lambda: "AT+CMGL=4" in emulator.core.commands, 10, "the start-up sweep")
        emulator.core.inject("AT+CMGR", "+CME ERROR: 515")  # device busy, once
        emulator.deliver("+6281333333333", "halo")
        await wait_until(lambda: sink.messages, 20, "the message, read again after the busy answer")
        await wait_until(lambda: not emulator.core.storage, 10, "deleted once stored")
    finally:
        await _stop(task)
    assert [m.text for m in sink.messages] == ["halo"]
    assert [c for c in emulator.core.commands if c.startswith("AT+CMGR")] == ["AT+CMGR=0", "AT+CMGR=0"]


@pytest.mark.parametrize("refusals", [["+CME ERROR: 515"] * 6, ["+CMS ERROR: 302"]],
                         ids=["busy-six-times", "not-allowed-once"])
async def test_a_refused_delete_is_tried_again_later_without_holding_up_reads(emulator, refusals):
    sink = Sink()
    task = await _run(Modem(ModemConfig(id="sim1", port=emulator.device, sweep_interval=3600), sink))
    try:
        await wait_until(lambda: "AT+CMGL=4" in emulator.core.commands, 10, "the start-up sweep")
        emulator.core.inject("AT+CMGD", *refusals)
        emulator.deliver("+6281333333333", "pertama")
        await wait_until(lambda: sink.messages, 20, "the first message")
        emulator.deliver("+6281444444444", "kedua")  # read while the first slot waits for its delete
        await wait_until(lambda: len(sink.messages) == 2, 20, "the second message")
        await wait_until(lambda: not emulator.core.storage, 30, "both slots freed in the end")
    finally:
        await _stop(task)
    assert [m.text for m in sink.messages] == ["pertama", "kedua"]  # each handed up once


async def test_a_sweep_frees_a_stored_message_whose_delete_failed_without_handing_it_up_again(emulator):
    emulator.core.inject("AT+CMGD", *["+CMS ERROR: 302"] * 3)  # operation not allowed, three times
    emulator.deliver("+6281333333333", "sekali saja")
    sink = Sink()
    task = await _run(Modem(ModemConfig(id="sim1", port=emulator.device, sweep_interval=0.3), sink))
    try:
        await wait_until(lambda: not emulator.core.injected["AT+CMGD"], 20, "every refusal used up")
        await wait_until(lambda: not emulator.core.storage, 20, "the slot freed")
        sweeps = emulator.core.commands.count("AT+CMGL=4")
        await wait_until(lambda: emulator.core.commands.count("AT+CMGL=4") > sweeps, 10, "one more sweep")
    finally:
        await _stop(task)
    assert [m.text for m in sink.messages] == ["sekali saja"]
