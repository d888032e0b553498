"""The owner's dashboards on a big shop: 3 years x 20,000 customers x ~1,000,000 order lines.

(1) generate and load the history (`smsd-crm seed-demo` does the same);
(2) each view's data: the time of one refresh of its server-side Bokeh Document (the SQL, the
    analytics and filling the models): the first (model fits included), right after a new SMS
    order (the live path), and warm (median of --repeat runs);
(3) first render: `smsd-crm run` on that database, Debian's chromium logs in as the owner and opens
    each view; the time from navigation to the first complete chart (the view's revision marker).

Usage: .venv/bin/python bench/dashboards.py [--customers 20000] [--years 3] [--repeat 3] [--no-browser]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

from bokeh.document import Document
from smsd_crm.demo.history import generate
from smsd_crm.demo.history_load import load_history
from smsd_crm_dashboards.views import builtin_views

from smsd_crm_dashboards.data import DashboardData
from smsd_crm.config import parse_config
from smsd_crm.csv_io.catalog import parse_products
from smsd_crm.daemon import offline_session
from smsd_crm.storage import catalog
from smsd_crm_dashboards.readonly import ReadOnlyDatabase
from smsd_crm_dashboards.documents import DocumentHub

ROOT = Path(__file__).parent.parent
SMSD_CRM = str(Path(sys.executable).parent / "smsd-crm")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


async def build(folder: Path, customers: int, years: float) -> Path:
    config = folder / "config.yaml"
    config.write_text("store: {name: Toko Bench}\ndatabase: {path: bench.sqlite3}\nmodems: []\nweb: {port: 0}\n"
                      "logging: {level: INFO}\nplugins_dir: null\n")
    settings = parse_config(config.read_text(), config)
    async with offline_session(settings, third_party=False) as (_, db):
        rows, _ = parse_products((ROOT / "smsd_crm" / "demo" / "data" / "products.csv").read_text())
        await catalog.import_rows(db, rows, datetime.now(timezone.utc))
        products = [dict(id=p.id, code=p.code, name=p.name, category=p.category, price=p.price, cost=p.cost)
                    for p in await catalog.all_products(db)]
    started = time.perf_counter()
    history = generate(products, customers=customers, years=years, end=date.today(), seed=1)
    generated = time.perf_counter()
    counts = load_history(settings.database.path, history, datetime.now(timezone.utc).isoformat())
    loaded = time.perf_counter()
    print(f"history: {counts['order_lines'] + counts['sale_lines']:,} order lines "
          f"({counts['order_lines']:,} SMS, {counts['sale_lines']:,} till), {counts['orders']:,} orders, "
          f"{counts['sales']:,} sales, {counts['customers']:,} customers; generated in {generated - started:.1f} s, "
          f"loaded in {loaded - generated:.1f} s")
    return config


def _new_order(path: str, n: int) -> None:
    """One SMS order with two lines, as the order plugin writes it (one transaction)."""
    import sqlite3
    conn = sqlite3.connect(path)
    with conn:
        cur = conn.execute("INSERT INTO orders (phone, state, total, language, created_at, updated_at) VALUES "
                           "(?, 'new', 174000, 'id', datetime('now'), datetime('now'))", (f"+628130000{n:04d}",))
        for line, (code, price) in enumerate((("B01", 78000), ("M01", 96000)), 1):
            conn.execute("INSERT INTO order_lines (order_id, line, product_id, code, name, quantity, price, cost) "
                         "SELECT ?, ?, id, code, name, 1, ?, cost FROM products WHERE code = ?",
                         (cur.lastrowid, line, price, code))
    conn.close()


async def view_data(config: Path, repeat: int) -> None:
    settings = parse_config(config.read_text(), config)
    path = str(settings.database.path)
    data = DashboardData(ReadOnlyDatabase(path))
    started = time.perf_counter()
    await data.purchases()
    loaded = time.perf_counter()
    await data.lines()
    done = time.perf_counter()
    print(f"purchase arrays loaded in {1000 * (loaded - started):.0f} ms, line arrays in {1000 * (done - loaded):.0f} ms "
          "(once, in the background at start-up)")
    _new_order(path, 0)
    started = time.perf_counter()
    await data.purchases()
    await data.lines()
    print(f"both extended after one new SMS order in {1000 * (time.perf_counter() - started):.0f} ms")
    print(f"{'view':<12} {'first':>9} {'after a new order':>18} {'warm (median of %d)' % repeat:>21}")
    for number, view in enumerate(builtin_views(), 1):
        times = []
        for i in range(repeat + 2):
            if i == 1:
                _new_order(path, number)  # the live path: arrays extended, the view's results recomputed
            refresh = view.make(Document(), data, DocumentHub())
            started = time.perf_counter()
            await refresh()
            times.append(time.perf_counter() - started)
        print(f"{view.name:<12} {1000 * times[0]:>6.0f} ms {1000 * times[1]:>15.0f} ms "
              f"{1000 * statistics.median(times[2:]):>18.0f} ms")


async def first_render(config: Path) -> None:
    from playwright.async_api import async_playwright

    subprocess.run([SMSD_CRM, "user", "add", "pemilik", "--role", "owner", "--password-stdin", "-c", str(config)],
                   input="kopi-susu-gula-7391\n", text=True, check=True, capture_output=True)
    log = config.parent / "daemon.log"
    with open(log, "w") as out:
        daemon = subprocess.Popen([SMSD_CRM, "run", "-c", str(config)], stdout=out, stderr=out,
                                  env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        deadline = time.monotonic() + 60
        while not (m := re.search(r"web pages on (http://127\.0\.0\.1:\d+)/", log.read_text())):
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise SystemExit("the daemon did not start:\n" + log.read_text()[-2000:])
            await asyncio.sleep(0.2)
        base = m.group(1)
        started = time.perf_counter()
        while "dashboards ready in" not in log.read_text():  # the daemon computes every view at start-up
            if time.perf_counter() - started > 120:
                raise SystemExit("the dashboards did not warm up:\n" + log.read_text()[-2000:])
            await asyncio.sleep(0.2)
        print(re.search(r"dashboards ready in [\d.]+ s", log.read_text()).group(0) + " after start-up")
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
            await page.goto(f"{base}/login")
            await page.fill("input[name=username]", "pemilik")
            await page.fill("input[name=password]", "kopi-susu-gula-7391")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/")
            print(f"{'view':<12} {'first chart':>12}")
            for view in builtin_views():
                started = time.perf_counter()
                await page.goto(f"{base}/dash/{view.name}")
                await page.wait_for_function("() => window.Bokeh && Bokeh.documents.length && "
                                             "Number(Bokeh.documents[0].get_model_by_name('revision').text) >= 1",
                                             timeout=120000)
                print(f"{view.name:<12} {1000 * (time.perf_counter() - started):>9.0f} ms")
            await browser.close()
    finally:
        daemon.terminate()
        daemon.wait(30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--years", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = await build(Path(folder), args.customers, args.years)
        await view_data(config, args.repeat)
        if not args.no_browser:
            await first_render(config)


if __name__ == "__main__":
    asyncio.run(main())
