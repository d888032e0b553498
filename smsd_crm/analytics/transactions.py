"""From a transaction log (customer, date, amount) to the per-customer summary the CLV models use."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import numpy as np

from ..csv_io.reading import read_rows

COLUMNS = ("customer", "date", "amount")


@dataclass(frozen=True)
class Summary:
    """Per customer (same order in every array): repeat occasions, recency, age, spend, hold-out."""

    customers: list[str]
    x: np.ndarray
    t_x: np.ndarray  # weeks from the first purchase to the last (calibration period)
    T: np.ndarray  # weeks from the first purchase to the end of calibration
    zbar: np.ndarray  # mean spend of the repeat occasions (0 when x = 0)
    first_spend: np.ndarray
    holdout: np.ndarray  # purchase occasions after the calibration end (for checking a fit)
    calibration_end: date


def parse_transactions(text: str) -> tuple[list[tuple[str, date, float]], list[str]]:
    """Rows of a CSV with columns customer,date,amount (ISO dates); errors name the line."""
    errors: list[str] = []
    rows = []
    for line, row in read_rows(text, COLUMNS, COLUMNS, errors):
        try:
            day = date.fromisoformat(row["date"][:10])
        except ValueError:
            errors.append(f"line {line}: date {row['date']!r} is not a date like 2026-11-23")
            continue
        try:
            amount = float(row["amount"].replace(",", "."))
        except ValueError:
            errors.append(f"line {line}: amount {row['amount']!r} is not a number")
            continue
        if not row["customer"]:
            errors.append(f"line {line}: the customer is empty")
        elif amount < 0 or not np.isfinite(amount):
            errors.append(f"line {line}: amount {row['amount']!r} must be zero or more")
        else:
            rows.append((row["customer"], day, amount))
    if not rows and not errors:
        errors.append("the file has no transactions")
    return rows, errors


def summarize(rows: list[tuple[str, date, float]], calibration_end: date | None = None) -> Summary:
    """Merge same-day purchases, split at ``calibration_end`` (default: the last date)."""
    end = calibration_end or max(day for _, day, _ in rows)
    by_customer: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for customer, day, amount in rows:
        by_customer[customer][day] += amount
    names, x, t_x, T, zbar, first, holdout = [], [], [], [], [], [], []
    for customer in sorted(by_customer):
        days = sorted(by_customer[customer])
        inside = [d for d in days if d <= end]
        if not inside:
            continue  # first seen after the calibration end: not part of this fit
        names.append(customer)
        x.append(len(inside) - 1)
        t_x.append((inside[-1] - inside[0]).days / 7)
        T.append((end - inside[0]).days / 7)
        repeat = [by_customer[customer][d] for d in inside[1:]]
        zbar.append(sum(repeat) / len(repeat) if repeat else 0.0)
        first.append(by_customer[customer][inside[0]])
        holdout.append(len(days) - len(inside))
    return Summary(names, *(np.array(v, dtype=float) for v in (x, t_x, T, zbar, first, holdout)), end)
