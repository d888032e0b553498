"""The owner's dashboards on a big shop: 3 years x 20,000 customers x ~1,000,000 order lines.

(1) generate and load the history (`smsd-crm seed-demo` does the same);
(2) each view's data: the time of one refresh of its server-side Bokeh Document (the SQL, the
    analytics and filling the models): the first (model fits included), right after a new SMS
    order (the live path), and warm (median of --repeat runs);
(3) the live shop: `smsd-crm run` on that database with --modems emulated modems and the dashboards
    worker started with it; Debian's chromium logs in as the owner and opens every view in a tab of
    its own: the time from navigation to the first complete chart (the view's revision marker);
(4) then SMS arrive at --rate per second for --seconds (one in five an SMS order from a registered
    customer, so every open view refreshes; one tab reloaded every --reload-every s): the reply
    latency (SIM storage to the whole reply accepted by the emulated modem), the daemon's event loop
    lag over the last minute (its own probe, from the database), and the resident memory of the
    daemon and the dashboards worker idle, with every view open and under load.

Usage: .venv/bin/python bench/dashboards.py [--customers 20000] [--years 3] [--repeat 3] [--no-browser]
       [--no-data] [--browser-nice 19] [--keep DIR] [--modems 8] [--rate 20] [--seconds 60] [--reload-every 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from smsd_crm_dashboards.cpus import allowed, split
from smsd_crm_dashboards.data import DashboardData
from smsd_crm_dashboards.documents import DocumentHub
from smsd_crm_dashboards.readonly import ReadOnlyDatabase
from smsd_crm_dashboards.views import builtin_views
from traffic import own_lag, percentile

from smsd_crm.config import parse_config
from smsd_crm.csv_io.catalog import parse_products
from smsd_crm.daemon import offline_session
from smsd_crm.demo.history import generate
from smsd_crm.demo.history_load import load_history
from smsd_crm.storage import catalog

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
    data = DashboardData(ReadOnlyDatabase(path), told=True)  # told of each order, as in the worker
    started = time.perf_counter()
    await data.purchases()
    loaded = time.perf_counter()
    await data.lines()
    done = time.perf_counter()
    print(f"purchase arrays loaded in {1000 * (loaded - started):.0f} ms, line arrays in {1000 * (done - loaded):.0f} ms "
          "(once, in the background at start-up)")
    _new_order(path, 0)
    data.changed()  # the daemon's change notice
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
                data.changed()
            refresh = view.make(Document(), data, DocumentHub())
            started = time.perf_counter()
            await refresh()
            times.append(time.perf_counter() - started)
        print(f"{view.name:<12} {1000 * times[0]:>6.0f} ms {1000 * times[1]:>15.0f} ms "
              f"{1000 * statistics.median(times[2:]):>18.0f} ms")


def _memory(pid: int | None) -> str:
    """Resident memory now and at its peak (Linux /proc), in MB."""
    if pid is None:
        return "not running"
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    except OSError:
        return "gone"
    mb = {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}
    return f"{mb['VmRSS']:.0f} MB resident (peak {mb['VmHWM']:.0f} MB)"


def _renice_browser(nice: int) -> None:
    """Lower the priority of chromium, of playwright's driver (which receives every websocket frame
    of every tab from chromium) and of this process (which drives the tabs; the phones and modems
    are another process, bench/traffic.py): they stand for the owner's phone, not programs on the
    shop PC. Every thread: nice(1) is a thread's on Linux, and chromium's raster and compositor
    threads do much of its work. With two CPUs or more they also leave the daemon's CPU alone (the
    phone is another device; here they share the worker's CPUs instead, dashboards.own_cpu)."""
    spare = split(allowed())
    pids = [os.getpid()]
    for status in Path("/proc").glob("[0-9]*/comm"):
        try:
            if status.read_text().strip() in ("chromium", "chrome", "node") or \
                    "playwright" in (status.parent / "cmdline").read_text():
                pids.append(int(status.parent.name))
        except (OSError, ValueError):
            pass
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                os.setpriority(os.PRIO_PROCESS, int(task.name), nice)
                if spare:
                    os.sched_setaffinity(int(task.name), spare[1])
            except (OSError, ValueError):
                pass


def _latency(times: list[float]) -> str:
    return (f"p50 {1000 * percentile(times, 50):.0f} ms, p99 {1000 * percentile(times, 99):.0f} ms, "
            f"max {1000 * max(times):.0f} ms")


async def live_shop(config: Path, modems: int, rate: float, seconds: float, reload_every: float,
                    browser_nice: int) -> None:
    """`smsd-crm run` on the big database with emulated modems; every view open in chromium (one tab
    each, one reloaded every ``reload_every`` s); SMS at ``rate``/s for ``seconds`` s, one in five an
    SMS order from a registered customer (so every open dashboard refreshes as in a shop)."""
    import sqlite3

    from harness import until
    from playwright.async_api import async_playwright

    folder = config.parent
    added = subprocess.run([SMSD_CRM, "user", "add", "pemilik", "--role", "owner", "--password-stdin", "-c",
                            str(config)], input="kopi-susu-gula-7391\n", text=True, capture_output=True)
    if added.returncode and "already exists" not in added.stderr:  # a shop kept by an earlier run has it
        raise SystemExit(f"smsd-crm user add: {added.stderr.strip()}")
    # The phones and modems in a process of their own (bench/traffic.py): they answer the daemon on
    # time whatever this process is doing with chromium's tabs.
    traffic = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "bench" / "traffic.py"), str(folder),
                                                   str(modems), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                   limit=1 << 24)
    devices = json.loads(await traffic.stdout.readline())["modems"]
    live = folder / "live.yaml"
    live.write_text(config.read_text().replace("modems: []\n", "modems:\n" + "".join(
        f"  - {{id: {modem_id}, port: {device}}}\n" for modem_id, device in devices)) +
        "dashboards: {start: at_startup}\n")
    with sqlite3.connect(folder / "bench.sqlite3") as conn:
        customers = [r[0] for r in conn.execute("SELECT phone FROM customers ORDER BY id")]
    log = folder / "daemon.log"
    with open(log, "w") as out:
        daemon = subprocess.Popen([SMSD_CRM, "run", "-c", str(live)], stdout=out, stderr=out,
                                  env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        await until(lambda: "web pages on" in log.read_text() or daemon.poll() is not None, 120, "daemon start")
        if daemon.poll() is not None:
            raise SystemExit("the daemon did not start:\n" + log.read_text()[-2000:])
        base = re.search(r"web pages on (http://127\.0\.0\.1:\d+)/", log.read_text()).group(1)
        started = time.perf_counter()
        await until(lambda: "dashboards ready in" in log.read_text(), 600, "the dashboards worker's warm-up")
        print(re.search(r"dashboards ready in [\d.]+ s", log.read_text()).group(0) + " (the worker, started with "
              f"the daemon; {time.perf_counter() - started:.1f} s after the web pages)")
        worker = int(re.findall(r"dashboards worker started \(pid (\d+)", log.read_text())[-1])
        print(f"idle, no browser: daemon {_memory(daemon.pid)}; worker {_memory(worker)}")

        runs = folder / "runs"  # how many live runs this shop saw (a shop kept by --keep is used again)
        salt = int(runs.read_text()) + 1 if runs.exists() else 0
        runs.write_text(str(salt))
        salt %= 1000

        async def arrive(rate: float, seconds: float, phase: int, tabs: list, reload_every: float) -> dict:
            """SMS at ``rate`` per second, spread over the modems, one in five an order, while one tab
            is reloaded every ``reload_every`` s; the reply times and the traffic process's own lag."""
            sms = []
            for i in range(int(rate * seconds)):
                # Senders differ from run to run: a shop kept by --keep answers the same text from the
                # same number only once in 10 minutes.
                if i % 5 == 4 and customers:
                    first = salt * 5000 + phase * 2500  # at most 2,500 orders in a phase
                    sms.append([customers[(first + i // 5) % len(customers)], "PESAN beras 1"])
                else:
                    sms.append([f"+628{13 + phase}{salt:03d}{i:05d}", ("INFO", "HARGA gula")[i % 2]])
            traffic.stdin.write((json.dumps({"rate": rate, "sms": sms}) + "\n").encode())
            answered = asyncio.get_running_loop().create_task(traffic.stdout.readline())
            reloads, next_reload = [], time.perf_counter() + reload_every
            while tabs and not answered.done():  # the owner pulls to refresh one view now and then
                await asyncio.wait([answered], timeout=max(0.0, next_reload - time.perf_counter()))
                if not answered.done():
                    reloads.append(asyncio.get_running_loop().create_task(tabs[len(reloads) % len(tabs)].reload()))
                    next_reload += reload_every
            line = await answered
            if not line:
                raise SystemExit("the traffic process ended")
            await asyncio.gather(*reloads, return_exceptions=True)
            return json.loads(line)

        times = (await arrive(rate, min(seconds, 20), 0, [], reload_every))["times"]
        print(f"{len(times)} SMS at {rate:g}/s over {min(seconds, 20):g} s ({len(times) // 5} orders), no dashboard "
              f"open: reply latency {_latency(times)}")
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            revision = ("() => window.Bokeh && Bokeh.documents.length && "
                        "Number(Bokeh.documents[0].get_model_by_name('revision').text)")
            print(f"{'view':<12} {'first chart':>12}")
            tabs = []
            for view in builtin_views():
                # A browser profile of its own per view: a browser opens at most 6 connections to one
                # site and every open page holds one (its /live poll), so a 7th tab would wait.
                context = await browser.new_context(viewport={"width": 1280, "height": 900})
                tab = await context.new_page()
                await tab.goto(f"{base}/login")
                await tab.fill("input[name=username]", "pemilik")
                await tab.fill("input[name=password]", "kopi-susu-gula-7391")
                await tab.click("button[type=submit]")
                await tab.wait_for_url(f"{base}/")
                started = time.perf_counter()
                await tab.goto(f"{base}/dash/{view.name}")
                await tab.wait_for_function(f"() => ({revision})() >= 1", timeout=300000)
                print(f"{view.name:<12} {1000 * (time.perf_counter() - started):>9.0f} ms")
                tabs.append(tab)
            print(f"every view open: daemon {_memory(daemon.pid)}; worker {_memory(worker)}")
            if browser_nice:
                _renice_browser(browser_nice)

            before = [await t.evaluate(f"() => ({revision})()") for t in tabs]
            own = asyncio.get_running_loop().create_task(own_lag(lags := []))
            result = await arrive(rate, seconds, 1, tabs, reload_every)
            times = result["times"]
            own.cancel()
            after = [await t.evaluate(f"() => ({revision})()") for t in tabs]
            print(f"{len(times)} SMS at {rate:g}/s over {seconds:g} s ({len(times) // 5} orders), {modems} modems, "
                  f"every view open, one tab reloaded every {reload_every:g} s: reply latency {_latency(times)}")
            print("dashboard refreshes during it: " + ", ".join(
                f"{v.name} {(a or 0) - (b or 0):+d}" for v, a, b in zip(builtin_views(), after, before)) +
                " (reloaded tabs restart at 1)")
            print(f"under load: daemon {_memory(daemon.pid)}; worker {_memory(worker)}")
            print(f"the emulated modems' process's own event loop lag meanwhile: max {1000 * result['lag_max']:.0f} "
                  f"ms, p99 {1000 * result['lag_p99']:.0f} ms; this benchmark's (it drives chromium): "
                  f"max {1000 * max(lags, default=0):.0f} ms, p99 {1000 * percentile(lags or [0], 99):.0f} ms")
            await browser.close()
        lag = sqlite3.connect(folder / "bench.sqlite3").execute(
            "SELECT loop_lag_max_ms, loop_lag_p99_ms, samples FROM daemon_status").fetchone()
        print(f"daemon event loop lag over the last minute: max {lag[0]:.0f} ms, p99 {lag[1]:.0f} ms "
              f"({lag[2]} samples)")
    finally:
        daemon.terminate()
        daemon.wait(60)
        traffic.stdin.close()
        await asyncio.wait_for(traffic.wait(), 30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--years", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true", help="only the views' data, in this process")
    parser.add_argument("--no-data", action="store_true", help="only the live shop, not each view's data")
    parser.add_argument("--modems", type=int, default=8, help="emulated modems of the live shop")
    parser.add_argument("--rate", type=float, default=20, help="SMS per second while every view is open")
    parser.add_argument("--seconds", type=float, default=60, help="how long they arrive (the loop lag window is 60 s)")
    parser.add_argument("--reload-every", type=float, default=5, help="seconds between reloads of one tab")
    parser.add_argument("--browser-nice", type=int, default=0, help="run chromium at this nice(1) level: "
                        "19 stands for a browser on the owner's phone instead of the shop PC")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (the database, daemon.log); "
                        "a folder an earlier run kept is used again without building the shop anew")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        if args.keep and (args.keep / "bench.sqlite3").exists():  # a shop built by an earlier run: used again
            config = args.keep / "config.yaml"
            for leftover in ("live.yaml", "daemon.log", "ttyUSB*"):
                for path in folder.glob(leftover):
                    path.unlink()
            print(f"the shop in {folder}, built by an earlier run")
        else:
            folder.mkdir(parents=True, exist_ok=args.keep is None)
            config = await build(Path(folder), args.customers, args.years)
        if not args.no_data:
            await view_data(config, args.repeat)
        if not args.no_browser:
            await live_shop(config, args.modems, args.rate, args.seconds, args.reload_every, args.browser_nice)


if __name__ == "__main__":
    asyncio.run(main())
