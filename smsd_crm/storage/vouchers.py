"""Vouchers given for redeemed points (core storage: ``commerce_schema.py``): what each cost the shop
is what the profitability view counts."""

from __future__ import annotations

from datetime import datetime

from .db import Database


async def issue(db: Database, *, code: str, phone: str, reward: str, cost: int, value: int, now: datetime) -> None:
    """Record a voucher: ``cost`` in points, ``value`` in rupiah (what the reward costs the shop).
    StorageConflict when the code exists already."""
    await db.execute("INSERT INTO vouchers (code, phone, reward, cost, value, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                     (code, phone, reward, cost, value, now.isoformat()))
