"""The daemon's own latency and inbound throughput, through `smsd-crm run` as its own process.

N emulated modems (zero send delay) on real pseudo-terminals live in this
process; the daemon opens them by path. Latency is timed from the moment an SMS
is stored on an emulated SIM (+CMTI) to the moment its reply's SMS-SUBMIT
reaches a modem: read, commit, delete, route, commit reply, send.

(a) steady: `--rate` SMS per second for `--seconds`, spread over the modems: p50/p99. The texts
    are the customer corpus (tests/data/sms-id-*.jsonl: loose keywords, free wording, units)
    against the demo catalogue, each from its own number, so every SMS goes through the reader;
    `--texts daftar` sends only `DAFTAR name#address` (the figure before issue 12).
(b) burst: `--burst` SMS at once: how many per second the daemon answers (0: skipped).

`--engine sqlite` (the default) keeps the shop in a SQLite file (synchronous=FULL); `--engine postgresql`
in a new database on a PostgreSQL server started for the run (tests/postgres_server.py: Debian's
package, a temporary cluster on a Unix socket) with fsync, synchronous_commit and full_page_writes
at the server's defaults, as a shop's server runs.

Usage: .venv/bin/python bench/inbound.py [--modems 4] [--rate 50] [--seconds 20] [--burst 1000]
                                         [--texts corpus|daftar] [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from smsd_crm.emulator.pty_modem import PtyModem

CONFIG = """store: {{name: Toko Bench}}
database: {database}
modems:
{modems}
logging: {{level: WARNING}}
web: {{port: 0}}
"""


ROOT = Path(__file__).resolve().parent.parent


def corpus_texts() -> list[str]:
    """Customer SMS that get a reply from a stranger's number (thanks get none; order numbers made up)."""
    texts = []
    for path in sorted((ROOT / "tests" / "data").glob("sms-id-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            case = json.loads(line) if line.strip() else None
            if case and case["expect"]["intent"] != "thanks":
                texts.append(re.sub(r"\{order:\w+\}", "1", case["text"]))
    return texts


class Timer:
    """Matches each reply to the moment its SMS was delivered."""

    def __init__(self, emus: list[PtyModem]) -> None:
        self.sent_at: dict[str, float] = {}
        self.latency: dict[str, float] = {}
        for e in emus:
            e.core._on_submit = self._reply

    def _reply(self, record) -> None:
        number = record.decoded.destination.number
        if number in self.sent_at and number not in self.latency:
            self.latency[number] = time.perf_counter() - self.sent_at[number]

    def deliver(self, emu: PtyModem, number: str, text: str) -> None:
        self.sent_at[number] = time.perf_counter()
        emu.deliver(number, text)

    async def wait_all(self, numbers: list[str], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not all(n in self.latency for n in numbers):
                await asyncio.sleep(0.005)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


async def main(n: int, rate: float, seconds: float, burst: int, mix: str, engine: str) -> None:
    server = None
    if engine == "postgresql":
        sys.path.insert(0, str(ROOT))
        from tests.postgres_server import PostgresServer
        server = PostgresServer(durable=True).start()
        database = f"{{url: '{server.new_database()}'}}"
    else:
        database = "{path: bench.sqlite3}"
    try:
        await measure(n, rate, seconds, burst, mix, engine, database)
    finally:
        if server is not None:
            server.stop()


async def measure(n: int, rate: float, seconds: float, burst: int, mix: str, engine: str, database: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        emus = [PtyModem(f"m{i}", link=Path(tmp) / f"tty{i}", imsi=f"5101000000{i:05d}", capacity=50)
                for i in range(n)]
        for e in emus:
            await e.start()
        cfg = Path(tmp) / "config.yaml"
        cfg.write_text(CONFIG.format(database=database, modems="\n".join(f"  - {{id: m{i}, port: {e.device}}}"
                                                      for i, e in enumerate(emus))))
        smsd_crm = str(Path(sys.executable).parent / "smsd-crm")
        subprocess.run([smsd_crm, "catalog", "import", str(ROOT / "smsd_crm" / "demo" / "data" / "products.csv"),
                        "-c", str(cfg)], check=True, capture_output=True)
        proc = await asyncio.create_subprocess_exec(
            smsd_crm, "run", "-c", str(cfg),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        timer = Timer(emus)
        try:
            warm = [f"+6281299{i:06d}" for i in range(n)]
            for e, number in zip(emus, warm):
                timer.deliver(e, number, "BANTUAN")
            await timer.wait_all(warm, 60)

            count = int(rate * seconds)
            numbers = [f"+62812100{i:05d}" for i in range(count)]
            texts = corpus_texts() if mix == "corpus" else []
            start = time.perf_counter()
            for i, number in enumerate(numbers):
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                text = texts[i % len(texts)] if texts else f"DAFTAR Pelanggan {i}#Jl. Bench {i}"
                timer.deliver(emus[i % n], number, text)
            await timer.wait_all(numbers, 120)
            lat = [timer.latency[x] for x in numbers]
            print(f"(a) {engine}: steady {rate:g} SMS/s for {seconds:g} s over {n} modem(s), "
                  f"{count} SMS ({mix}): "
                  f"p50 {pct(lat, 50):.1f} ms, p90 {pct(lat, 90):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
                  f"max {max(lat) * 1000:.1f} ms", flush=True)
            if not burst:
                return

            numbers = [f"+62813100{i:05d}" for i in range(burst)]
            start = time.perf_counter()
            for i, number in enumerate(numbers):
                timer.deliver(emus[i % n], number, f"DAFTAR Burst {i}#Jl. Burst {i}")
            await timer.wait_all(numbers, 600)
            elapsed = time.perf_counter() - start
            print(f"(b) {engine}: burst of {burst} SMS over {n} modem(s): all answered in {elapsed:.2f} s "
                  f"= {burst / elapsed:.1f} SMS/s")
        finally:
            proc.terminate()
            await proc.wait()
            for e in emus:
                await e.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modems", type=int, default=4)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--texts", choices=["corpus", "daftar"], default="corpus")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    asyncio.run(main(args.modems, args.rate, args.seconds, args.burst, args.texts, args.engine))
