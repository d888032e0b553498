"""Till sales (core: points and analytics count them beside SMS orders).

``sold_at`` is a UTC instant like every stored time: the till's local time, read in ``store.timezone``
(or ``--utc-offset``), is converted on import (shop_time; migration m016 converted older rows)."""

from __future__ import annotations

from datetime import datetime, timezone

from ..csv_io.sales import Sale
from .db import Database


async def import_sales(db: Database, sales: list[Sale], now: datetime) -> list[tuple[int, Sale]]:
    """Store the receipts not imported before, in one transaction; return (id, sale) of the new ones."""
    new = []
    async with db.transaction():
        for sale in sales:
            if await db.fetchone("SELECT 1 FROM sales WHERE receipt = ?", (sale.receipt,)):
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
    return new
