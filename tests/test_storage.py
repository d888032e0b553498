"""Both engines (SQLite and a real PostgreSQL server): named migrations in one transaction, savepoints,
dedupe, the outbox queries, driver-neutral errors; SQLite's WAL and foreign keys."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from smsd_crm.errors import StartupError, StorageConflict
from smsd_crm.models import InboundMessage, Migration
from smsd_crm.storage import customers, messages
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate, split_statements
from smsd_crm.storage.schema import CORE_MIGRATIONS

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
async def db(database_target):
    database = await Database.open(database_target)
    await migrate(database, [("core", m) for m in CORE_MIGRATIONS])
    yield database
    await database.close()


async def test_wal_and_foreign_keys(tmp_path):
    db = await Database.open(tmp_path / "t.sqlite3")
    try:
        assert db.engine == "sqlite"
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1
    finally:
        await db.close()


async def test_foreign_keys_hold(db):
    with pytest.raises(StorageConflict):
        await db.execute("INSERT INTO outbox_parts (message_id, part, modem_id, sim_id, reference, phone, sent_at) "
                         "VALUES (424242, 1, 'sim1', 'x', 1, '+62', 'now')")


async def test_a_new_row_id_comes_back_with_returning(db):
    first = await messages.queue_outbound(db, "+6281200000001", "a", NOW)
    second = await messages.queue_outbound(db, "+6281200000002", "b", NOW)
    assert second == first + 1
    assert (await db.fetchone("SELECT text FROM messages WHERE id = ?", (second,)))["text"] == "b"
    assert await db.execute_changes("UPDATE messages SET last_error = 'x' WHERE id IN (?, ?)", (first, second)) == 2


async def test_migrations_are_recorded_and_not_rerun(db):
    rows = await db.fetchall("SELECT owner, name FROM schema_migrations")
    assert [(r[0], r[1]) for r in rows] == [("core", m.name) for m in CORE_MIGRATIONS]
    assert await migrate(db, [("core", m) for m in CORE_MIGRATIONS]) == []


async def test_pending_migrations_run_in_one_transaction(db):
    good = Migration("m001_points", "CREATE TABLE points (id INTEGER PRIMARY KEY);")
    bad = Migration("m002_broken", "CREATE TABLE oops (id INTEGER PRIMARY KEY); SELEC nonsense;")
    with pytest.raises(StartupError, match="points:m002_broken"):
        await migrate(db, [("points", good), ("points", bad)])
    tables = await db.table_names()
    assert "points" not in tables and "oops" not in tables and "messages" in tables
    assert await db.fetchone("SELECT 1 FROM schema_migrations WHERE owner = 'points'") is None


def test_split_statements_keeps_triggers_and_quoted_semicolons():
    script = """CREATE TABLE a (x TEXT DEFAULT 'a;b');
CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 'c;d'; END;
INSERT INTO a VALUES ('e');"""
    assert len(split_statements(script)) == 3


async def test_nested_transaction_is_a_savepoint(db):
    async with db.transaction():
        await customers.upsert(db, "+6281200000001", NOW, name="A")
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await customers.upsert(db, "+6281200000002", NOW, name="B")
                raise RuntimeError("plugin failed")
    assert await customers.get_by_phone(db, "+6281200000001") is not None
    assert await customers.get_by_phone(db, "+6281200000002") is None


async def test_sql_injection_text_is_just_data(db):
    hostile = "Robert'); DROP TABLE customers;--"
    customer, created = await customers.upsert(db, "+6281200000003", NOW, name=hostile)
    assert created and customer.name == hostile
    assert await db.fetchone("SELECT COUNT(*) FROM customers") is not None


async def test_customers_are_found_by_any_case_of_their_name_on_both_engines(db):
    for phone, name in (("+6281200000011", "siti Aminah"), ("+6281200000012", "Budi"), ("+6281200000013", "SITI Rahma")):
        await customers.upsert(db, phone, NOW, name=name)
    found = await customers.search(db, "Siti")  # PostgreSQL had no NOCASE collation: a 500
    assert [c.name for c in found] == ["siti Aminah", "SITI Rahma"]
    assert [c.name for c in await customers.search(db, "50_%")] == []  # LIKE's wildcards are text
    assert [c.phone for c in await customers.search(db, "0812-0000-0012")] == ["+6281200000012"]


async def test_a_nul_character_from_an_sms_is_stored_not_refused(db):
    """PostgreSQL's text cannot hold U+0000: an SMS carrying one stayed on the SIM for ever (each sweep
    failed to store it). Stored with U+FFFD in its place there; SQLite keeps it."""
    stored = await messages.insert_inbound(db, _inbound("HARGA gula\x00"), "+6281200000009", NOW)
    assert stored is not None
    [text] = await db.fetchone("SELECT text FROM messages WHERE id = ?", (stored,))
    assert text == ("HARGA gula\x00" if db.engine == "sqlite" else "HARGA gula\ufffd")
    customer, _ = await customers.upsert(db, "+6281200000014", NOW, name="Si\x00ti")
    assert customer.name in ("Si\x00ti", "Si\ufffdti")


def _inbound(text="DAFTAR x", sender="+6281200000009"):
    return InboundMessage("sim1", sender, text, NOW - timedelta(minutes=1), sim_id="510100000000001")


async def test_the_same_sms_read_twice_is_stored_once(db):
    first = await messages.insert_inbound(db, _inbound(), "+6281200000009", NOW)
    second = await messages.insert_inbound(db, _inbound(), "+6281200000009", NOW)
    assert first is not None and second is None
    assert await messages.pending_inbound(db) == [first]


async def _claim(db, modem="sim1", senders=("sim1", "sim2"), now=NOW, wait=10):
    return await messages.claim_next(db, now, modem, list(senders), now - timedelta(seconds=wait))


async def test_outbox_claims_replies_first_and_requeues_interrupted_rows(db):
    low = await messages.queue_outbound(db, "+6281200000001", "promo", NOW, priority=0)
    high = await messages.queue_outbound(db, "+6281200000002", "reply", NOW)
    claimed = await _claim(db)
    assert claimed.id == high and claimed.attempts == 1
    assert await messages.requeue_interrupted(db, NOW) == 1
    again = await _claim(db)
    assert again.id == high and again.attempts == 2
    await messages.mark_retry(db, again.id, "busy", NOW + timedelta(seconds=60), NOW, failed_modem="sim1")
    assert (await _claim(db)).id == low
    assert await _claim(db) is None
    assert await messages.queue_state(db) == (NOW + timedelta(seconds=60), False)


async def test_a_reply_waits_for_the_sim_the_customer_texted(db):
    row = await messages.queue_outbound(db, "+6281200000001", "reply", NOW, modem_id="sim2")
    assert await _claim(db, "sim1") is None  # sim2 is a sender: wait for it
    assert await _claim(db, "sim1", senders=("sim1",)) is not None  # sim2 is down: take it
    await messages.requeue_interrupted(db, NOW)
    later = NOW + timedelta(seconds=11)
    await db.execute("UPDATE messages SET modem_id = 'sim2', state = 'queued' WHERE id = ?", (row,))
    assert (await _claim(db, "sim1", now=later)).id == row  # waited long enough: any modem


async def test_a_failed_row_prefers_another_modem(db):
    first = await messages.queue_outbound(db, "+6281200000001", "a", NOW)
    second = await messages.queue_outbound(db, "+6281200000002", "b", NOW)
    await _claim(db, "sim1")
    await messages.mark_retry(db, first, "331", NOW, NOW, failed_modem="sim1")
    assert (await _claim(db, "sim1")).id == second
    assert (await _claim(db, "sim1")).id == first  # still allowed when nothing else is left


async def test_two_migrators_at_once_apply_each_migration_once(database_target):
    """Two daemons of a chain starting together: one migrates, the other finds it done."""
    import asyncio
    first, second = await Database.open(database_target), await Database.open(database_target)
    try:
        done = await asyncio.gather(*(migrate(d, [("core", m) for m in CORE_MIGRATIONS]) for d in (first, second)))
        assert sorted(len(names) for names in done) == [0, len(CORE_MIGRATIONS)]
        assert (await first.fetchval("SELECT COUNT(*) FROM schema_migrations")) == len(CORE_MIGRATIONS)
    finally:
        await first.close()
        await second.close()


async def test_an_old_database_upgrades_to_the_fresh_schema(tmp_path):
    async def schema(path, migrations):
        database = await Database.open(path)
        await migrate(database, [("core", m) for m in migrations])
        rows = await database.fetchall(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        await database.close()
        return [tuple(r) for r in rows]

    old = tmp_path / "old.sqlite3"
    await schema(old, CORE_MIGRATIONS[:1])
    assert await schema(old, CORE_MIGRATIONS) == await schema(tmp_path / "new.sqlite3", CORE_MIGRATIONS)


async def test_state_check_constraint(db):
    with pytest.raises(StorageConflict):
        await db.execute("INSERT INTO messages (direction, state, address, text, created_at, updated_at) "
                         "VALUES ('out', 'received', 'x', 'y', 'now', 'now')")


async def test_a_cancelled_transaction_never_leaves_the_connection_inside_one(db):
    import asyncio
    for delay_steps in range(6):
        async def write():
            async with db.transaction():
                await customers.upsert(db, "+6281299999999", NOW, name="x")

        task = asyncio.create_task(write())
        for _ in range(delay_steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with db.transaction():  # would raise "cannot start a transaction within a transaction"
            await db.execute("SELECT 1")
