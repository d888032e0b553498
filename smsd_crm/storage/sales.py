"""Till sales (core: points and analytics count them beside SMS orders).

``sold_at`` is a UTC instant like every stored time: the till's local time, read in ``store.timezone``
(or ``--utc-offset``), is converted on import (shop_time; migration m016 converted older rows)."""

from __future__ import annotations

from datetime import datetime, timezone

from ..csv_io.sales import Sale
from ..errors import StorageConflict
from .db import Database


async def import_sales(db: Database, sales: list[Sale], now: datetime) -> list[tuple[int, Sale]]:
    """Store the receipts not imported before, in one transaction; return (id, sale) of the new ones.
    StorageConflict, and nothing stored, when a receipt number was imported by another store of the
    chain (receipt numbers are the chain's: two tills both counting from 1 would lose one's sales)."""
    new = []
    others: list[str] = []
    async with db.transaction():
        for sale in sales:
            owner = await db.fetchone("SELECT store_id FROM sales WHERE receipt = ?", (sale.receipt,))
            if owner is not None:
                if owner[0] != db.store:
                    others.append(f"{sale.receipt} (store {owner[0]!r})")
                continue  # the same file (or receipt) imported again: nothing twice
            sale_id = await db.fetchval(
                "INSERT INTO sales (receipt, phone, sold_at, total, created_at, store_id) VALUES (?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                (sale.receipt, sale.phone, sale.sold_at.astimezone(timezone.utc).isoformat(), sale.total,
                 now.isoformat(), db.store))
            for n, line in enumerate(sale.lines, start=1):
                await db.execute(
                    "INSERT INTO sale_lines (sale_id, line, product_id, code, name, quantity, price, cost) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (sale_id, n, line.product.id, line.product.code, line.product.name, line.quantity, line.price,
                     line.product.cost))
            new.append((sale_id, sale))
        if others:
            raise StorageConflict(
                f"{len(others)} receipt number(s) already imported by another store: {', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}; give each store's till its own numbers (a prefix such "
                f"as {db.store.upper()}-); nothing was imported")
    return new
