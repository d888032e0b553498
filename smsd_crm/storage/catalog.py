"""Queries on the product catalogue (core: orders, price checks and analytics share it)."""

from __future__ import annotations

from datetime import datetime

from ..csv_io.catalog import ProductRow
from ..models import Product
from .db import Database


def _main(db: Database) -> bool:
    """Whether this store counts its stock in ``products.stock`` (the store ``main``: a shop on its
    own) rather than in ``store_stock`` (every other store of a chain)."""
    return db.store == "main"


async def all_products(db: Database, active_only: bool = False) -> list[Product]:
    """Every product with its aliases, by code; ``stock`` is this store's count."""
    if _main(db):
        rows = await db.fetchall(
            "SELECT * FROM products" + (" WHERE active = 1" if active_only else "") + " ORDER BY code")
    else:
        rows = await db.fetchall(
            "SELECT p.id, p.code, p.name, p.category, p.unit, p.price, p.cost, s.stock, p.active FROM products p "
            "LEFT JOIN store_stock s ON s.product_id = p.id AND s.store_id = ?"
            + (" WHERE p.active = 1" if active_only else "") + " ORDER BY p.code", (db.store,))
    aliases: dict[int, list[str]] = {}
    for r in await db.fetchall("SELECT product_id, alias FROM product_aliases ORDER BY alias"):
        aliases.setdefault(r["product_id"], []).append(r["alias"])
    return [Product(r["id"], r["code"], r["name"], tuple(aliases.get(r["id"], ())), r["category"], r["unit"],
                    r["price"], r["cost"], r["stock"], bool(r["active"])) for r in rows]


async def _set_own_stock(db: Database, product_id: int, stock: int | None, stamp: str) -> None:
    """This store's count of a product (another store than ``main``)."""
    await db.execute("INSERT INTO store_stock (store_id, product_id, stock, updated_at) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT (store_id, product_id) DO UPDATE SET stock = excluded.stock, "
                     "updated_at = excluded.updated_at", (db.store, product_id, stock, stamp))


async def import_rows(db: Database, rows: list[ProductRow], now: datetime) -> tuple[int, int]:
    """Upsert checked rows by code in one transaction; return (added, updated)."""
    stamp = now.isoformat()
    added = updated = 0
    async with db.transaction():
        for r in rows:
            # The file's stock column is the importing store's count: ``main``'s in products.stock,
            # another store's in store_stock (the chain's products keep main's count as it was).
            existing = await db.fetchone("SELECT id FROM products WHERE code = ?", (r.code,))
            main_stock = r.stock if _main(db) else None
            if existing is None:
                product_id = await db.fetchval(
                    """INSERT INTO products (code, name, category, unit, price, cost, stock, active, created_at,
                           updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                    (r.code, r.name, r.category, r.unit, r.price, r.cost, main_stock, int(r.active), stamp, stamp))
                added += 1
            else:
                product_id = existing["id"]
                # Another store leaves main's count alone: it is not read here, so it is not written back.
                await db.execute(
                    "UPDATE products SET name = ?, category = ?, unit = ?, price = ?, cost = ?, "
                    + ("stock = ?, " if _main(db) else "") + "active = ?, updated_at = ? WHERE id = ?",
                    (r.name, r.category, r.unit, r.price, r.cost, *((r.stock,) if _main(db) else ()), int(r.active),
                     stamp, product_id))
                updated += 1
            if not _main(db):
                await _set_own_stock(db, product_id, r.stock, stamp)
            await db.execute("DELETE FROM product_aliases WHERE product_id = ?", (product_id,))
            for alias in r.aliases:
                await db.execute("INSERT INTO product_aliases (product_id, alias) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                 (product_id, alias))
    return added, updated


async def take_stock(db: Database, product_id: int, quantity: int, now: datetime) -> bool:
    """Take ``quantity`` from this store's counted stock if there is enough; True if taken (or not
    counted), False when short or no such product."""
    async with db.transaction():
        if _main(db):
            row = await db.fetchone("SELECT stock FROM products WHERE id = ?", (product_id,))
        else:
            row = await db.fetchone("SELECT s.stock FROM products p LEFT JOIN store_stock s ON s.product_id = p.id "
                                    "AND s.store_id = ? WHERE p.id = ?", (db.store, product_id))
        if row is None:
            return False
        if row["stock"] is None:
            return True
        if row["stock"] < quantity:
            return False
        if _main(db):
            await db.execute("UPDATE products SET stock = stock - ?, updated_at = ? WHERE id = ?",
                             (quantity, now.isoformat(), product_id))
        else:
            await db.execute("UPDATE store_stock SET stock = stock - ?, updated_at = ? WHERE store_id = ? "
                             "AND product_id = ?", (quantity, now.isoformat(), db.store, product_id))
    return True


async def return_stock(db: Database, product_id: int, quantity: int, now: datetime) -> None:
    """Put ``quantity`` back on this store's counted stock (a cancelled order)."""
    if _main(db):
        await db.execute("UPDATE products SET stock = stock + ?, updated_at = ? WHERE id = ? AND stock IS NOT NULL",
                         (quantity, now.isoformat(), product_id))
    else:
        await db.execute("UPDATE store_stock SET stock = stock + ?, updated_at = ? WHERE store_id = ? "
                         "AND product_id = ? AND stock IS NOT NULL", (quantity, now.isoformat(), db.store, product_id))


async def set_stock(db: Database, code: str, quantity: int, now: datetime) -> Product | None:
    """Set this store's counted stock of the product with ``code`` (the owner's STOK); None if no
    such product."""
    async with db.transaction():
        if _main(db):
            changed = await db.execute_changes("UPDATE products SET stock = ?, updated_at = ? WHERE code = ?",
                                               (quantity, now.isoformat(), code.upper()))
        else:
            product_id = await db.fetchval("SELECT id FROM products WHERE code = ?", (code.upper(),))
            changed = product_id is not None
            if changed:
                await _set_own_stock(db, product_id, quantity, now.isoformat())
    if not changed:
        return None
    return next((p for p in await all_products(db) if p.code == code.upper()), None)
