"""Queries on the customers table."""

from __future__ import annotations

from datetime import datetime

from ..models import Customer
from .db import Database, Row

_FIELDS = ("name", "address", "birthday", "language")


def _customer(row: Row) -> Customer:
    return Customer(row["id"], row["phone"], row["name"], row["address"], row["birthday"],
                    row["language"], datetime.fromisoformat(row["created_at"]),
                    datetime.fromisoformat(row["updated_at"]))


async def get_by_phone(db: Database, phone: str) -> Customer | None:
    """The customer with this E.164 number, or None."""
    row = await db.fetchone("SELECT * FROM customers WHERE phone = ?", (phone,))
    return _customer(row) if row else None


async def upsert(db: Database, phone: str, now: datetime, **fields: str | None) -> tuple[Customer, bool]:
    """Create the customer or update the given fields; return (customer, created)."""
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown customer fields: {sorted(unknown)}")
    stamp = now.isoformat()
    async with db.transaction():
        created = False
        if await get_by_phone(db, phone) is None:
            # ON CONFLICT: the same number registering at two stores of a chain at once; the one
            # that comes second updates what the first made.
            cols = ["phone", "created_at", "updated_at", *fields]
            created = 1 == await db.execute_changes(
                f"INSERT INTO customers ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                "ON CONFLICT (phone) DO NOTHING", (phone, stamp, stamp, *fields.values()))
        if not created and fields:
            # Column names come from the fixed _FIELDS list above; values are parameters.
            sets = ", ".join(f"{k} = ?" for k in fields)
            await db.execute(f"UPDATE customers SET {sets}, updated_at = ? WHERE phone = ?",
                             (*fields.values(), stamp, phone))
        customer = await get_by_phone(db, phone)
    assert customer is not None
    return customer, created


async def get_by_id(db: Database, customer_id: int) -> Customer | None:
    """The customer with this id, or None."""
    row = await db.fetchone("SELECT * FROM customers WHERE id = ?", (customer_id,))
    return _customer(row) if row else None


def _like(text: str) -> str:
    """A LIKE pattern that matches ``text`` literally anywhere (``\\`` escapes)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search(db: Database, query: str, country_code: str = "62", limit: int = 50) -> list[Customer]:
    """Customers whose name contains ``query`` or whose number contains its digits.

    A number typed the local way (``0812...``) also matches its international form.
    """
    query = query.strip()[:100]
    if not query:
        rows = await db.fetchall("SELECT * FROM customers ORDER BY updated_at DESC LIMIT ?", (limit,))
        return [_customer(r) for r in rows]
    digits = "".join(c for c in query if c.isdigit())
    if digits.startswith("0"):
        digits = country_code + digits[1:]
    rows = await db.fetchall(
        """SELECT * FROM customers
           WHERE LOWER(name) LIKE ? ESCAPE '\\' OR (? != '' AND phone LIKE ? ESCAPE '\\')
           ORDER BY LOWER(name), id LIMIT ?""",
        (_like(query.lower()), digits, _like(digits), limit))
    return [_customer(r) for r in rows]
