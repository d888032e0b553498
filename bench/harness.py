"""A daemon (`smsd-crm run`, its own process) on emulated modems, clocked from the emulator side.

For the benchmarks: the modems are PtyModems in the benchmark's process, opened by the daemon
through symlinks as /dev/serial/by-id/... would be; the database is a real SQLite file with
the demo catalogue. Times are time.perf_counter() seconds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable

from smsd_crm.emulator.pty_modem import PtyModem

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ("INFO", "HARGA gula")
CONFIG = """store: {{name: Toko Bench}}
database: {{path: bench.sqlite3}}
modems:
{modems}
logging: {{level: {level}}}
web: {{enabled: false}}
"""


class TimedOut(Exception):
    """A bounded wait ran out; the message says what was awaited."""


async def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 20 ms for at most ``timeout`` s; TimedOut after that."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise TimedOut(what) from None


class CommandClock:
    """Every AT command one emulated modem reads, with the time it read it (perf_counter s)."""

    def __init__(self, emu: PtyModem) -> None:
        self.commands: list[tuple[float, str]] = []
        core, feed = emu.core, emu.core.feed

        def stamped(data: bytes) -> None:
            seen = len(core.commands)
            feed(data)
            now = time.perf_counter()
            self.commands += [(now, c.upper()) for c in core.commands[seen:]]
        core.feed = stamped

    def first(self, prefix: str, since: float) -> float | None:
        """When the first command starting with ``prefix`` came at or after ``since``."""
        return next((t for t, c in self.commands if t >= since and c.startswith(prefix)), None)

    def uses(self, prefix: str) -> bool:
        return any(c.startswith(prefix) for _, c in self.commands)


class Replies:
    """When each customer's SMS was stored on a SIM and when its whole reply was accepted."""

    def __init__(self, emus: list[PtyModem]) -> None:
        self.arrived: dict[str, float] = {}
        self.answered: dict[str, float] = {}
        self.index: dict[str, int | None] = {}  # SIM slot of a single-part SMS
        self._parts: dict[str, set[int]] = {}
        self.deaf: set[str] = set()  # unplugged modems: what they "accept" never reaches the daemon
        for e in emus:
            e.watch(lambda record, m=e.modem_id: self._accepted(m, record))

    def deliver(self, emu: PtyModem, number: str, text: str) -> None:
        self.arrived[number] = time.perf_counter()
        self.index[number] = emu.deliver(number, text)[0]

    def _accepted(self, modem_id: str, record) -> None:
        number = record.decoded.destination.number
        if modem_id in self.deaf or number not in self.arrived or number in self.answered:
            return
        concat = record.decoded.concat
        parts = self._parts.setdefault(number, set())
        parts.add(concat.sequence if concat else 1)
        if len(parts) == (concat.total if concat else 1):
            self.answered[number] = time.perf_counter()

    def times(self, numbers: list[str]) -> list[float]:
        return [self.answered[n] - self.arrived[n] for n in numbers if n in self.answered]

    async def wait(self, numbers: list[str], timeout: float) -> None:
        await until(lambda: all(n in self.answered for n in numbers), timeout,
                    f"replies ({sum(n in self.answered for n in numbers)} of {len(numbers)} answered)")


@dataclass
class Gateway:
    """A running daemon and what the emulators saw."""

    emus: list[PtyModem]
    clocks: list[CommandClock]
    replies: Replies
    send_command: str = "AT+CMGS="

    def burst(self, size: int, prefix: str, to: Callable[[int], int] = lambda i: 0) -> list[str]:
        numbers = [f"+62812{prefix}{i:05d}" for i in range(size)]
        for i, number in enumerate(numbers):
            self.replies.deliver(self.emus[to(i)], number, TEXTS[i % len(TEXTS)])
        return numbers


def _python_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


async def _cli(*args: str, log) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "smsd_crm", *args, env=_python_env(),
                                                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)


async def _prepare_database(folder: Path, template: Path, log) -> None:
    """The demo catalogue, imported once per bench run and copied into each scenario's folder."""
    if not (template / "bench.sqlite3").exists():
        (template / "config.yaml").write_text(CONFIG.format(modems="  []", level="WARNING"))
        proc = await _cli("catalog", "import", str(ROOT / "smsd_crm" / "demo" / "data" / "products.csv"),
                          "-c", str(template / "config.yaml"), log=log)
        async with asyncio.timeout(120):
            if await proc.wait():
                raise RuntimeError("catalog import failed")
    for name in ("bench.sqlite3", "bench.sqlite3-wal"):
        if (template / name).exists():
            shutil.copy(template / name, folder / name)


@asynccontextmanager
async def gateway(folder: Path, template: Path, modems: int, delay: float,
                  log_path: Path) -> AsyncIterator[Gateway]:
    """Emulated modems, then `smsd-crm run` on them, started, warmed up, and stopped at the end."""
    folder.mkdir(parents=True)
    emus = [PtyModem(f"m{i}", link=folder / f"ttyUSB{i}", send_delay=delay, imsi=f"5101000000{i:05d}")
            for i in range(modems)]
    for e in emus:
        await e.start()
    gw = Gateway(emus, [CommandClock(e) for e in emus], Replies(emus))
    cfg = folder / "config.yaml"
    cfg.write_text(CONFIG.format(modems="\n".join(f"  - {{id: {e.modem_id}, port: {e.device}}}" for e in emus),
                                 level="INFO"))
    with open(log_path, "ab") as log:
        await _prepare_database(folder, template, log)
        started = time.perf_counter()
        proc = await _cli("run", "-c", str(cfg), log=log)
        try:
            await until(lambda: all(c.first("AT+CMGL", started) for c in gw.clocks), 90, "daemon start")
            warm = gw.burst(modems, "99", to=lambda i: i)
            await gw.replies.wait(warm, 60 + 3 * delay)
            if any(c.uses("AT+CMSS") for c in gw.clocks):
                gw.send_command = "AT+CMSS="
            yield gw
        finally:
            proc.terminate()
            try:
                async with asyncio.timeout(30):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
            for e in emus:
                await e.stop()
