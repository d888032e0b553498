"""Registration fields (issue 12): every way customers separate name, address and birthday,
and names tidied for the greeting in every reply and promotion. Pure functions, no event loop."""

from __future__ import annotations

from datetime import date

import pytest

from smsd_crm import Registration, parse_birthday, parse_registration, parse_update, person_name, split_keyword


def read(sms: str) -> Registration:
    """What a whole SMS registers, as the plugin reads it."""
    _, separator, rest = split_keyword(sms)
    return parse_registration(separator, rest)


@pytest.mark.parametrize("sms,name,address", [
    # reported in issue 12: the separator stayed in the name, or the address or labels went into it
    ("DAFTAR Ani, Jl. Kenanga 3", "Ani", "Jl. Kenanga 3"),
    ("REG Siti Aminah.Jl. Kenanga 3", "Siti Aminah", "Jl. Kenanga 3"),
    ("reg nama siti alamat jl melati 9", "Siti", "jl melati 9"),
    # what customers text
    ("DAFTAR Teguh. Jl. Diponegoro Gg. Masjid 2", "Teguh", "Jl. Diponegoro Gg. Masjid 2"),
    ("daftar Putri#jl. sakura 9", "Putri", "jl. sakura 9"),
    ("DAFTAR#Lina#Jl. Cendana 8", "Lina", "Jl. Cendana 8"),
    ("reg nama budi alamat jl mawar 5", "Budi", "jl mawar 5"),
    ("DAFTAR Andi Saputra Jl. Gatot Subroto 15", "Andi Saputra", "Jl. Gatot Subroto 15"),
    ("reg Fitri#Perum Puri Indah A3", "Fitri", "Perum Puri Indah A3"),
    ("Daftar nama: Nur, alamat: Jl. Cemara No 6", "Nur", "Jl. Cemara No 6"),
    ("daftar Ratna#jl. kemuning 4", "Ratna", "jl. kemuning 4"),
    ("Daftar Sri Wahyuni#Jl. Kenari 11", "Sri Wahyuni", "Jl. Kenari 11"),
    ("DAFTAR budi santoso", "Budi Santoso", None),
    ("DAFTAR Ahmad bin Abdullah#Jl. X 1", "Ahmad bin Abdullah", "Jl. X 1"),
    ("DAFTAR siti binti hasan", "Siti binti Hasan", None),
    ("DAFTAR Budi;Jl. Mawar 5", "Budi", "Jl. Mawar 5"),
    ("DAFTAR nama=Budi alamat=Jl. Mawar 5", "Budi", "Jl. Mawar 5"),
    ("DAFTAR nama Budi almt Jl. Mawar 5", "Budi", "Jl. Mawar 5"),
    ("DAFTAR nama saya Budi alamat di Jl. Mawar 5", "Budi", "Jl. Mawar 5"),
    ("DAFTAR Budi alamat: Jl. Mawar 5", "Budi", "Jl. Mawar 5"),
    ("DAFTAR alamat Jl. Mawar 5 nama Budi", "Budi", "Jl. Mawar 5"),
    ("REGISTER name Ann Lee address Main Street 5", "Ann Lee", "Main Street 5"),
    ("REGISTER Ann Lee#Main Street 5", "Ann Lee", "Main Street 5"),
    ("REG.Budi.Jl Mawar 5", "Budi", "Jl Mawar 5"),
    ("DAFTAR,Budi,Jl Kenari 2", "Budi", "Jl Kenari 2"),
    ("DAFTAR Budi Santoso. Mawar 5", "Budi Santoso", "Mawar 5"),
    ("DAFTAR Budi - Mawar 5", "Budi", "Mawar 5"),
    ("DAFTAR Budi#Jl. Mawar 5#RT 02", "Budi", "Jl. Mawar 5 RT 02"),
    ("DAFTAR siti aminah ,,", "Siti Aminah", None),
    # an initial or a short form with a dot is part of the name; a dot after a word ends it
    ("DAFTAR A. Yani Jl. Merdeka 5", "A. Yani", "Jl. Merdeka 5"),
    ("DAFTAR Muh. Rizki#Jl. Mawar 2", "Muh. Rizki", "Jl. Mawar 2"),
    ("DAFTAR Hj. Siti Aminah.Jl. Kenanga 3", "Hj. Siti Aminah", "Jl. Kenanga 3"),
    ("DAFTAR o'neil#Jl. Mawar 2", "O'Neil", "Jl. Mawar 2"),
    # a label word right after an address word is a street name
    ("DAFTAR Budi#Jl. Nama Baru 5", "Budi", "Jl. Nama Baru 5"),
])
def test_name_and_address(sms, name, address):
    reg = read(sms)
    assert (reg.name, reg.address) == (name, address)


def test_free_wording_before_the_fields():
    # "mau daftar kak, nama Eko alamat Jl. Beringin 3": the keyword found further in, args after it
    assert parse_registration(" ", "kak, nama Eko alamat Jl. Beringin 3") == Registration(
        "Eko", "Jl. Beringin 3", None)
    assert parse_registration(" ", "kak, Eko, Jl. Beringin 3") == Registration("Eko", "Jl. Beringin 3", None)


@pytest.mark.parametrize("sms,expected", [
    ("DAFTAR Budi\nJl. Mawar 5\n17-08-1990", Registration("Budi", "Jl. Mawar 5", "17-08-1990")),
    ("DAFTAR Budi Santoso#Jl. Mawar 5 RT 02#17-08-1990", Registration("Budi Santoso", "Jl. Mawar 5 RT 02",
                                                                      "17-08-1990")),
    ("DAFTAR Budi#Jl. Mawar 5#17.08.1990", Registration("Budi", "Jl. Mawar 5", "17.08.1990")),
    ("DAFTAR Budi Jl. Mawar 5 17/8/90", Registration("Budi", "Jl. Mawar 5", "17/8/90")),
    ("Reg.Siti.Jl. Mawar 5.17-08-1990", Registration("Siti", "Jl. Mawar 5", "17-08-1990")),
    ("DAFTAR nama: Budi; alamat: Jl. Mawar 5; tgl lahir: 17-08-1990",
     Registration("Budi", "Jl. Mawar 5", "17-08-1990")),
    ("DAFTAR nama Budi alamat Jl. Mawar 5 lahir 17-08-1990", Registration("Budi", "Jl. Mawar 5", "17-08-1990")),
    ("DAFTAR Budi#Jl. Mawar 5#ttl: Solo, 17-08-1990", Registration("Budi", "Jl. Mawar 5", "17-08-1990")),
    ("DAFTAR Budi#Jl. Mawar 5#lahir kemarin", Registration("Budi", "Jl. Mawar 5", "kemarin")),  # to be refused
    ("REGISTER name Ann Lee address Main Street 5 birthday 31-12-1990",
     Registration("Ann Lee", "Main Street 5", "31-12-1990")),
    ("DAFTAR", Registration("", None, None)),
    ("DAFTAR 😀😀", Registration("", None, None)),
])
def test_birthdays_and_empty_names(sms, expected):
    assert read(sms) == expected


@pytest.mark.parametrize("raw,expected", [
    ("siti aminah ,,", "Siti Aminah"), ("BUDI SANTOSO", "Budi Santoso"), ("  budi   santoso  ", "Budi Santoso"),
    ("Ani,", "Ani"), ("Teguh.", "Teguh"), ('"Budi"', "Budi"), ("(Budi)!!", "Budi"),
    ("ahmad bin abdullah", "Ahmad bin Abdullah"), ("SITI BINTI HASAN", "Siti binti Hasan"),
    ("jan van der berg", "Jan van der Berg"), ("bin laden", "Bin Laden"),  # a particle first is a name
    ("muh. rizki", "Muh. Rizki"), ("a. yani", "A. Yani"), ("budi s.", "Budi S."), ("m.rizki", "M.Rizki"),
    ("o'neil", "O'Neil"), ("ma'ruf amin", "Ma'ruf Amin"), ("syafi'i", "Syafi'i"), ("O\u2019NEIL", "O'Neil"),
    ("nur-aini", "Nur-Aini"), ("budi santoso s.pd.", "Budi Santoso S.Pd"),
    ("hamengkubuwono x", "Hamengkubuwono X"), ("sultan hamengkubuwono ix", "Sultan Hamengkubuwono IX"),
    ("Siti 🌸", "Siti"), ("😀😀", ""), ("#,.;", ""), ("", ""), ("budi,santoso", "Budi Santoso"),
    ("Ιωάννης", "Ιωάννης"), ("bağış", "Bağış"),
])
def test_person_name(raw, expected):
    assert person_name(raw) == expected


@pytest.mark.parametrize("args,expected", [
    ("NAMA siti aminah", ("name", "Siti Aminah")),
    ("nama: siti aminah,", ("name", "Siti Aminah")),
    ("NAMA=budi s.", ("name", "Budi S.")),
    ("NAME ann lee", ("name", "Ann Lee")),
    ("ALAMAT ke Perum Puri Indah B7", ("address", "Perum Puri Indah B7")),
    ("ALAMAT Perum Puri Indah B7", ("address", "Perum Puri Indah B7")),
    ("alamat: X", ("address", "X")),
    ("alamat saya jadi Jl. Kenanga 3.", ("address", "Jl. Kenanga 3")),
    ("ADDRESS to Elm Street 9", ("address", "Elm Street 9")),
    ("LAHIR 17-08-1985", ("birthday", "17-08-1985")),
    ("TGL LAHIR 17-08-1985", ("birthday", "17-08-1985")),
    ("tgl. lahir: 17/8/85", ("birthday", "17/8/85")),
    ("BIRTHDAY 99-99-1999", ("birthday", "99-99-1999")),
    ("NAMA", ("name", "")),
    ("NAMA 😀", ("name", "")),
    ("HP 0812", (None, "")),
    ("", (None, "")),
])
def test_parse_update(args, expected):
    assert parse_update(args) == expected


@pytest.mark.parametrize("text,expected", [
    ("17-08-1990", date(1990, 8, 17)), ("17/8/90", date(1990, 8, 17)), ("17.08.1990", date(1990, 8, 17)),
    ("31-02-1990", None), ("kemarin", None),
])
def test_parse_birthday(text, expected):
    assert parse_birthday(text) == expected
