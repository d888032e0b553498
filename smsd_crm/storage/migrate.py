"""Named migrations, core and per plugin, recorded in ``schema_migrations``.

All pending migrations run in one transaction: a failure leaves the database as it was. A name,
once applied, is never run again, so names never change. One migrator at a time: SQLite's
``BEGIN IMMEDIATE`` serialises them; on PostgreSQL a transaction-level advisory lock does (two
daemons of a chain starting together), and the applied names are read after it is taken.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone

from ..errors import StartupError, StorageError
from ..models import Migration
from .db import Database
from .sql_dialect import SQLITE, postgresql_ddl

LOGGER = logging.getLogger(__name__)
MIGRATION_LOCK = 0x736D7364  # "smsd": the advisory lock key migrators take on PostgreSQL

_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    owner TEXT NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
    PRIMARY KEY (owner, name))"""


def split_statements(script: str) -> list[str]:
    """Split a SQLite script into complete statements (triggers and quoted ``;`` included)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def statements_for(engine: str, migration: Migration) -> list[str]:
    """The statements of ``migration`` on ``engine``: SQLite's one by one; PostgreSQL's as one batch
    (dollar-quoted function bodies hold semicolons)."""
    if engine == SQLITE:
        return split_statements(migration.sql)
    script = postgresql_ddl(migration.postgresql if migration.postgresql is not None else migration.sql)
    return [script] if script.strip() else []


async def applied(db: Database) -> set[tuple[str, str]]:
    """(owner, name) of every applied migration."""
    async with db.transaction():
        if db.engine != SQLITE:
            await db.fetchall("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        await db.execute(_TABLE)
        return {(r["owner"], r["name"]) for r in await db.fetchall("SELECT owner, name FROM schema_migrations")}


async def migrate(db: Database, migrations: list[tuple[str, Migration]]) -> list[str]:
    """Apply the pending ``(owner, migration)`` pairs in order; return their names."""
    now = datetime.now(timezone.utc).isoformat()
    current = ""
    try:
        async with db.transaction():
            done = await applied(db)  # inside: under the lock on PostgreSQL
            pending = [(owner, m) for owner, m in migrations if (owner, m.name) not in done]
            for owner, m in pending:
                current = f"{owner}:{m.name}"
                await db.execute_script(statements_for(db.engine, m))
                await db.execute("INSERT INTO schema_migrations (owner, name, applied_at) VALUES (?, ?, ?)",
                                 (owner, m.name, now))
    except StorageError as exc:
        raise StartupError(f"migration {current} failed, nothing was changed: {exc}") from None
    names = [f"{owner}:{m.name}" for owner, m in pending]
    if names:
        LOGGER.info("applied migrations: %s", ", ".join(names))
    return names
