"""A campaign to many customers over a pool of emulated modems, against the pool's ideal rate.

`smsd-crm run` with N emulated modems (each takes --delay seconds per SMS, as real ones take ~3 s)
and R customers; `smsd-crm campaign create/start` from the CLI, as an owner would. Measured: the
time from the campaign's start to its last message sent, the rate against the ideal N / delay SMS
per second, and how long customers' own requests wait for their reply while the campaign runs
(`smsd-crm sim send` every few seconds).

Usage: .venv/bin/python bench/campaigns.py [--recipients 10000] [--modems 8] [--delay 3] [--probes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

SMSD_CRM = str(Path(sys.executable).parent / "smsd-crm")


def config_text(modems: int, delay: float) -> str:
    pool = "".join(f"  - {{id: sim{i}, port: emulator}}\n" for i in range(1, modems + 1))
    return (f"store: {{name: Toko Bench}}\ndatabase: {{path: bench.sqlite3}}\nmodems:\n{pool}"
            f"emulator: {{send_delay: {delay}, control_socket: emu.sock}}\n"
            "campaigns: {quiet_hours: null, weekly_cap: null}\nweb: {enabled: false}\n"
            "logging: {level: INFO}\nplugins_dir: null\n")


def run(config: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([SMSD_CRM, *args, "-c", str(config)], capture_output=True, text=True, input=stdin,
                          timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"smsd-crm {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def seed(db: Path, recipients: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO customers (phone, name, language, created_at, updated_at) "
                         "VALUES (?, ?, 'id', '2026-01-01', '2026-01-01')",
                         ((f"+62813{i:08d}", f"Pelanggan {i}") for i in range(1, recipients + 1)))
    conn.close()


def one(db: Path, sql: str):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchone()
    finally:
        conn.close()


async def probe(config: Path, number: str) -> float:
    """Seconds from a customer's SMS to its reply, through the daemon's own emulator."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, "sim", "send", "-c", str(config), number, "INFO",
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    if proc.returncode != 0:
        raise SystemExit(f"sim send failed: {err.decode()}")
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10000)
    parser.add_argument("--modems", type=int, default=8)
    parser.add_argument("--delay", type=float, default=3.0, help="seconds each emulated modem takes per SMS")
    parser.add_argument("--probes", type=int, default=10, help="customer requests sent during the campaign")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.yaml"
        config.write_text(config_text(args.modems, args.delay))
        db = Path(folder) / "bench.sqlite3"
        run(config, "migrate")
        seed(db, args.recipients)
        log = Path(folder) / "daemon.log"
        with open(log, "w") as out:
            daemon = subprocess.Popen([SMSD_CRM, "run", "-c", str(config)], stdout=out, stderr=out,
                                      env=dict(os.environ, PYTHONUNBUFFERED="1"))
        try:
            while "ready on" not in log.read_text() and "smsd-crm ready" not in log.read_text():
                if daemon.poll() is not None:
                    raise SystemExit(log.read_text()[-3000:])
                await asyncio.sleep(0.2)
            while len(re.findall(r"modem sim\d+ ready", log.read_text())) < args.modems:
                await asyncio.sleep(0.2)
            run(config, "campaign", "create", "--name", "bench", "--text", "Halo {nama}, diskon 10% minyak goreng "
                "sampai hari Minggu di Toko Bench!")
            print(run(config, "campaign", "start", "1").strip())
            ideal = args.modems / args.delay
            expected = args.recipients / ideal
            latencies: list[float] = []
            gap = expected / (args.probes + 1)
            for i in range(args.probes):  # customers' own requests while the campaign runs
                await asyncio.sleep(gap)
                latencies.append(await probe(config, f"+62857{i:08d}"))
            while one(db, "SELECT state FROM campaigns WHERE id = 1")[0] != "done":
                if daemon.poll() is not None:
                    raise SystemExit(log.read_text()[-3000:])
                await asyncio.sleep(1.0)  # a benchmark watching the clock, not a test
            started, finished = one(db, "SELECT started_at, finished_at FROM campaigns WHERE id = 1")
            first, last = one(db, "SELECT MIN(updated_at), MAX(updated_at) FROM messages WHERE campaign_id = 1 "
                                  "AND state IN ('sent', 'delivered')")
            sent = one(db, "SELECT COUNT(*) FROM messages WHERE campaign_id = 1 AND state IN ('sent', 'delivered')")[0]
            dupes = one(db, "SELECT COUNT(*) - COUNT(DISTINCT phone) FROM messages WHERE campaign_id = 1 "
                            "AND state IN ('sent', 'delivered')")[0]
            seconds = (datetime.fromisoformat(last) - datetime.fromisoformat(started)).total_seconds()
            rate = sent / seconds
            print(f"{sent:,} of {args.recipients:,} recipients sent over {args.modems} emulated modems at "
                  f"{args.delay:g} s per SMS; duplicates {dupes}")
            print(f"campaign start to last send: {seconds:,.1f} s (first send after "
                  f"{(datetime.fromisoformat(first) - datetime.fromisoformat(started)).total_seconds():.2f} s; "
                  f"done marked {(datetime.fromisoformat(finished) - datetime.fromisoformat(last)).total_seconds():.2f}"
                  " s after the last send)")
            print(f"rate {rate:.3f} SMS/s; ideal {ideal:.3f} SMS/s ({args.modems} / {args.delay:g} s) -> "
                  f"{100 * rate / ideal:.1f}% of ideal")
            if latencies:
                print(f"customer requests during the campaign: {len(latencies)}, reply after "
                      f"median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s "
                      f"(including the sim CLI's own start, ~0.5 s)")
        finally:
            daemon.terminate()
            daemon.wait(60)


if __name__ == "__main__":
    asyncio.run(main())
