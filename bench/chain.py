"""A chain of two stores on one PostgreSQL server, each sending a campaign, against the pools' ideal rate.

Two `smsd-crm run` processes (store.id a and b, as docs/deployment.md sets up a chain) share one
database on a PostgreSQL server started for the run (tests/postgres_server.py: Debian's package, a
temporary cluster on a Unix socket, fsync and synchronous_commit at the server's defaults). Each
store has `--modems` emulated modems on real pseudo-terminals in this process, each taking
`--delay` seconds per SMS (a real modem needs about 3 s). Each store has `--recipients` customers of
its own (a sale at its till); both stores create a campaign to their own customers
(`smsd-crm campaign create --this-store`) and start it at the same moment, as two owners would.

Measured per store: the time from the campaign's start to its last message sent and the rate
against the ideal modems / delay SMS per second (as bench/campaigns.py), the steady rate between
the first and the last send, cross-store sends (a message of one store's campaign on the air from
the other store's modem, or a row of it kept under the other store: must be 0) and duplicates (a
customer given the same campaign twice, on the air or in the database: must be 0).

Usage: .venv/bin/python bench/chain.py [--recipients 300] [--modems 4] [--delay 3] [--keep-logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import asyncpg

from smsd_crm.emulator.pty_modem import PtyModem
from smsd_crm.phones import normalize

ROOT = Path(__file__).resolve().parent.parent
SMSD_CRM = str(Path(sys.executable).parent / "smsd-crm")
STORES = ("a", "b")


def config_text(store: str, url: str, modems: list[PtyModem]) -> str:
    pool = "".join(f"  - {{id: {m.modem_id}, port: {m.device}}}\n" for m in modems)
    return (f"store: {{id: {store}, name: Toko {store.upper()}}}\ndatabase: {{url: '{url}'}}\nmodems:\n{pool}"
            "campaigns: {quiet_hours: null, weekly_cap: null}\nweb: {enabled: false}\n"
            "logging: {level: INFO}\n")


async def cli(config: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, *args, "-c", str(config), stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    if proc.returncode != 0:
        raise SystemExit(f"smsd-crm {' '.join(args)} failed:\n{err.decode()}")
    return out.decode()


def when(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


class OnAir:
    """Every SMS-SUBMIT the emulated modems accepted: (modem id, number, text), with perf_counter times."""

    def __init__(self, emus: list[PtyModem]) -> None:
        self.sent: list[tuple[float, str, str | None, str]] = []
        for e in emus:
            e.watch(lambda record, m=e.modem_id: self.sent.append(
                (time.perf_counter(), m, normalize(record.decoded.destination.number), record.decoded.text)))


async def wait_ready(log: Path, proc: asyncio.subprocess.Process, modems: int, timeout: float = 120) -> None:
    """A bound on the daemon's start: 'smsd-crm ready' and each modem's 'ready on' in its log."""
    async with asyncio.timeout(timeout):
        while True:
            text = log.read_text(errors="replace")
            if "smsd-crm ready" in text and len(set(re.findall(r"modem (\w+) ready on", text))) >= modems:
                return
            if proc.returncode is not None:
                raise SystemExit(f"daemon ended:\n{text[-3000:]}")
            await asyncio.sleep(0.2)


async def seed(url: str, recipients: int) -> dict[str, list[str]]:
    """Each store's own customers: registered in the chain, one sale at that store's till."""
    phones = {s: [f"+628{13 + k}{i:08d}" for i in range(1, recipients + 1)] for k, s in enumerate(STORES)}
    conn = await asyncpg.connect(url)
    try:
        for store, numbers in phones.items():
            await conn.executemany("INSERT INTO customers (phone, name, language, created_at, updated_at) "
                                   "VALUES ($1, $2, 'id', '2026-01-01', '2026-01-01')",
                                   [(p, f"Pelanggan {store.upper()}{i}") for i, p in enumerate(numbers)])
            await conn.executemany("INSERT INTO sales (receipt, phone, total, sold_at, created_at, store_id) "
                                   "VALUES ($1, $2, 5000, '2026-01-01T03:00:00+00:00', '2026-01-01', $3)",
                                   [(f"{store.upper()}-{i}", p, store) for i, p in enumerate(numbers)])
    finally:
        await conn.close()
    return phones


async def run(folder: Path, url: str, recipients: int, modems: int, delay: float) -> None:
    emus = {s: [PtyModem(f"{s}{i}", link=folder / f"ttyUSB-{s}{i}", send_delay=delay,
                         imsi=f"51010{k}00000{i:04d}") for i in range(1, modems + 1)]
            for k, s in enumerate(STORES)}
    everyone = [e for s in STORES for e in emus[s]]
    for e in everyone:
        await e.start()
    on_air = OnAir(everyone)
    configs = {s: folder / f"config-{s}.yaml" for s in STORES}
    for s in STORES:
        configs[s].write_text(config_text(s, url, emus[s]))
    await cli(configs["a"], "migrate")
    phones = await seed(url, recipients)
    procs: dict[str, asyncio.subprocess.Process] = {}
    try:
        for s in STORES:
            with open(folder / f"daemon-{s}.log", "ab") as log:
                procs[s] = await asyncio.create_subprocess_exec(
                    SMSD_CRM, "run", "-c", str(configs[s]), stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                    env=dict(os.environ, PYTHONUNBUFFERED="1"))
        for s in STORES:
            await wait_ready(folder / f"daemon-{s}.log", procs[s], modems)
        texts = {s: f"Promo Toko {s.upper()}: diskon 10% minyak goreng sampai Minggu" for s in STORES}
        campaign = {}
        for s in STORES:
            made = await cli(configs[s], "campaign", "create", "--name", f"promo {s}", "--text", texts[s],
                             "--this-store")
            created = re.search(r"campaign (\d+) created", made)
            if created is None:
                raise SystemExit(f"store {s}: no campaign created:\n{made}")
            campaign[s] = int(created.group(1))
        started = dict(zip(STORES, await asyncio.gather(
            *(cli(configs[s], "campaign", "start", str(campaign[s])) for s in STORES))))
        for s in STORES:
            print(f"store {s}: {started[s].strip()}", flush=True)

        ideal = modems / delay
        conn = await asyncpg.connect(url)
        try:
            async with asyncio.timeout(2 * recipients / ideal + 300):  # a bound, far above the expected time
                while True:
                    states = [r[0] for r in await conn.fetch(
                        "SELECT state FROM campaigns WHERE id = ANY($1::bigint[])", list(campaign.values()))]
                    if states == ["done"] * len(STORES):
                        break
                    for s in STORES:
                        if procs[s].returncode is not None:
                            raise SystemExit(f"daemon {s} ended:\n"
                                             + (folder / f"daemon-{s}.log").read_text(errors="replace")[-3000:])
                    await asyncio.sleep(1.0)  # a benchmark watching the clock, not a test
            await asyncio.sleep(2 * delay)  # anything sent twice would be on the air by now
            print(f"{'store':>5} {'sent':>9} {'seconds':>8} {'SMS/s':>6} {'ideal':>6} {'of ideal':>8} "
                  f"{'steady':>7} {'first send':>10} {'cross-store':>11} {'duplicates':>10}")
            for s in STORES:
                cid = campaign[s]
                started_at, finished_at, camp_store = await conn.fetchrow(
                    "SELECT started_at, finished_at, store_id FROM campaigns WHERE id = $1", cid)
                rows = await conn.fetch("SELECT phone, modem_id, store_id, updated_at FROM messages "
                                        "WHERE campaign_id = $1 AND state IN ('sent', 'delivered')", cid)
                sent = len(rows)
                first, last = min(when(r[3]) for r in rows), max(when(r[3]) for r in rows)
                seconds = (last - when(started_at)).total_seconds()
                steady = (sent - 1) / (last - first).total_seconds()
                db_cross = sum(1 for r in rows if r[2] != s or not (r[1] or "").startswith(s)) + (camp_store != s)
                db_dupes = sent - len({r[0] for r in rows})
                mine = [(m, n) for _, m, n, text in on_air.sent if text == texts[s]]
                air_cross = sum(1 for m, _ in mine if not m.startswith(s))
                air_dupes = sum(c - 1 for c in Counter(n for _, n in mine).values() if c > 1)
                strangers = len({n for _, n in mine} - set(phones[s]))
                rate = sent / seconds
                print(f"{s:>5} {sent:>4}/{recipients:<4} {seconds:>8.1f} {rate:>6.3f} {ideal:>6.3f} "
                      f"{rate / ideal:>8.1%} {steady / ideal:>7.1%} "
                      f"{(first - when(started_at)).total_seconds():>9.2f}s "
                      f"{db_cross:>5} / {air_cross:<3} {db_dupes:>4} / {air_dupes:<3}", flush=True)
                if strangers or len(mine) != sent:
                    print(f"      store {s}: {len(mine)} on the air against {sent} sent rows; "
                          f"{strangers} to another store's customers")
            print("(seconds: campaign start to its last send; steady: first to last send; "
                  "cross-store and duplicates: database / on the air)")
        finally:
            await conn.close()
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.terminate()
        for proc in procs.values():
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for e in everyone:
            await e.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=300, help="customers per store")
    parser.add_argument("--modems", type=int, default=4, help="emulated modems per store")
    parser.add_argument("--delay", type=float, default=3.0, help="seconds each emulated modem takes per SMS")
    parser.add_argument("--keep-logs", type=Path, help="copy both daemons' logs here")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.postgres_server import PostgresServer
    server = PostgresServer(durable=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                await run(Path(tmp), server.new_database(), args.recipients, args.modems, args.delay)
            finally:
                if args.keep_logs:
                    args.keep_logs.mkdir(parents=True, exist_ok=True)
                    for log in Path(tmp).glob("daemon-*.log"):
                        shutil.copy(log, args.keep_logs / log.name)
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
