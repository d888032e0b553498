"""CSV for spreadsheets: what a customer typed never runs as a formula; numbers stay numbers; a
download's name never breaks its header."""

import csv
import io

from smsd_crm.csv_io.writing import attachment, spreadsheet_safe, to_csv


def test_formula_cells_become_text_and_data_stays_as_it_was():
    for hostile in ('=HYPERLINK("http://x.example")', "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "\t=1", "\r=1"):
        assert spreadsheet_safe(hostile) == "'" + hostile
    for data in ("+6281234567890", "-12.500", "Bu Siti", "", "2026-11", 5, -3.5, None):
        assert spreadsheet_safe(data) == data


def test_to_csv_quotes_and_protects_every_text_cell():
    text = to_csv(["name", "note"], [['=1+1', 'a,"b"\nc'], ["+62812", 7]])
    assert list(csv.reader(io.StringIO(text))) == [["name", "note"], ["'=1+1", 'a,"b"\nc'], ["+62812", "7"]]


def test_attachment_names_are_one_safe_header_line():
    assert attachment("sales.csv") == "attachment; filename=\"sales.csv\"; filename*=UTF-8''sales.csv"
    for name in ("a\nb.csv", "a\rb.csv", "a\u2028b.csv", 'a";x=1.csv', "\x00.csv"):
        value = attachment(name)
        assert value.isprintable() and value.count('"') == 2 and ";x=1" not in value.split("filename*")[0]
    assert attachment("\n") == "attachment; filename=\"download\"; filename*=UTF-8''download"
