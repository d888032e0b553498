"""Queries on orders, their lines and their state changes (core storage: ``commerce_schema.py``).

An order belongs to the store it was texted to (``store.id``): every query here is the store's own.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from ..models import Order, OrderLine, Product
from .db import Database, Row

STATES = ("new", "ready", "done", "cancelled")


def _order(row: Row) -> Order:
    return Order(row["id"], row["phone"], row["state"], row["total"], row["language"], row["discount"],
                 row["promo_code"], row["store_id"], datetime.fromisoformat(row["created_at"]),
                 datetime.fromisoformat(row["updated_at"]))


async def place(db: Database, *, phone: str, lines: Sequence[tuple[Product, int]], language: str, now: datetime,
                message_id: int | None = None, promo_code: str | None = None, by: str = "sms") -> int:
    """A new order (state ``new``) of ``lines`` (product, quantity) at their catalogue prices and
    costs, with its first event; returns its id. In the caller's transaction, or one of its own."""
    stamp = now.isoformat()
    total = sum(p.price * q for p, q in lines)
    async with db.transaction():
        order_id = int(await db.fetchval(
            "INSERT INTO orders (phone, state, total, language, message_id, created_at, updated_at, promo_code, "
            "store_id) VALUES (?, 'new', ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (phone, total, language, message_id, stamp, stamp, promo_code, db.store)))
        await db.executemany(
            "INSERT INTO order_lines (order_id, line, product_id, code, name, quantity, price, cost) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(order_id, n, p.id, p.code, p.name, q, p.price, p.cost) for n, (p, q) in enumerate(lines, start=1)])
        await db.execute("INSERT INTO order_events (order_id, state, at, by) VALUES (?, 'new', ?, ?)",
                         (order_id, stamp, by))
    return order_id


async def get(db: Database, order_id: int) -> Order | None:
    """One of this store's orders, or None (another store's too: a chain's ids are shared)."""
    row = await db.fetchone("SELECT * FROM orders WHERE id = ? AND store_id = ?", (order_id, db.store))
    return _order(row) if row else None


async def lines(db: Database, order_id: int) -> list[OrderLine]:
    """An order's lines, in order."""
    return [OrderLine(r["line"], r["product_id"], r["code"], r["name"], r["quantity"], r["price"], r["cost"])
            for r in await db.fetchall("SELECT * FROM order_lines WHERE order_id = ? ORDER BY line", (order_id,))]


async def set_state(db: Database, order_id: int, state: str, now: datetime, by: str) -> None:
    """Record a move to ``state`` (one of :data:`STATES`) by ``by`` (``sms``, ``web:name``, ``cli``).
    Which moves are allowed is the caller's rule; ValueError for a state that does not exist."""
    if state not in STATES:
        raise ValueError(f"no order state {state!r}")
    stamp = now.isoformat()
    async with db.transaction():
        await db.execute("UPDATE orders SET state = ?, updated_at = ? WHERE id = ? AND store_id = ?",
                         (state, stamp, order_id, db.store))
        await db.execute("INSERT INTO order_events (order_id, state, at, by) VALUES (?, ?, ?, ?)",
                         (order_id, state, stamp, by))


async def figures(db: Database, since: datetime, until: datetime) -> tuple[int, int, int, int]:
    """This store's orders placed in [``since``, ``until``) (aware instants), cancelled ones left
    out: (count, total rupiah, still new, ready)."""
    row = await db.fetchone(
        "SELECT COUNT(*) AS n, COALESCE(SUM(total), 0) AS t, "
        "COALESCE(SUM(CASE WHEN state = 'new' THEN 1 ELSE 0 END), 0) AS new, "
        "COALESCE(SUM(CASE WHEN state = 'ready' THEN 1 ELSE 0 END), 0) AS ready FROM orders "
        "WHERE created_at >= ? AND created_at < ? AND state != 'cancelled' AND store_id = ?",
        (_utc(since), _utc(until), db.store))
    return row["n"], row["t"], row["new"], row["ready"]


def _utc(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat()
