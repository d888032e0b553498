"""The event loop lag probe: the summary's arithmetic, a real block of a running loop, and the line
operators read in `smsd-crm status` (published by status.publish to a real database file)."""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import AsyncIterator

import pytest

from smsd_crm import status
from smsd_crm.config import load_config
from smsd_crm.loop_lag import LagSummary, LoopLag, summarize
from smsd_crm.modem.modem import Modem
from smsd_crm.modem.pool import ModemPool
from smsd_crm.storage import daemon_status
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import CORE_MIGRATIONS, core_schema

from .conftest import SMSD_CRM, query, wait_until, write_config

BLOCK = 0.3  # seconds the tests hold the loop
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def test_no_lags_summarize_to_zero():
    assert summarize([]) == LagSummary(0.0, 0.0, 0)


@pytest.mark.parametrize("lags, p99", [
    ([0.2], 0.2),
    ([0.003, 0.5, 0.001], 0.5),  # fewer than 100 samples: the 99th percentile is the largest
    ([i / 1000 for i in range(1, 101)], 0.099),  # 1..100 ms: rank ceil(99) = the 99th
    ([i / 1000 for i in range(1, 102)], 0.100),  # 101 samples: rank ceil(99.99) = the 100th
    ([i / 1000 for i in range(200, 0, -1)], 0.198),  # 200 samples, any order: rank 198
])
def test_p99_is_the_nearest_rank_and_max_the_largest(lags, p99):
    s = summarize(lags)
    assert (s.max, s.p99, s.samples) == (max(lags), p99, len(lags))


def test_only_the_last_window_counts():
    now = [1000.0]
    probe = LoopLag(window=60.0, clock=lambda: now[0])
    probe.record(1000.0, 0.4)
    probe.record(1030.0, 0.002)
    assert (probe.max(), probe.samples) == (0.4, 2)
    now[0] = 1060.5  # the 0.4 s lag is now older than a minute
    assert (probe.max(), probe.p99(), probe.samples) == (0.002, 0.002, 1)
    now[0] = 1100.0
    assert (probe.max(), probe.p99(), probe.samples) == (0.0, 0.0, 0)


@asynccontextmanager
async def blocked_probe() -> AsyncIterator[LoopLag]:
    """A running probe that has seen the loop held for BLOCK seconds; it stops on the way out."""
    probe = LoopLag()
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(probe.run())
        await wait_until(lambda: probe.samples, what="the probe's first sample")
        before = probe.samples
        # The probe sees a block from the moment its wake-up was due, which can come up to one
        # interval after the block began: hold the loop that much longer so BLOCK is certainly seen.
        asyncio.get_running_loop().call_soon(time.sleep, BLOCK + probe.interval)
        await wait_until(lambda: probe.samples > before, what="a sample after the block")
        try:
            yield probe
        finally:
            task.cancel()


async def test_a_block_of_the_running_loop_shows_as_lag():
    async with blocked_probe() as probe:
        assert probe.max() >= BLOCK
        # Nearest rank: of fewer than 100 lags the 99th percentile is the largest, so the block's.
        assert probe.p99() == probe.max() or probe.samples >= 100
        assert 0.0 <= probe.p99() <= probe.max()


def test_format_status_prints_the_lag_line():
    modem = {"modem_id": "sim1", "port": "/dev/ttyUSB0", "state": "ready", "signal": 20, "registration": 1,
             "operator": "TELKOMSEL", "imsi": None, "iccid": None, "storage_used": 3, "storage_total": 30,
             "sent": 1, "received": 2, "last_error": None, "updated_at": NOW.isoformat()}
    daemon = {"loop_lag_max_ms": 12.4, "loop_lag_p99_ms": 2.6, "samples": 600, "updated_at": NOW.isoformat()}
    out = status.format_status([modem], {"sent": 1}, NOW, daemon).splitlines()
    assert out[-1] == "event loop lag (last minute): max 12 ms, p99 3 ms"
    assert out[-2].startswith("outbox: ")
    blocked = status.format_status([modem], {}, NOW, dict(daemon, loop_lag_max_ms=312.0))
    assert ("event loop lag (last minute): max 312 ms, p99 3 ms - over 50 ms: something blocks the daemon's "
            "event loop, and SMS replies wait that long") in blocked
    assert "event loop lag" not in status.format_status([modem], {}, NOW)  # callers that pass no row


async def test_status_command_shows_the_published_lag(tmp_path):
    """status.publish writes the probe's minute to the database file; `smsd-crm status`, another
    process, prints it beside the modems."""
    config = write_config(tmp_path, "/dev/null")
    settings = load_config(config)
    db = await Database.open(settings.database.path, settings.store.time)
    try:
        await migrate(db, core_schema())
        pool = ModemPool([Modem(settings.modems[0], lambda message: None)])  # not started: its status is enough
        async with blocked_probe() as probe, asyncio.TaskGroup() as tg:
            publisher = tg.create_task(status.publish(pool, db, lambda: datetime.now(timezone.utc), lag=probe))
            await wait_until(lambda: query(settings.database.path, "SELECT samples FROM daemon_status"),
                             what="the lag row")
            publisher.cancel()
    finally:
        await db.close()
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, "status", "-c", str(config),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[1].startswith("sim1")
    found = re.fullmatch(r"event loop lag \(last minute\): max (\d+) ms, p99 (\d+) ms - over 50 ms: .*", lines[-1])
    assert found, lines
    assert int(found[1]) >= BLOCK * 1000 and int(found[2]) <= int(found[1])


async def test_a_database_without_the_table_reads_as_no_row(tmp_path):
    """`smsd-crm status` of a newer install beside an older, still running daemon: the modems, no lag."""
    db = await Database.open(tmp_path / "old.sqlite3")
    try:
        await migrate(db, [("core", m) for m in CORE_MIGRATIONS if m.name not in ("m020_daemon_status", "m022_stores")])
        assert await daemon_status.read(db) is None
        await migrate(db, core_schema())
        assert await daemon_status.read(db) is None  # migrated, not yet written
        await daemon_status.write(db, 1.5, 0.5, 10, NOW)
        assert await daemon_status.read(db) == {"store_id": "main", "loop_lag_max_ms": 1.5, "loop_lag_p99_ms": 0.5,
                                                "samples": 10, "db_outage_from": None, "db_outage_to": None,
                                                "updated_at": NOW.isoformat()}
    finally:
        await db.close()
