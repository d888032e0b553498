"""Bulk-load a generated store history (``demo.history``) in one transaction with executemany.

Runs on its own sqlite3 connection in a worker thread, before the daemon starts: a million
rows through the async wrapper one by one would take minutes. It writes the built-in order and
complaint plugins' tables, so those plugins must be enabled (their migrations applied).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from .history import History

if TYPE_CHECKING:
    from ..storage.db import Database


def load_history(path: Path, h: History, now: str) -> dict[str, int]:
    """Insert ``h``; ids continue after the rows already there. Returns row counts per table."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")
        base = {t: conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {t}").fetchone()[0]  # fixed table names
                for t in ("orders", "sales", "complaints")}
        conn.executemany(
            "INSERT OR IGNORE INTO customers (phone, name, address, birthday, language, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'id', ?, ?)", ((*c, c[4]) for c in h.customers))
        conn.executemany(
            "INSERT INTO orders (phone, state, total, language, created_at, updated_at, discount, promo_code) "
            "VALUES (?, ?, ?, 'id', ?, ?, ?, ?)", h.orders)
        conn.executemany("INSERT INTO order_lines (order_id, line, product_id, code, name, quantity, price, cost) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ((r[0] + base["orders"], *r[1:]) for r in h.order_lines))
        conn.executemany("INSERT INTO sales (receipt, phone, sold_at, total, discount, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", ((*s, now) for s in h.sales))
        conn.executemany("INSERT INTO sale_lines (sale_id, line, product_id, code, name, quantity, price, cost) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ((r[0] + base["sales"], *r[1:]) for r in h.sale_lines))
        conn.executemany("INSERT INTO complaints (phone, state, language, opened_at, first_answer_at, closed_at) "
                         "VALUES (?, ?, 'id', ?, ?, ?)", h.complaints)
        conn.executemany("INSERT INTO complaint_notes (complaint_id, at, author, text) VALUES (?, ?, ?, ?)",
                         ((r[0] + base["complaints"], *r[1:]) for r in h.complaint_notes))
        conn.executemany(
            "INSERT INTO messages (direction, state, phone, address, text, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", ((d, s, p, p, t, at, at) for d, s, p, t, at in h.messages))
        conn.executemany(
            "INSERT INTO consent (phone, promotions, updated_at) VALUES (?, 0, ?) "
            "ON CONFLICT (phone) DO UPDATE SET promotions = 0", ((p, now) for p in h.optouts))
        conn.executemany("INSERT INTO consent_events (phone, promotions, at, source) VALUES (?, 0, ?, 'demo')",
                         ((p, now) for p in h.optouts))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return {"customers": len(h.customers), "orders": len(h.orders), "order_lines": len(h.order_lines),
            "sales": len(h.sales), "sale_lines": len(h.sale_lines), "complaints": len(h.complaints),
            "messages": len(h.messages)}


async def load_history_into(db: "Database", h: History, now: str) -> dict[str, int]:
    """:func:`load_history` through the storage API, for any engine (a PostgreSQL shop's demo data and
    tests). Ids are given, continuing after the rows already there, and each table's id sequence is
    moved past them, so later rows made by the daemon do not collide."""
    async with db.transaction():
        base = {t: int(await db.fetchval(f"SELECT COALESCE(MAX(id), 0) FROM {t}"))  # fixed table names
                for t in ("orders", "sales", "complaints")}
        await db.executemany(
            "INSERT INTO customers (phone, name, address, birthday, language, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'id', ?, ?) ON CONFLICT (phone) DO NOTHING", [(*c, c[4]) for c in h.customers])
        await db.executemany(
            "INSERT INTO orders (id, phone, state, total, language, created_at, updated_at, discount, promo_code) "
            "VALUES (?, ?, ?, ?, 'id', ?, ?, ?, ?)", [(base["orders"] + i, *o) for i, o in enumerate(h.orders, 1)])
        await db.executemany("INSERT INTO order_lines (order_id, line, product_id, code, name, quantity, price, cost) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(r[0] + base["orders"], *r[1:]) for r in h.order_lines])
        await db.executemany("INSERT INTO sales (id, receipt, phone, sold_at, total, discount, created_at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", [(base["sales"] + i, *s, now) for i, s in enumerate(h.sales, 1)])
        await db.executemany("INSERT INTO sale_lines (sale_id, line, product_id, code, name, quantity, price, cost) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(r[0] + base["sales"], *r[1:]) for r in h.sale_lines])
        await db.executemany("INSERT INTO complaints (id, phone, state, language, opened_at, first_answer_at, closed_at) "
                             "VALUES (?, ?, ?, 'id', ?, ?, ?)",
                             [(base["complaints"] + i, *c) for i, c in enumerate(h.complaints, 1)])
        await db.executemany("INSERT INTO complaint_notes (complaint_id, at, author, text) VALUES (?, ?, ?, ?)",
                             [(r[0] + base["complaints"], *r[1:]) for r in h.complaint_notes])
        await db.executemany(
            "INSERT INTO messages (direction, state, phone, address, text, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", [(d, s, p, p, t, at, at) for d, s, p, t, at in h.messages])
        await db.executemany(
            "INSERT INTO consent (phone, promotions, updated_at) VALUES (?, 0, ?) "
            "ON CONFLICT (phone) DO UPDATE SET promotions = 0", [(p, now) for p in h.optouts])
        await db.executemany("INSERT INTO consent_events (phone, promotions, at, source) VALUES (?, 0, ?, 'demo')",
                             [(p, now) for p in h.optouts])
        if db.engine == "postgresql":
            for table in ("orders", "sales", "complaints"):
                await db.fetchone(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
    return {"customers": len(h.customers), "orders": len(h.orders), "order_lines": len(h.order_lines),
            "sales": len(h.sales), "sale_lines": len(h.sale_lines), "complaints": len(h.complaints),
            "messages": len(h.messages)}
