"""The points ledger: a model of FIFO points checked against the plugin on a real database,
invariants after every step, all-or-nothing redemption, and concurrent redemptions."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import smsd_crm_points as points
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsd_crm.config import parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.errors import StorageConflict

PHONE = "+6281234567890"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def _session(folder: Path, clock: Clock):
    settings = parse_config("plugins:\n  points:\n    expiry_days: 365\n", folder / "c.yaml")
    return offline_session(settings, clock=clock)


class Model:
    """FIFO lots: spending and expiry take the oldest points first."""

    def __init__(self) -> None:
        self.lots: list[list] = []  # [earned_at, remaining]

    def balance(self) -> int:
        return sum(r for _, r in self.lots)

    def spend(self, amount: int) -> bool:
        if self.balance() < amount:
            return False
        for lot in self.lots:
            take = min(lot[1], amount)
            lot[1] -= take
            amount -= take
        return True

    def expire(self, now: datetime, days: int) -> None:
        for lot in self.lots:
            if lot[0] < now - timedelta(days=days):
                lot[1] = 0


ops = st.lists(st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 300)),
    st.tuples(st.just("redeem"), st.sampled_from([0, 1, 2])),
    st.tuples(st.just("wait"), st.integers(1, 200)),
    st.tuples(st.just("expire"), st.just(0)),
), max_size=25)


async def _run(steps) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        async with await _session(Path(tmp), clock) as (host, db):
            ctx = host.contexts["points"]
            rewards = ctx.config.rewards
            model = Model()
            for i, (op, value) in enumerate(steps):
                if op == "earn":
                    assert await points.earn(ctx, PHONE, value, "till", f"sale-{i}")
                    model.lots.append([clock.now, value])
                elif op == "redeem":
                    await points.expire(ctx, PHONE, clock.now)
                    model.expire(clock.now, 365)
                    voucher, left = await points.redeem(ctx, PHONE, rewards[value])
                    assert (voucher is not None) == model.spend(rewards[value].cost)
                elif op == "wait":
                    clock.now += timedelta(days=value)
                else:
                    await points.expire(ctx, PHONE, clock.now)
                    model.expire(clock.now, 365)
                ledger_sum = (await db.fetchone("SELECT COALESCE(SUM(delta), 0) FROM points_ledger"))[0]
                assert await points.balance(ctx, PHONE) == ledger_sum == model.balance() >= 0
            vouchers = await db.fetchall("SELECT code, cost FROM vouchers ORDER BY code")
            redeems = await db.fetchall("SELECT ref, -delta FROM points_ledger WHERE reason = 'redeem' ORDER BY ref")
            assert [tuple(v) for v in vouchers] == [tuple(r) for r in redeems]  # all or nothing


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=ops)
def test_ledger_matches_the_fifo_model_and_never_goes_negative(steps):
    asyncio.run(_run(steps))


async def test_concurrent_redemptions_never_overspend(tmp_path):
    clock = Clock()
    async with await _session(tmp_path, clock) as (host, db):
        ctx = host.contexts["points"]
        await points.earn(ctx, PHONE, 250, "till", "s1")
        v10 = ctx.config.rewards[0]
        results = await asyncio.gather(*(points.redeem(ctx, PHONE, v10) for _ in range(10)))
        codes = [code for code, _ in results if code]
        assert len(codes) == 2 and len(set(codes)) == 2
        assert await points.balance(ctx, PHONE) == 50
        assert (await db.fetchone("SELECT COUNT(*) FROM vouchers"))[0] == 2
        # each voucher keeps what the reward costs the shop (the profitability view counts it)
        assert (await db.fetchone("SELECT SUM(value) FROM vouchers"))[0] == 2 * v10.value == 20_000


async def test_an_order_earns_once_and_the_ledger_is_append_only(tmp_path):
    from smsd_crm import OrderStateChanged
    clock = Clock()
    async with await _session(tmp_path, clock) as (host, db):
        event = OrderStateChanged(7, PHONE, "ready", "done", 174000)
        await host.emit(event)
        await host.emit(event)  # seen twice (a restart, a retry): earned once
        assert await points.balance(host.contexts["points"], PHONE) == 174
        await host.emit(OrderStateChanged(8, PHONE, "new", "cancelled", 50000))
        assert await points.balance(host.contexts["points"], PHONE) == 174
        with pytest.raises(StorageConflict, match="append-only"):
            await db.execute("UPDATE points_ledger SET delta = 1000")
        with pytest.raises(StorageConflict, match="append-only"):
            await db.execute("DELETE FROM points_ledger")
