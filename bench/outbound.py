"""Outbound throughput of the modem pool against the ideal N/3 SMS per second.

N emulated modems on real pseudo-terminals, each taking `--delay` seconds per
SMS (a real modem needs about 3 s), driven by the daemon's own Modem drivers,
ModemPool and Outbox over a real SQLite file. `--per-modem` messages per modem
are queued, then timed from the first claim to the last `sent` commit.

Usage: .venv/bin/python bench/outbound.py [--modems 1 2 4 8 16] [--delay 3] [--per-modem 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from smsd_crm.config import ModemConfig, OutboxConfig
from smsd_crm.emulator.pty_modem import PtyModem
from smsd_crm.modem.modem import Modem
from smsd_crm.modem.pool import ModemPool
from smsd_crm.outbox import Outbox
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import core_schema


def now() -> datetime:
    return datetime.now(timezone.utc)


async def run(n: int, delay: float, per_modem: int, folder: Path) -> float:
    emus = [PtyModem(f"m{i}", send_delay=delay, imsi=f"5101000000{i:05d}") for i in range(n)]
    for e in emus:
        await e.start()
    db = await Database.open(folder / f"out{n}.sqlite3")
    await migrate(db, core_schema())

    async def sink(message):
        pass

    async def emit(event):
        pass

    modems = [Modem(ModemConfig(id=e.modem_id, port=e.device, send_timeout=delay + 30), sink) for e in emus]
    pool = ModemPool(modems)
    outbox = Outbox(db, OutboxConfig(same_sim_wait=0), now, emit)
    total = n * per_modem
    for i in range(total):
        await outbox.enqueue(f"+62812{i:07d}", f"Promo {i}: diskon minyak goreng", priority=0)
    pool_task = asyncio.create_task(pool.run())
    await asyncio.wait_for(asyncio.gather(*(m.ready.wait() for m in modems)), 30)
    start = time.perf_counter()
    out_task = asyncio.create_task(outbox.run(pool))
    while sum(len(e.core.submitted) for e in emus) < total:
        await asyncio.sleep(0.01)
    while (await db.fetchone("SELECT COUNT(*) FROM messages WHERE state = 'sent'"))[0] < total:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    for t in (out_task, pool_task):
        t.cancel()
    await asyncio.gather(out_task, pool_task, return_exceptions=True)
    await db.close()
    for e in emus:
        await e.stop()
    return elapsed


async def main(modem_counts: list[int], delay: float, per_modem: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    print(f"{'modems':>6} {'messages':>8} {'seconds':>8} {'SMS/s':>7} {'ideal':>7} {'of ideal':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in modem_counts:
            elapsed = await run(n, delay, per_modem, Path(tmp))
            rate, ideal = n * per_modem / elapsed, n / delay
            print(f"{n:>6} {n * per_modem:>8} {elapsed:>8.2f} {rate:>7.3f} {ideal:>7.3f} {rate / ideal:>8.1%}",
                  flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modems", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--delay", type=float, default=3.0)
    parser.add_argument("--per-modem", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.modems, args.delay, args.per_modem))
