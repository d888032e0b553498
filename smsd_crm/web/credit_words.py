"""A SIM's credit in the page's language (the modems page and the home page)."""

from __future__ import annotations

from typing import Any

from ..understanding.grammar import format_rupiah


def day_text(day: str | None) -> str:
    return f"{day[8:10]}-{day[5:7]}-{day[:4]}" if day else "?"


def credit_words(row: dict[str, Any], speak) -> str:
    """``Rp12.345 · aktif s/d 31-12-2026 · 100 SMS s/d 10-12-2026`` for a ``modem_status`` row; "" when its
    credit is not checked (modems[].credit not set)."""
    if not row.get("credit_checked_at") and not row.get("credit_refusals"):
        return ""
    parts = []
    if row.get("balance") is not None:
        parts.append(format_rupiah(row["balance"]))
    if row.get("active_until"):
        parts.append(speak.t("credit.until", date=day_text(row["active_until"])))
    if row.get("sms_left") is not None:
        parts.append(speak.t("credit.sms", sms=row["sms_left"], date=day_text(row.get("sms_until"))))
    if row.get("credit_refusals"):
        parts.append(speak.t("credit.refused", n=row["credit_refusals"]))
    if row.get("balance") is None and not row.get("credit_refusals"):
        parts.append(speak.t("credit.unknown"))
    return " · ".join(parts)
