"""Orders, complaints and vouchers are core storage with a public facade (``ctx.orders``,
``ctx.complaints``, ``ctx.vouchers``): the tables are there whichever plugins are switched on, a
database the plugins made is not migrated again, and the facade reads and writes them on both
engines, each store's orders its own."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from smsd_crm.config import parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.errors import StorageConflict
from smsd_crm.storage.commerce_schema import COMMERCE_MIGRATIONS
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import CORE_MIGRATIONS

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _settings(tmp_path, target, store: str = "main", plugins: str = ""):
    where = f"url: '{target}'" if isinstance(target, str) else f"path: {target}"
    return parse_config(f"store: {{id: {store}}}\ndatabase: {{{where}}}\n{plugins}", tmp_path / "c.yaml")


async def test_the_tables_are_there_with_the_plugins_switched_off(tmp_path, database_target):
    off = "plugins:\n" + "".join(f"  {p}: {{enabled: false}}\n" for p in ("order", "complaint", "points", "owner"))
    async with offline_session(_settings(tmp_path, database_target, plugins=off), third_party=False) as (host, db):
        assert {"orders", "order_lines", "order_events", "complaints", "complaint_notes", "vouchers",
                "points_ledger"} <= await db.table_names()
        assert "order" not in host.contexts


async def test_a_database_the_plugins_made_is_not_migrated_again(database_target):
    # What the plugins registered under their own names before: the same names, the same tables.
    db = await Database.open(database_target)
    try:
        assert len(await migrate(db, [("core", m) for m in CORE_MIGRATIONS] + COMMERCE_MIGRATIONS)) == \
            len(CORE_MIGRATIONS) + len(COMMERCE_MIGRATIONS)
        assert await migrate(db, [("core", m) for m in CORE_MIGRATIONS] + COMMERCE_MIGRATIONS) == []
        owners = {r[0] for r in await db.fetchall("SELECT owner FROM schema_migrations")}
        assert owners == {"core", "order", "complaint", "points"}
    finally:
        await db.close()


async def test_orders_through_the_facade_are_each_store_s_own(tmp_path, database_target):
    clock = Clock()
    async with offline_session(_settings(tmp_path, database_target), clock, third_party=False) as (host, db):
        ctx = host.contexts["owner"]  # any plugin sees the same facade
        await db.execute("INSERT INTO products (id, code, name, category, unit, price, cost, active, created_at, "
                         "updated_at) VALUES (1, 'B01', 'Beras 5kg', 'Sembako', 'karung', 78000, 70000, 1, ?, ?), "
                         "(2, 'G01', 'Gula 1kg', 'Sembako', 'kg', 18000, 15000, 1, ?, ?)", (NOW.isoformat(),) * 4)
        beras, gula = await ctx.catalog.products()
        number = await ctx.orders.place("+6281200000001", [(beras, 2), (gula, 1)], "id", promo_code="HEMAT10")
        order = await ctx.orders.get(number)
        assert (order.phone, order.state, order.total, order.promo_code, order.store_id) == \
            ("+6281200000001", "new", 174000, "HEMAT10", "main")
        assert [(line.code, line.quantity, line.price, line.cost) for line in await ctx.orders.lines(number)] == \
            [("B01", 2, 78000, 70000), ("G01", 1, 18000, 15000)]
        clock.now = NOW + timedelta(minutes=5)
        await ctx.orders.set_state(number, "ready", "web:kasir")
        assert (await ctx.orders.get(number)).state == "ready"
        assert [tuple(r) for r in await db.fetchall("SELECT state, by FROM order_events WHERE order_id = ? "
                                                    "ORDER BY at", (number,))] == [("new", "sms"), ("ready", "web:kasir")]
        with pytest.raises(ValueError):
            await ctx.orders.set_state(number, "shipped", "cli")
        second = await ctx.orders.place("+6281200000002", [(gula, 3)], "en")
        await ctx.orders.set_state(second, "cancelled", "sms")
        day = (NOW - timedelta(hours=3), NOW + timedelta(hours=21))
        assert await ctx.orders.figures(*day) == (1, 174000, 0, 1)  # the cancelled one is left out
        # another store's order is not this store's to read or move
        await db.execute("UPDATE orders SET store_id = 'b' WHERE id = ?", (second,))
        assert await ctx.orders.get(second) is None


async def test_complaints_and_vouchers_through_the_facade(tmp_path, database_target):
    clock = Clock()
    async with offline_session(_settings(tmp_path, database_target), clock, third_party=False) as (host, db):
        ctx = host.contexts["owner"]
        assert await ctx.complaints.latest_open("+6281200000001") is None
        number = await ctx.complaints.open("+6281200000001", "id")
        await ctx.complaints.add_note(number, "customer", "beras basah", message_id=None)
        clock.now = NOW + timedelta(hours=2)
        await ctx.complaints.mark_answered(number)
        await ctx.complaints.add_note(number, "web:kasir", "Maaf, kami ganti besok")
        assert (await ctx.complaints.get(number)).state == "answered"
        await ctx.complaints.add_note(number, "customer", "ok makasih")  # the customer again: open again
        ticket = await ctx.complaints.latest_open("+6281200000001")
        assert ticket.id == number and ticket.state == "open" and ticket.first_answer_at == NOW + timedelta(hours=2)
        assert await ctx.complaints.open_count() == 1
        await ctx.complaints.mark_closed(number, "diganti")
        closed = await ctx.complaints.get(number)
        assert closed.state == "closed" and closed.close_note == "diganti" and await ctx.complaints.open_count() == 0
        assert await ctx.complaints.latest_open("+6281200000001") is None

        await ctx.vouchers.issue(code="AB12CD34", phone="+6281200000001", reward="KOPI", cost=20, value=1500)
        assert [tuple(r) for r in await db.fetchall("SELECT code, value FROM vouchers")] == [("AB12CD34", 1500)]
        with pytest.raises(StorageConflict):
            await ctx.vouchers.issue(code="AB12CD34", phone="+6281200000002", reward="KOPI", cost=20, value=1500)
