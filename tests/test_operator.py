"""Owner and operator (issue 14): a cashier's terminal needs no owner PIN, config mistakes are named
as such, LAPORAN counts one way, STOK by name, ticket and order numbers as shown; and a demo that
matches the README (points from the seeded history, every product the examples use, web: in
config.yaml)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import smsd_crm_owner as owner

from smsd_crm import Message
from smsd_crm.config import load_config, parse_config
from smsd_crm.csv_io.catalog import parse_products
from smsd_crm.daemon import offline_session
from smsd_crm.demo.shop import seed_demo, seed_history
from smsd_crm.models import Product
from smsd_crm.storage import catalog
from smsd_crm.understanding.catalog_match import resolve

from .conftest import SMSD_CRM, write_config

OWNER = "+6281100000001"
PIN = "4321"
ROOT = Path(__file__).resolve().parent.parent


def cli(config: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "OWNER_PIN_T14"}
    return subprocess.run([SMSD_CRM, *args, "-c", str(config)], capture_output=True, text=True, timeout=60,
                          env={**environment, **(env or {})})


OWNER_SECTION = f"""\
plugins:
  owner:
    numbers: ["{OWNER}"]
    pin: {{$env: OWNER_PIN_T14}}
"""


def test_a_cashier_lists_orders_without_the_owners_pin(tmp_path):
    config = write_config(tmp_path, "/dev/null", extra=OWNER_SECTION)
    assert cli(config, "migrate").returncode == 0
    listed = cli(config, "order", "list")
    assert listed.returncode == 0, listed.stderr
    assert "0 pesanan" in listed.stdout and "invalid choice" not in listed.stderr  # the shop's language
    assert cli(config, "complaint", "list").returncode == 0
    # the daemon and check-config still insist on the PIN, and say which variable is missing
    checked = cli(config, "check-config")
    assert checked.returncode == 2
    assert "plugins.owner.pin: environment variable 'OWNER_PIN_T14' is not set" in checked.stderr
    assert cli(config, "check-config", env={"OWNER_PIN_T14": PIN}).returncode == 0


def test_a_config_mistake_is_named_not_invalid_choice(tmp_path):
    config = write_config(tmp_path, "/dev/null", extra="plugins:\n  ordr: {}\n")
    result = cli(config, "order", "list")
    assert result.returncode == 2
    assert "invalid choice" not in result.stderr
    assert str(config) in result.stderr and "ordr" in result.stderr, result.stderr
    typo = write_config(tmp_path, "/dev/null", extra="stor:\n  name: x\n", name="typo.yaml")
    result = cli(typo, "complaint", "list")
    assert result.returncode == 2 and "stor: unknown key" in result.stderr and "invalid choice" not in result.stderr


def test_ticket_and_order_numbers_as_pages_and_sms_show_them(tmp_path):
    config = write_config(tmp_path, "/dev/null")
    assert cli(config, "migrate").returncode == 0
    stamp = "2025-01-01T02:50:00+00:00"
    with sqlite3.connect(tmp_path / "data" / "test.sqlite3") as conn:
        conn.execute("INSERT INTO complaints (id, phone, state, language, opened_at) "
                     "VALUES (325, '+6281234567890', 'open', 'id', ?)", (stamp,))
        conn.execute("INSERT INTO complaint_notes (complaint_id, at, author, text) VALUES (325, ?, 'customer', 'pecah')",
                     (stamp,))
        conn.execute("INSERT INTO orders (id, phone, state, total, language, created_at, updated_at) "
                     "VALUES (12, '+6281234567890', 'new', 5000, 'id', ?, ?)", (stamp, stamp))
    conn.close()
    answered = cli(config, "complaint", "answer", "K325", "Maaf, kami ganti besok")
    assert answered.returncode == 0, answered.stderr
    assert "K325 dijawab" in answered.stdout
    shown = cli(config, "complaint", "show", "k325")
    assert shown.returncode == 0 and "dibuka 1 Jan 2025 09.50" in shown.stdout
    for number in ("#12", "12"):
        result = cli(config, "order", "show", number)
        assert result.returncode == 0 and result.stdout.startswith("#12 baru"), (number, result)
    bad = cli(config, "order", "show", "X12")
    assert bad.returncode == 2 and "invalid order number value: 'X12'" in bad.stderr


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _owner_says(text: str, clock: Clock, n: int) -> Message:
    keyword, _, args = text.partition(" ")
    command = {"LAPORAN": "report", "STOK": "stock"}[keyword]
    return Message(n, OWNER, OWNER, text, clock(), "sim1", keyword=keyword, command=command, args=args)


async def test_laporan_counts_one_way_and_stok_takes_names(tmp_path):
    settings = parse_config(f'plugins:\n  owner:\n    numbers: ["{OWNER}"]\n    pin: "{PIN}"\n', tmp_path / "c.yaml")
    clock = Clock(datetime(2025, 1, 1, 5, 0, tzinfo=timezone.utc))  # 12.00 WIB on 1 January
    async with offline_session(settings, clock, third_party=False) as (host, db):
        ctx = host.contexts["owner"]
        for state, total, at in (("new", 10_000, "2024-12-31T17:30:00+00:00"),  # 00.30 WIB today
                                 ("done", 20_000, "2025-01-01T01:00:00+00:00"),
                                 ("cancelled", 40_000, "2025-01-01T02:00:00+00:00"),
                                 ("done", 80_000, "2024-12-31T16:30:00+00:00")):  # 23.30 WIB yesterday
            await db.execute("INSERT INTO orders (phone, state, total, language, created_at, updated_at) "
                             "VALUES ('+6281234567890', ?, ?, 'id', ?, ?)", (state, total, at, at))
        for receipt, at, total in (("R1", "2024-12-31T23:30:00+00:00", 7_000), ("R2", "2024-12-31T16:30:00+00:00", 9_000)):
            await db.execute("INSERT INTO sales (receipt, phone, sold_at, total, created_at) VALUES (?, NULL, ?, ?, ?)",
                             (receipt, at, total, at))
        report = (await owner.handle_message(_owner_says(f"LAPORAN {PIN}", clock, 1), ctx)).text
        # two orders today that count (the cancelled one is in neither the count nor the total)
        assert "pesanan SMS 2 (Rp30.000)" in report, report
        assert report.startswith("Laporan 1 Jan 2025: kasir Rp7.000 (1 struk)"), report

        rows, errors = parse_products(resources.files("smsd_crm.demo").joinpath("data/products.csv")
                                      .read_text(encoding="utf-8"))
        assert not errors
        await catalog.import_rows(db, rows, clock())
        by_name = await owner.handle_message(_owner_says(f"STOK {PIN} gula pasir 40", clock, 2), ctx)
        assert by_name.text == "Stok G01 (Gula Pasir 1kg) sekarang 40."
        by_code = await owner.handle_message(_owner_says(f"STOK {PIN} b01 12", clock, 3), ctx)
        assert by_code.text == "Stok B01 (Beras Premium 5kg) sekarang 12."
        # a size in words chooses the pack, as HARGA reads it (it was "not found")
        sized = await owner.handle_message(_owner_says(f"STOK {PIN} minyak 2 liter 15", clock, 5), ctx)
        assert sized.text == "Stok M01 (Minyak Goreng 2L) sekarang 15."
        unknown = await owner.handle_message(_owner_says(f"STOK {PIN} durian 3", clock, 4), ctx)
        assert unknown.text == "Barang durian tidak ditemukan."


def test_every_product_the_readme_names_is_in_the_demo_catalogue():
    rows, errors = parse_products(resources.files("smsd_crm.demo").joinpath("data/products.csv")
                                  .read_text(encoding="utf-8"))
    assert not errors
    codes = {r.code for r in rows}
    text = (ROOT / "README.md").read_text() + (ROOT / "docs" / "customers-texting.md").read_text()
    named = set(re.findall(r"PESAN#([A-Z]\d\d)#\d+#([A-Z]\d\d)", text)[0]) | set(re.findall(r"STOK \d+ ([A-Z]\d\d)", text))
    assert named and named <= codes, named - codes
    products = [Product(i, r.code, r.name, tuple(r.aliases), r.category, r.unit, r.price, r.cost, r.stock, r.active)
                for i, r in enumerate(rows, start=1)]
    # the README's words still mean one product each, G02 beside G01 included
    for word, code in (("gula", "G01"), ("beras", "B01"), ("telor", "T01"), ("terigu", "T02"), ("migor", "M01"),
                       ("odol", "P03"), ("galon", "A02"), ("gula merah", "G02"), ("G02", "G02")):
        meant, _ = resolve(word, products)
        assert meant is not None and meant.code == code, word


def test_config_yaml_shows_the_web_address():
    text = (ROOT / "config.yaml").read_text()
    assert re.search(r"^web:\n  host: 127\.0\.0\.1 +#.+\n  port: 8080 +#", text, re.MULTILINE)
    settings = load_config(ROOT / "config.yaml")
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8080)


async def test_the_seeded_customers_have_the_points_their_history_earned(tmp_path):
    settings = parse_config("database: {path: demo.sqlite3}\n", tmp_path / "c.yaml")
    await seed_demo(settings)
    counts = await seed_history(settings, years=1, customers=40, end=datetime.now(timezone.utc).date())
    assert counts["points_ledger"] > 0
    with sqlite3.connect(settings.database.path) as conn:
        earned = dict(conn.execute("SELECT phone, SUM(delta) FROM points_ledger WHERE delta > 0 GROUP BY phone"))
        rule = dict(conn.execute(
            "SELECT phone, SUM(p) FROM (SELECT phone, total / 1000 AS p FROM orders WHERE state = 'done' UNION ALL "
            "SELECT phone, total / 1000 FROM sales WHERE phone IS NOT NULL) WHERE p > 0 GROUP BY phone"))
        balances = [b for (b,) in conn.execute("SELECT SUM(delta) FROM points_ledger GROUP BY phone")]
    conn.close()
    assert earned == rule  # the points plugin's own rule: one point per Rp1.000 of a done order or a sale
    assert sum(1 for b in balances if b > 0) >= len(balances) // 2  # most still hold points (expiry after 365 days)
    # loading again adds nothing (each purchase earns once)
    async with offline_session(settings) as (host, _):
        import smsd_crm_points as points
        assert await points.earn_from_history(host.contexts["points"]) == 0
