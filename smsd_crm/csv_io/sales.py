"""Till sales as CSV (one row per item; rows with the same receipt form one sale), checked (pure).

Columns: receipt, date, phone (optional), code, quantity, price (optional: the
catalogue price). Every bad row is reported with its line number; a file with
any error imports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from .. import phones
from ..models import Product
from .catalog import parse_rupiah
from .reading import read_rows

COLUMNS = ("receipt", "date", "phone", "code", "quantity", "price")
REQUIRED = ("receipt", "date", "code", "quantity")
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%d-%m-%Y %H:%M", "%d-%m-%Y",
                "%d/%m/%Y %H:%M", "%d/%m/%Y")


@dataclass
class SaleLine:
    product: Product
    quantity: int
    price: int


@dataclass
class Sale:
    """One receipt: when, who (if the till knew the number) and its lines."""

    receipt: str
    sold_at: datetime
    phone: str | None
    line: int
    lines: list[SaleLine] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Sum of the lines, whole rupiah."""
        return sum(x.price * x.quantity for x in self.lines)


def parse_date(text: str, tz: tzinfo) -> datetime:
    """A till's date (several common layouts), in the shop's time zone."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    raise ValueError(f"date {text!r} is not like 2026-11-20 14:05 or 20-11-2026")


def parse_sales(text: str, products: dict[str, Product], tz: tzinfo,
                region: str = "ID") -> tuple[list[Sale], list[str]]:
    """(sales, errors); any error means nothing may be imported."""
    errors: list[str] = []
    sales: dict[str, Sale] = {}
    for line, raw in read_rows(text, COLUMNS, REQUIRED, errors):
        get = lambda k: raw.get(k, "")  # noqa: E731
        try:
            receipt = get("receipt")
            if not receipt or len(receipt) > 40:
                raise ValueError("receipt number is missing or longer than 40 characters")
            sold_at = parse_date(get("date"), tz)
            phone = None
            if get("phone"):
                phone = phones.normalize(get("phone"), region)
                if phone is None:
                    raise ValueError(f"phone {get('phone')!r} is not a phone number")
            product = products.get(get("code").upper())
            if product is None:
                raise ValueError(f"code {get('code')!r} is not in the catalogue")
            if not get("quantity").isdigit() or not 0 < int(get("quantity")) <= 10_000:
                raise ValueError(f"quantity {get('quantity')!r} must be a whole number from 1 to 10000")
            price = parse_rupiah(get("price")) if get("price") else product.price
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
            continue
        sale = sales.setdefault(receipt, Sale(receipt, sold_at, phone, line))
        if (sale.sold_at, sale.phone) != (sold_at, phone):
            errors.append(f"line {line}: receipt {receipt} has another date or phone on line {sale.line}")
            continue
        sale.lines.append(SaleLine(product, int(get("quantity")), price))
    if not sales and not errors:
        errors.append("the file has a header but no sales")
    return list(sales.values()), errors
