"""Customers' phones and the shop's emulated modems, in a process of their own.

`bench/dashboards.py` starts this so that the emulated modems answer the daemon on time whatever the
benchmark's own process is doing (it drives chromium's tabs): a reply that waits is then the
daemon's, not the benchmark's. A process of its own stands for the real thing: a GSM modem and the
network behind it do not slow down when the owner's browser is busy.

Protocol (JSON lines): started as ``python bench/traffic.py FOLDER MODEMS``, it prints
``{"modems": [[id, device], ...]}``; each line read ``{"rate": r, "sms": [[number, text], ...]}`` is
delivered at ``r`` per second round-robin over the modems, and answered with
``{"times": [s, ...], "lag_max": s, "lag_p99": s}`` once every reply is in (reply latency from SIM
storage to the whole reply accepted by a modem, in seconds; this process's own event loop lag
meanwhile). It stops its modems when its stdin ends.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from harness import Replies

from smsd_crm.emulator.pty_modem import PtyModem


async def own_lag(lags: list[float], every: float = 0.1) -> None:
    """How late this process's loop wakes up, every ``every`` s (seconds, appended to ``lags``)."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + every
        await asyncio.sleep(every)
        lags.append(max(0.0, loop.time() - due))


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile by rank (nearest rank), NaN for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] if ordered else float("nan")


async def arrive(emus: list[PtyModem], replies: Replies, rate: float, sms: list[list[str]]) -> dict:
    lags: list[float] = []
    watch = asyncio.get_running_loop().create_task(own_lag(lags))
    start = time.perf_counter()
    for i, (number, text) in enumerate(sms):
        due = start + i / rate
        while (now := time.perf_counter()) < due:
            await asyncio.sleep(min(0.01, due - now))
        replies.deliver(emus[i % len(emus)], number, text)
    numbers = [number for number, _ in sms]
    await replies.wait(numbers, 120)
    watch.cancel()
    return {"times": replies.times(numbers), "lag_max": max(lags, default=0.0), "lag_p99": percentile(lags, 99)}


async def main() -> None:
    folder, modems = Path(sys.argv[1]), int(sys.argv[2])
    emus = [PtyModem(f"m{i}", link=folder / f"ttyUSB{i}", send_delay=0.01, imsi=f"5101000000{i:05d}")
            for i in range(modems)]
    for e in emus:
        await e.start()
    replies = Replies(emus)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)

    def say(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    try:
        say({"modems": [[e.modem_id, str(e.device)] for e in emus]})
        while line := await reader.readline():
            order = json.loads(line)
            say(await arrive(emus, replies, order["rate"], order["sms"]))
    finally:
        for e in emus:
            await e.stop()


if __name__ == "__main__":
    asyncio.run(main())
