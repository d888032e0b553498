"""Till sales import: line-numbered errors and nothing imported, no receipt twice, points earned once."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from .conftest import SMSD_CRM

SAMPLE = Path(__file__).parent.parent / "smsd_crm" / "demo" / "data" / "products.csv"
GOOD = """receipt,date,phone,code,quantity,price
R-0001,2026-11-20 14:05,081234567890,B01,1,
R-0001,2026-11-20 14:05,081234567890,G01,2,17.500
R-0002,20-11-2026 15:10,,T01,1,
"""


def run(tmp_path, *args):
    return subprocess.run([SMSD_CRM, *args, "-c", str(tmp_path / "c.yaml")], capture_output=True, text=True,
                          timeout=60)


def setup_shop(tmp_path):
    (tmp_path / "c.yaml").write_text("database: {path: shop.sqlite3}\nmodems: []\n")
    assert run(tmp_path, "catalog", "import", str(SAMPLE)).returncode == 0


def test_import_once_and_points_for_known_customers(tmp_path):
    setup_shop(tmp_path)
    (tmp_path / "sales.csv").write_text(GOOD)
    first = run(tmp_path, "sales", "import", str(tmp_path / "sales.csv"))
    assert first.returncode == 0, first.stderr
    assert "2 sale(s) imported, 0 already there" in first.stdout
    again = run(tmp_path, "sales", "import", str(tmp_path / "sales.csv"))
    assert "0 sale(s) imported, 2 already there" in again.stdout
    db = sqlite3.connect(tmp_path / "shop.sqlite3")
    assert db.execute("SELECT receipt, phone, total, sold_at FROM sales ORDER BY receipt").fetchall() == [
        ("R-0001", "+6281234567890", 78000 + 35000, "2026-11-20T07:05:00+00:00"),  # 14:05 WIB, stored in UTC
        ("R-0002", None, 29000, "2026-11-20T08:10:00+00:00")]
    assert db.execute("SELECT code, quantity, price, cost FROM sale_lines ORDER BY sale_id, line").fetchall() == [
        ("B01", 1, 78000, 71000), ("G01", 2, 17500, 16200), ("T01", 1, 29000, 26500)]
    assert db.execute("SELECT phone, delta, reason FROM points_ledger").fetchall() == [
        ("+6281234567890", 113, "till")]  # once, although imported twice; none without a phone


def test_a_broken_file_names_each_line_and_imports_nothing(tmp_path):
    setup_shop(tmp_path)
    (tmp_path / "bad.csv").write_text(
        "receipt,date,phone,code,quantity,price\n"
        "R-1,2026-11-20,081234567890,B01,1,\n"
        "R-2,kemarin,,B01,1,\n"
        "R-3,2026-11-20,12,B01,1,\n"
        "R-4,2026-11-20,,XX9,1,\n"
        "R-5,2026-11-20,,B01,0,\n"
        "R-6,2026-11-20,,B01,1,gratis\n"
        "R-1,2026-11-21,081234567890,G01,1,\n")
    bad = run(tmp_path, "sales", "import", str(tmp_path / "bad.csv"))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    for expected in ("line 3: date 'kemarin'", "line 4: phone '12'", "line 5: code 'XX9' is not in the catalogue",
                     "line 6: quantity '0'", "line 7: 'gratis' is not a whole number",
                     "line 8: receipt R-1 has another date or phone on line 2", "nothing was imported"):
        assert expected in bad.stderr, bad.stderr
    db = sqlite3.connect(tmp_path / "shop.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM sales").fetchone() == (0,)
