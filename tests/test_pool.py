"""The modem pool: lending senders (unit, fake clock) and failover over real ptys."""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import pytest

from smsd_crm.config import ModemConfig, OutboxConfig, preferred_modem
from smsd_crm.emulator.pty_modem import PtyModem
from smsd_crm.modem.modem import Modem
from smsd_crm.modem.pool import FAILURE_LIMIT, REST_SECONDS, ModemPool
from smsd_crm.outbox import Outbox
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import core_schema

from .conftest import wait_until


class FakeModem:
    def __init__(self, modem_id: str, **config) -> None:
        self.id = modem_id
        self.config = ModemConfig(id=modem_id, port="/dev/null", **config)
        self.ready = asyncio.Event()
        self.ready.set()
        self.on_change = lambda: None
        self.imei = self.sim_id = ""
        self.sent = self.received = 0

    @property
    def can_send(self) -> bool:
        return self.config.send and self.ready.is_set()


@pytest.fixture
def clock():
    return [1000.0]


def make_pool(clock, *modems):
    return ModemPool(list(modems), clock=lambda: clock[0])


async def test_least_used_idle_modem_is_lent_and_busy_ones_are_not(clock):
    a, b = FakeModem("a"), FakeModem("b")
    pool = make_pool(clock, a, b)
    first = await pool.acquire(0)
    second = await pool.acquire(0)
    assert {first.id, second.id} == {"a", "b"}
    assert await pool.acquire(0) is None  # both busy
    pool.release(first, True)
    assert (await pool.acquire(0)) is first


async def test_receive_only_and_not_ready_modems_never_send(clock):
    rx, down = FakeModem("rx", send=False), FakeModem("down")
    down.ready.clear()
    pool = make_pool(clock, rx, down)
    assert await pool.acquire(0) is None
    assert pool.senders() == []


async def test_rate_limit_per_minute(clock):
    a = FakeModem("a", max_per_minute=2)
    pool = make_pool(clock, a)
    for _ in range(2):
        pool.release(await pool.acquire(0), True)
    assert await pool.acquire(0) is None
    clock[0] += 60.0
    assert await pool.acquire(0) is a


async def test_a_reservation_that_sent_nothing_does_not_count(clock):
    a = FakeModem("a", max_per_minute=1)
    pool = make_pool(clock, a)
    pool.release(await pool.acquire(0), None)
    assert await pool.acquire(0) is a


async def test_repeated_failures_rest_a_modem_then_it_is_tried_again(clock):
    a, b = FakeModem("a"), FakeModem("b")
    pool = make_pool(clock, a, b)
    for _ in range(FAILURE_LIMIT):
        pool.release(a, False)
    assert pool.senders() == ["b"]
    assert (await pool.acquire(0)) is b and await pool.acquire(0) is None
    clock[0] += REST_SECONDS
    assert await pool.acquire(0) is a


async def test_acquire_wakes_when_a_modem_is_released(clock):
    a = FakeModem("a")
    pool = make_pool(clock, a)
    lent = await pool.acquire(0)
    waiter = asyncio.create_task(pool.acquire(5))
    await asyncio.sleep(0)
    pool.release(lent, True)
    assert await asyncio.wait_for(waiter, 1) is a


def test_prefix_routing():
    modems = [ModemConfig(id="xl", port="x", prefixes=["+62817", "+62818"]), ModemConfig(id="tsel", port="y"),
              ModemConfig(id="rx", port="z", send=False, prefixes=["+62812"])]
    assert preferred_modem(modems, "+6281712345678") == "xl"
    assert preferred_modem(modems, "+6281212345678") is None  # a receive-only modem sends nothing


# ------------------------------------------------------------ over real ptys

NOW = lambda: datetime.now(timezone.utc)  # noqa: E731


@asynccontextmanager
async def _running_pool(tmp_path, **outbox_options):
    """Two emulated modems on ptys, the pool and an outbox over a real SQLite file, running."""
    emus = [PtyModem(f"sim{i}", imsi=f"51010000000000{i}") for i in (1, 2)]
    for e in emus:
        await e.start()
    db = await Database.open(tmp_path / "pool.sqlite3")
    await migrate(db, core_schema())

    async def sink(message):
        pass

    modems = [Modem(ModemConfig(id=e.modem_id, port=e.device), sink) for e in emus]
    pool = ModemPool(modems)

    async def emit(event):
        pass

    outbox = Outbox(db, OutboxConfig(retry_min=0.05, retry_max=0.2, max_attempts=10, same_sim_wait=0),
                    NOW, emit, **outbox_options)
    tasks = [asyncio.create_task(pool.run()), asyncio.create_task(outbox.run(pool))]
    try:
        await asyncio.wait_for(asyncio.gather(*(m.ready.wait() for m in modems)), 10)
        yield emus, db, outbox
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await db.close()
        for e in emus:
            await e.stop()


@pytest.fixture
async def two_modems(tmp_path):
    async with _running_pool(tmp_path) as running:
        yield running


async def _queue(db, outbox, count):
    for i in range(count):
        await outbox.enqueue(f"+62812000{i:05d}", f"Pesan {i}")


def _sent_by_number(emus) -> Counter:
    return Counter(s.decoded.destination.number for e in emus for s in e.core.submitted)


async def test_sends_spread_over_the_pool(two_modems):
    emus, db, outbox = two_modems
    for e in emus:
        e.core.send_delay = 0.05
    await _queue(db, outbox, 20)
    await wait_until(lambda: sum(_sent_by_number(emus).values()) == 20, 30)
    assert all(len(e.core.submitted) >= 5 for e in emus)
    assert set(_sent_by_number(emus).values()) == {1}


async def test_a_failing_modem_hands_its_messages_to_the_other(two_modems):
    emus, db, outbox = two_modems
    emus[0].core.submit_error = 332  # network timeout on sim1, every time
    await _queue(db, outbox, 10)
    await wait_until(lambda: len(_sent_by_number(emus)) == 10, 30)
    # the modem has them on the air; the daemon records "sent" just after: wait for that record
    async with asyncio.timeout(30):
        while (await db.fetchone("SELECT COUNT(*) FROM messages WHERE state IN ('queued', 'sending')"))[0]:
            await asyncio.sleep(0.05)
    assert emus[0].core.submitted == [] and set(_sent_by_number(emus).values()) == {1}
    rows = await db.fetchall("SELECT state, modem_id FROM messages")
    assert {(r[0], r[1]) for r in rows} == {("sent", "sim2")}


async def test_a_sim_stops_sending_campaign_messages_at_its_daily_limit_but_not_replies(tmp_path):
    from smsd_crm.storage import campaigns
    async with _running_pool(tmp_path, daily_campaign_limits={"sim1": 3, "sim2": 2}) as (emus, db, outbox):
        cid = await campaigns.create(db, name="t", text={"id": "x"}, audience={"kind": "all"}, now=NOW())
        for i in range(10):
            await outbox.enqueue(f"+62813000{i:05d}", f"Promo {i}", priority=0, campaign_id=cid)
        await wait_until(lambda: sum(len(e.core.submitted) for e in emus) == 5, 30, "the day's allowance")
        await outbox.enqueue("+6281299999999", "Balasan")  # a reply still goes out
        await wait_until(lambda: "+6281299999999" in _sent_by_number(emus), 30, "the reply")
        assert [len([s for s in e.core.submitted if s.decoded.text.startswith("Promo")]) for e in emus] == [3, 2]
        assert tuple(await db.fetchone("SELECT COUNT(*) FROM messages WHERE campaign_id = ? AND state = 'queued'",
                                       (cid,))) == (5,)


async def test_a_replugged_modem_is_reopened_when_its_path_returns_not_after_the_backoff(tmp_path):
    """The backoff is an hour, so only the watch on the device path can explain the reopen."""
    emu = PtyModem("sim1", link=tmp_path / "ttyUSB0")
    await emu.start()

    async def sink(message):
        pass

    modem = Modem(ModemConfig(id="sim1", port=emu.device), sink)
    pool = ModemPool([modem], backoff_min=3600, backoff_max=3600)
    task = asyncio.create_task(pool.run())
    try:
        await wait_until(lambda: modem.ready.is_set(), 20, "first start")
        emu.unplug()
        # The supervisor records the error just before it starts its hour-long wait.
        await wait_until(lambda: pool.status()[0].last_error, 20, "the pool noticed the unplug")
        assert not modem.ready.is_set()
        await emu.replug()
        await wait_until(lambda: modem.ready.is_set(), 30, "reopened after the re-plug")
        assert modem.ready_count == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await emu.stop()
