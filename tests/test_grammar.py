"""Pure grammar helpers, phone numbers, and the registration parser."""

from __future__ import annotations

from datetime import date

import pytest

from smsd_crm import Registration, parse_birthday, parse_registration, phones
from smsd_crm.understanding import grammar


@pytest.mark.parametrize("text,expected", [
    ("DAFTAR Budi#Jl. Mawar 5", ("DAFTAR", " ", "Budi#Jl. Mawar 5")),
    ("daftar#Budi#Jl. Mawar 5", ("DAFTAR", "#", "Budi#Jl. Mawar 5")),
    ("  Reg.Budi.Jl Mawar  ", ("REG", ".", "Budi.Jl Mawar")),
    ("pesan*B01*2", ("PESAN", "*", "B01*2")),
    ("POIN!", ("POIN", "", "")),
    ("", ("", "", "")),
    ("   ", ("", "", "")),
    ("?", ("?", "", "")),
    ("#*# BANTUAN", ("BANTUAN", "", "")),
    ("😀 halo", ("😀", " ", "halo")),
])
def test_split_keyword(text, expected):
    assert grammar.split_keyword(text) == expected


def test_closest_and_ambiguity():
    assert grammar.closest("PESEN", ["PESAN", "POIN", "DAFTAR"]) == "PESAN"
    assert grammar.closest("XYZ", ["PESAN", "POIN"]) is None


def test_rupiah():
    assert grammar.format_rupiah(15000) == "Rp15.000"
    assert grammar.format_rupiah(1250000) == "Rp1.250.000"
    assert grammar.format_rupiah(0) == "Rp0"


@pytest.mark.parametrize("raw", ["+6281234567890", "6281234567890", "081234567890", "0812-3456-7890",
                                 "+62 812 3456 7890"])
def test_indonesian_numbers_are_one_customer(raw):
    assert phones.normalize(raw) == "+6281234567890"


@pytest.mark.parametrize("raw", ["TELKOMSEL", "3636", "888", "", "+", "abc123"])
def test_unanswerable_senders(raw):
    assert phones.normalize(raw) is None


@pytest.mark.parametrize("sep,rest,expected", [
    (" ", "Budi Santoso#Jl. Mawar 5", Registration("Budi Santoso", "Jl. Mawar 5", None)),
    ("#", "Budi Santoso#Jl. Mawar 5 RT 02#17-08-1990", Registration("Budi Santoso", "Jl. Mawar 5 RT 02", "17-08-1990")),
    (".", "Siti.Jl. Mawar 5.17-08-1990", Registration("Siti", "Jl. Mawar 5", "17-08-1990")),
    (" ", "Budi Santoso Jl. Mawar 5", Registration("Budi Santoso", "Jl. Mawar 5", None)),
    (" ", "Budi Santoso Gg Melati 3", Registration("Budi Santoso", "Gg Melati 3", None)),
    (" ", "Budi Santoso", Registration("Budi Santoso", None, None)),
    (",", "Budi, Jl Kenari 2", Registration("Budi", "Jl Kenari 2", None)),
    (" ", "", Registration("", None, None)),
])
def test_parse_registration(sep, rest, expected):
    assert parse_registration(sep, rest) == expected


@pytest.mark.parametrize("text,expected", [
    ("17-08-1990", date(1990, 8, 17)), ("17/8/90", date(1990, 8, 17)), ("1-1-05", date(2005, 1, 1)),
    ("31-02-1990", None), ("99-99-9999", None), ("kemarin", None), ("17-08-2990", None),
])
def test_parse_birthday(text, expected):
    assert parse_birthday(text) == expected
