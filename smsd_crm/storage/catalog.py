"""Queries on the product catalogue (core: orders, price checks and analytics share it)."""

from __future__ import annotations

from datetime import datetime

from ..csv_io.catalog import ProductRow
from ..models import Product
from .db import Database


async def all_products(db: Database, active_only: bool = False) -> list[Product]:
    """Every product with its aliases, by code."""
    rows = await db.fetchall(
        "SELECT * FROM products" + (" WHERE active = 1" if active_only else "") + " ORDER BY code")
    aliases: dict[int, list[str]] = {}
    for r in await db.fetchall("SELECT product_id, alias FROM product_aliases ORDER BY alias"):
        aliases.setdefault(r["product_id"], []).append(r["alias"])
    return [Product(r["id"], r["code"], r["name"], tuple(aliases.get(r["id"], ())), r["category"], r["unit"],
                    r["price"], r["cost"], r["stock"], bool(r["active"])) for r in rows]


async def import_rows(db: Database, rows: list[ProductRow], now: datetime) -> tuple[int, int]:
    """Upsert checked rows by code in one transaction; return (added, updated)."""
    stamp = now.isoformat()
    added = updated = 0
    async with db.transaction():
        for r in rows:
            existing = await db.fetchone("SELECT id FROM products WHERE code = ?", (r.code,))
            if existing is None:
                product_id = await db.fetchval(
                    """INSERT INTO products (code, name, category, unit, price, cost, stock, active, created_at,
                           updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                    (r.code, r.name, r.category, r.unit, r.price, r.cost, r.stock, int(r.active), stamp, stamp))
                added += 1
            else:
                product_id = existing["id"]
                await db.execute(
                    """UPDATE products SET name = ?, category = ?, unit = ?, price = ?, cost = ?, stock = ?,
                           active = ?, updated_at = ? WHERE id = ?""",
                    (r.name, r.category, r.unit, r.price, r.cost, r.stock, int(r.active), stamp, product_id))
                updated += 1
            await db.execute("DELETE FROM product_aliases WHERE product_id = ?", (product_id,))
            for alias in r.aliases:
                await db.execute("INSERT INTO product_aliases (product_id, alias) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                 (product_id, alias))
    return added, updated


async def take_stock(db: Database, product_id: int, quantity: int, now: datetime) -> bool:
    """Take ``quantity`` from a counted stock if there is enough; True if taken (or not counted)."""
    async with db.transaction():
        row = await db.fetchone("SELECT stock FROM products WHERE id = ?", (product_id,))
        if row is None:
            return False
        if row["stock"] is None:
            return True
        if row["stock"] < quantity:
            return False
        await db.execute("UPDATE products SET stock = stock - ?, updated_at = ? WHERE id = ?",
                         (quantity, now.isoformat(), product_id))
    return True


async def return_stock(db: Database, product_id: int, quantity: int, now: datetime) -> None:
    """Put ``quantity`` back on a counted stock (a cancelled order)."""
    await db.execute("UPDATE products SET stock = stock + ?, updated_at = ? WHERE id = ? AND stock IS NOT NULL",
                     (quantity, now.isoformat(), product_id))


async def set_stock(db: Database, code: str, quantity: int, now: datetime) -> Product | None:
    """Set the counted stock of the product with ``code`` (the owner's STOK); None if no such product."""
    changed = await db.execute_changes("UPDATE products SET stock = ?, updated_at = ? WHERE code = ?",
                                       (quantity, now.isoformat(), code.upper()))
    if not changed:
        return None
    return next((p for p in await all_products(db) if p.code == code.upper()), None)
