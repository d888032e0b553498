"""Named migrations, core and per plugin, recorded in ``schema_migrations``.

All pending migrations run in one transaction: a failure leaves the database as
it was. A name, once applied, is never run again, so names never change.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone

from ..errors import StartupError
from ..models import Migration
from .db import Database

LOGGER = logging.getLogger(__name__)

_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    owner TEXT NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
    PRIMARY KEY (owner, name))"""


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (triggers and quoted ``;`` included)."""
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


async def applied(db: Database) -> set[tuple[str, str]]:
    """(owner, name) of every applied migration."""
    await db.execute(_TABLE)
    return {(r["owner"], r["name"]) for r in await db.fetchall("SELECT owner, name FROM schema_migrations")}


async def migrate(db: Database, migrations: list[tuple[str, Migration]]) -> list[str]:
    """Apply the pending ``(owner, migration)`` pairs in order; return their names."""
    done = await applied(db)
    pending = [(owner, m) for owner, m in migrations if (owner, m.name) not in done]
    if not pending:
        return []
    now = datetime.now(timezone.utc).isoformat()
    current = ""
    try:
        async with db.transaction():
            for owner, m in pending:
                current = f"{owner}:{m.name}"
                await db.execute_script(split_statements(m.sql))
                await db.execute("INSERT INTO schema_migrations (owner, name, applied_at) VALUES (?, ?, ?)",
                                 (owner, m.name, now))
    except sqlite3.Error as exc:
        raise StartupError(f"migration {current} failed, nothing was changed: {exc}") from None
    names = [f"{owner}:{m.name}" for owner, m in pending]
    LOGGER.info("applied migrations: %s", ", ".join(names))
    return names
