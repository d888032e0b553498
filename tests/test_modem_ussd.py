"""The balance check by USSD through the driver, against the emulator on a real pseudo-terminal: the
answer after OK (as most modems give it) or before it, packed GSM 7-bit requests and answers (Huawei), a
network that never answers, and a SIM that runs out of credit."""

from __future__ import annotations

from datetime import date

import pytest

from smsd_crm.errors import CommandError, ModemError
from smsd_crm.sms import ussd

from .test_modem import driver  # noqa: F401  (the driver on the emulator)


async def test_the_balance_is_asked_and_read(driver, emulator):  # noqa: F811
    modem, _ = driver
    emulator.core.credit, emulator.core.active_until = 12_345, date(2026, 12, 31)
    answer = await modem.ask_ussd("*888#")
    assert answer == ussd.UssdAnswer(0, "Sisa pulsa Rp12.345 aktif s/d 31/12/2026.")
    assert ussd.read_credit(answer.text) == ussd.Credit(12345, date(2026, 12, 31))
    assert emulator.core.commands[-1] == 'AT+CUSD=1,"*888#",15'


async def test_a_modem_that_wants_packed_gsm7(driver, emulator):  # noqa: F811
    modem, _ = driver
    emulator.core.ussd_packed, emulator.core.credit = True, 7_000
    answer = await modem.ask_ussd("*888#", packed=True)
    assert ussd.read_credit(answer.text).balance == 7000
    assert emulator.core.commands[-1] == 'AT+CUSD=1,"2A1C0E3702",15'


async def test_an_answer_before_the_ok_is_taken_too(driver, emulator):  # noqa: F811
    modem, _ = driver
    emulator.core.inject("AT+CUSD=1", '+CUSD: 0,"Pulsa Rp 5.000, masa aktif 21-12-2026",15\r\n\r\nOK')
    answer = await modem.ask_ussd("*555#")
    assert ussd.read_credit(answer.text) == ussd.Credit(5000, date(2026, 12, 21))


async def test_a_network_that_never_answers_is_an_error_not_a_hang(driver, emulator):  # noqa: F811
    modem, _ = driver
    emulator.core.ussd_silent = True
    with pytest.raises(ModemError, match=r"no USSD answer to \*888# within 0 s"):
        await modem.ask_ussd("*888#", timeout=0.3)
    assert emulator.core.commands[-1] == "AT+CUSD=2"  # the session ended
    emulator.core.ussd_silent = False
    assert (await modem.ask_ussd("*888#")).text.startswith("Sisa pulsa")  # and the next one works


async def test_a_sim_out_of_credit_refuses_sends_and_says_so(driver, emulator):  # noqa: F811
    modem, _ = driver
    core = emulator.core
    core.sms_tariff, core.credit = 350, 500
    assert (await modem.send("+6281234567890", "pesanan siap")).references
    with pytest.raises(CommandError) as refused:
        await modem.send("+6281234567890", "pesanan siap")
    assert refused.value.code == 500 and len(core.submitted) == 1
    assert ussd.read_credit((await modem.ask_ussd("*888#")).text).balance == 150


async def test_a_modem_that_refuses_the_text_form_is_asked_packed_and_that_is_kept(driver, emulator):  # noqa: F811
    from smsd_crm.config import CreditConfig
    from smsd_crm.modem.credit import CreditWatch

    modem, _ = driver
    emulator.core.ussd_packed = emulator.core.ussd_text_refused = True
    emulator.core.credit = 8_000
    watch = CreditWatch(modem, CreditConfig())
    assert (await watch.check()).balance == 8000
    assert emulator.core.commands[-2:] == ['AT+CUSD=1,"*888#",15', 'AT+CUSD=1,"2A1C0E3702",15']
    assert (await watch.check()).balance == 8000
    assert emulator.core.commands[-1] == 'AT+CUSD=1,"2A1C0E3702",15'  # packed at once the next time
    assert sum(c.startswith("AT+CUSD=1") for c in emulator.core.commands) == 3


async def test_an_unreadable_or_absurd_answer_keeps_the_last_figures(driver, emulator):  # noqa: F811
    """A flaky answer cleared the figures: the low-balance alert was dropped and raised again (the owner
    texted at every good read); 10**30 rupiah overflowed the status row and stopped the daemon."""
    from smsd_crm.config import CreditConfig
    from smsd_crm.modem.credit import CreditWatch

    modem, _ = driver
    emulator.core.credit = 5_000
    watch = CreditWatch(modem, CreditConfig())
    assert (await watch.check()).balance == 5000
    emulator.core.ussd_code = "*999#"  # the network answers "Maaf, permintaan Anda tidak dapat diproses."
    state = await watch.check()
    assert state.balance == 5000 and state.note.startswith("not read: Maaf")
    emulator.core.ussd_code, emulator.core.credit = "*888#", 10 ** 30
    assert (await watch.check()).balance == 5000
