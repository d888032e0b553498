"""SMS round trip through the daemon: emulated modem -> smsd-crm run -> reply PDU.

Starts `smsd-crm run` as its own process against an emulated modem on a real
pty (as the end-to-end tests do) and measures, from the moment the SMS is
stored on the emulated SIM (+CMTI) to the moment the reply's SMS-SUBMIT reaches
the emulator:

- sequential: one customer at a time (the daemon's own latency per SMS);
- burst: N customers at once (throughput of one modem).

The emulator answers instantly, so these are the daemon's costs, not the
network's. Usage: .venv/bin/python bench/roundtrip.py [--count 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from smsd_crm.modem.pty_emulator import PtyModem, next_reply

CONFIG = """store: {{name: Toko Bench}}
database: {{path: bench.sqlite3}}
modems:
  - {{id: sim1, port: {port}}}
logging: {{level: WARNING}}
"""


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        emu = PtyModem("sim1", link=Path(tmp) / "ttyBENCH")
        await emu.start()
        cfg = Path(tmp) / "config.yaml"
        cfg.write_text(CONFIG.format(port=emu.device))
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "smsd-crm"), "run", "-c", str(cfg),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            warm = emu.subscribe("+6281299999999")
            emu.deliver("+6281299999999", "BANTUAN")
            await next_reply(warm, 60)  # the daemon is up and the modem ready

            latencies = []
            for i in range(count):
                number = f"+62812100{i:05d}"
                queue = emu.subscribe(number)
                start = time.perf_counter()
                emu.deliver(number, f"DAFTAR Pelanggan {i}#Jl. Bench {i}")
                await next_reply(queue, 60)
                latencies.append((time.perf_counter() - start) * 1000)
            latencies.sort()
            print(f"sequential: {count} round trips, median {statistics.median(latencies):.1f} ms, "
                  f"p90 {latencies[int(0.9 * (count - 1))]:.1f} ms, max {latencies[-1]:.1f} ms")

            queues = []
            start = time.perf_counter()
            for i in range(count):
                number = f"+62813100{i:05d}"
                queues.append(emu.subscribe(number))
                emu.deliver(number, f"DAFTAR Burst {i}#Jl. Burst {i}")
            await asyncio.gather(*(next_reply(q, 120) for q in queues))
            elapsed = time.perf_counter() - start
            print(f"burst: {count} SMS answered in {elapsed:.2f} s = {count / elapsed:.1f} SMS/s "
                  f"on one modem")
        finally:
            proc.terminate()
            await proc.wait()
            await emu.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    asyncio.run(main(parser.parse_args().count))
