"""The product catalogue: CSV checks with line numbers, fuzzy matching, import and export."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from smsd_crm.csv_io.catalog import parse_products, parse_rupiah
from smsd_crm.models import Product
from smsd_crm.understanding.catalog_match import find, resolve

from .conftest import SMSD_CRM

SAMPLE = Path(__file__).parent.parent / "smsd_crm" / "demo" / "data" / "products.csv"


def products() -> list[Product]:
    rows, errors = parse_products(SAMPLE.read_text())
    assert not errors
    return [Product(i, r.code, r.name, r.aliases, r.category, r.unit, r.price, r.cost, r.stock)
            for i, r in enumerate(rows, 1)]


@pytest.mark.parametrize("text,value", [("15000", 15000), ("15.000", 15000), ("Rp15.000", 15000),
                                        ("Rp 1.250.000", 1250000), ("15000,00", 15000), ("0", 0)])
def test_rupiah(text, value):
    assert parse_rupiah(text) == value


@pytest.mark.parametrize("text", ["15,5", "-100", "lima ribu", "1.5", "15.00", ""])
def test_bad_rupiah(text):
    with pytest.raises(ValueError):
        parse_rupiah(text)


def test_the_sample_catalogue_is_valid():
    assert len(products()) >= 25


@pytest.mark.parametrize("text,expected", [
    ("", ["line 1: the file is empty"]),
    ("code,name,harga\n", ["line 1: unknown column 'harga'", "line 1: required column 'price' is missing"]),
    ("code,name,price\nB01,Beras,10000\nB01,Beras 2,9000\n", ["line 3: code B01 is already on line 2"]),
    ("code,name,price,stock\nA,Air,1.5,1\nB,Beras,100,-1\nC,,100,\n",
     ["line 2: '1.5' is not a whole number", "line 3: stock -1 is negative", "line 4: name is missing"]),
    ("code,name,aliases,price\nA,Air,minum,1\nB,Beras,minum,2\n", ["line 3: 'minum' also names A (line 2)"]),
    ("code,name,price\nA,Air,1,extra\n", ["line 2: more fields than columns"]),
    ("code,name,price\n", ["the file has a header but no products"]),
])
def test_broken_files_name_each_line(text, expected):
    rows, errors = parse_products(text)
    assert len(errors) == len(expected)
    for error, start in zip(errors, expected):
        assert error.startswith(start)


def test_semicolons_and_excel_bom():
    rows, errors = parse_products("\ufeffcode;name;price\nA;Air;Rp3.500\n")
    assert not errors and rows[0].price == 3500


@pytest.mark.parametrize("query,code", [("B01", "B01"), ("b01", "B01"), ("gula", "G01"), ("Gula Pasir", "G01"),
                                        ("migor", "M01"), ("minyak gorng 2L", "M01"), ("telor", "T01"),
                                        ("indomie goreng", "I01"), ("gas", "L01"), ("aqua", "A01")])
def test_resolve_by_code_name_alias_and_typo(query, code):
    product, suggestions = resolve(query, products())
    assert product is not None and product.code == code, suggestions


def test_ambiguous_and_unknown():
    product, suggestions = resolve("mie", products())
    assert product is None and {p.code for p in suggestions} >= {"I01", "I02"}
    assert resolve("sepeda motor", products()) == (None, [])
    assert find("", products()) == []


def test_cli_import_is_all_or_nothing_and_export_round_trips(tmp_path):
    (tmp_path / "c.yaml").write_text("modems: []\n")
    (tmp_path / "bad.csv").write_text("code,name,price\nA,Air,3500\nB,Beras,abc\n")
    run = lambda *a: subprocess.run([SMSD_CRM, "catalog", *a, "-c", str(tmp_path / "c.yaml")],  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    bad = run("import", str(tmp_path / "bad.csv"))
    assert bad.returncode == 1 and "line 3: 'abc' is not a whole number" in bad.stderr
    assert "nothing was imported" in bad.stderr and "Traceback" not in bad.stderr
    assert run("export").stdout.strip() == "code,name,aliases,category,unit,price,cost,stock,active"
    good = run("import", str(SAMPLE))
    assert good.returncode == 0 and "30 product(s) added" in good.stdout
    exported = run("export").stdout
    rows, errors = parse_products(exported)
    assert not errors and len(rows) == 30
    again = run("import", str(SAMPLE))
    assert "0 product(s) added, 30 updated" in again.stdout
