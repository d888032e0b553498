"""USSD balance checks as pure functions: the AT+CUSD request (text or packed GSM 7-bit), the +CUSD answer
(text, packed GSM 7-bit hex, UCS-2 hex) and the credit read from Indonesian operators' own words."""

from __future__ import annotations

from datetime import date

import pytest

from smsd_crm.sms import gsm7, ussd


def test_a_request_as_text_or_packed_for_modems_that_want_it():
    assert ussd.request("*888#") == 'AT+CUSD=1,"*888#",15'
    # the packed form of *100# that Huawei sticks are documented with
    assert ussd.request("*100#", packed=True) == 'AT+CUSD=1,"AA180C3602",15'
    with pytest.raises(ValueError, match="not a USSD code"):
        ussd.request('*888#",15\r\nAT+CFUN=0')


@pytest.mark.parametrize("operator, answer, credit", [
    ("Telkomsel", "Sisa pulsa Rp12.345 aktif s/d 31/12/2026. Sisa SMS 100 berlaku s.d 10/12/2026",
     ussd.Credit(12345, date(2026, 12, 31), 100, date(2026, 12, 10))),
    ("Indosat", "Pulsa: Rp 5.000, masa aktif 21-12-2026. Info: *123#", ussd.Credit(5000, date(2026, 12, 21))),
    ("Tri", "Pulsa Anda Rp 2.500. Masa aktif kartu 21 Nov 2026", ussd.Credit(2500, date(2026, 11, 21))),
    ("XL", "Saldo Rp2.500 berlaku sampai 03 Des 2026. Beli paket? Ketik 1", ussd.Credit(2500, date(2026, 12, 3))),
    ("Smartfren", "Pulsa Rp 1.234,00 berlaku s/d 2026-12-31", ussd.Credit(1234, date(2026, 12, 31))),
    ("out of credit", "Maaf, pulsa Anda tidak cukup (Rp0). Aktif sd 05/01/27", ussd.Credit(0, date(2027, 1, 5))),
    ("English", "Your balance is IDR 25000 valid until 2027-01-31", ussd.Credit(25000, date(2027, 1, 31))),
])
def test_operators_own_words_give_the_balance_and_dates(operator, answer, credit):
    assert ussd.read_credit(answer) == credit


def test_an_operator_s_other_shape_by_its_pattern():
    answer = "Anda punya 77.000 rupiah, kartu berlaku hingga 2027/02/28"
    assert ussd.read_credit(answer) == ussd.Credit(None, date(2027, 2, 28))  # no "Rp": no balance
    found = ussd.read_credit(answer, r"punya (?P<balance>[\d.]+) rupiah")
    assert (found.balance, found.active_until) == (77000, date(2027, 2, 28))
    found = ussd.read_credit("B:77000;E:28/02/2027", r"B:(?P<balance>\d+);E:(?P<until>\S+)")
    assert (found.balance, found.active_until) == (77000, date(2027, 2, 28))


def test_answers_as_text_packed_gsm7_or_ucs2():
    text = "Sisa pulsa Rp10.000 aktif s/d 01/01/2027"
    packed = gsm7.pack(gsm7.encode(text)).hex().upper()
    ucs2 = text.encode("utf-16-be").hex().upper()
    assert ussd.parse_answer(f'+CUSD: 0,"{text}",15') == ussd.UssdAnswer(0, text)
    assert ussd.parse_answer(f'+CUSD: 0,"{packed}",15') == ussd.UssdAnswer(0, text)
    assert ussd.parse_answer(f'+CUSD: 2,"{ucs2}",72') == ussd.UssdAnswer(2, text)
    # eight septets' worth ends in a padding CR, which is not text
    eight = gsm7.encode("Pulsa 0") + [0x0D]
    assert ussd.parse_answer(f'+CUSD: 0,"{gsm7.pack(eight).hex()}",15').text == "Pulsa 0"


def test_refusals_and_what_is_not_an_answer():
    assert ussd.parse_answer("+CUSD: 4").failed  # not supported
    assert ussd.parse_answer("+CUSD: 2").failed  # ended by the network with nothing said
    assert not ussd.parse_answer('+CUSD: 1,"Pilih: 1 Paket 2 Pulsa",15').failed  # it asks back: an answer
    assert ussd.parse_answer("+CMTI: \"SM\",3") is None
    assert not ussd.read_credit("Layanan sedang sibuk, coba lagi nanti").known


@pytest.mark.parametrize("answer, balance", [
    ("Sisa bonus Rp0, pulsa Rp 50.000 aktif s/d 31/12/2026", 50000),  # a bonus is not the balance
    ("Saldo bonus Rp 0. Pulsa utama Rp25.000", 25000),
    ("Rp 0 pulsa, Rp 20.000 bonus", 0),
    ("Sisa pulsa Anda 0", 0), ("Pulsa Anda habis", 0), ("Pulsa 50000 aktif 31-12-2026", 50000),  # no "Rp"
    ("Pulsa -Rp5.000 (hutang)", 0),  # a debt
    ("Pulsa" + " " * 20000 + "x", None),  # a flood is cut, not read for seconds
])
def test_the_balance_is_the_main_one_even_when_bonuses_or_debts_are_said(answer, balance):
    assert ussd.read_credit(answer).balance == balance


def test_a_pattern_s_amount_keeps_its_thousands_not_its_cents():
    assert ussd.read_credit("Main balance 25,000.00", r"Main balance (?P<balance>[\d.,]+)").balance == 25000
    assert ussd.read_credit("Saldo utama: 1.000.000,50", r"Saldo utama: (?P<balance>[\d.,]+)").balance == 1000000
    assert ussd.read_credit("Cek paket SMS *363#, Info: 5 SMS gratis").sms_left is None  # codes and promos
