"""Modem health for operators: the daemon publishes it to the database; `smsd-crm status` prints it."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any, Callable, Protocol

from .models import REGISTRATION_NAMES
from .storage import messages as queries
from .storage.db import Database


class StatusSource(Protocol):
    """What publishes modem health (the modem pool): one dataclass per modem, fields as ``modem_status``."""

    def status(self) -> list[Any]: ...


INTERVAL = 5.0
STALE_AFTER = 30.0


async def publish(pool: StatusSource, db: Database, clock: Callable[[], datetime],
                  interval: float = INTERVAL, on_change: Callable[[], None] = lambda: None) -> None:
    """Write the pool's status every ``interval`` seconds; mark every modem stopped on the way out.

    ``on_change`` is called when anything but the time stamp differs from the last write.
    """
    last = None
    try:
        while True:
            rows = [dataclasses.asdict(s) for s in pool.status()]
            await queries.write_modem_status(db, rows, clock())
            if rows != last:
                on_change()
                last = rows
            await asyncio.sleep(interval)
    finally:
        rows = [dict(dataclasses.asdict(s), state="stopped") for s in pool.status()]
        await asyncio.shield(queries.write_modem_status(db, rows, clock()))


def signal_text(rssi: int | None) -> str:
    """RSSI 0-31 as "20/31 (-73 dBm)"."""
    if rssi is None:
        return "?"
    return f"{rssi}/31 ({-113 + 2 * rssi} dBm)"


def describe(r: dict[str, Any]) -> dict[str, str]:
    """One modem_status row as display texts (pure; shared by the CLI and the web page)."""
    return {
        "modem": r["modem_id"], "state": r["state"], "signal": signal_text(r["signal"]),
        "network": REGISTRATION_NAMES.get(r["registration"], "?") if r["registration"] is not None else "?",
        "operator": r["operator"] or "?", "imsi": r["imsi"] or "?", "iccid": r["iccid"] or "?",
        "storage": "?" if r["storage_total"] is None else f"{r['storage_used']}/{r['storage_total']}",
        "sent": str(r["sent"]), "received": str(r["received"]), "last_error": (r["last_error"] or "")[:60],
        "port": r["port"], "updated_at": r["updated_at"][:19].replace("T", " "),
    }


def format_status(rows: list[dict[str, Any]], counts: dict[str, int], now: datetime) -> str:
    """The table `smsd-crm status` prints (pure)."""
    if not rows:
        return "no modem status yet: has the daemon been started with this config?"
    lines = []
    newest = max(datetime.fromisoformat(r["updated_at"]) for r in rows)
    age = (now - newest).total_seconds()
    if age > STALE_AFTER:
        lines.append(f"(last update {age:.0f} s ago: is the daemon running?)")
    header = ("modem", "state", "signal", "network", "operator", "IMSI", "ICCID", "SIM storage",
              "sent", "received", "last error")
    table = [header]
    keys = ("modem", "state", "signal", "network", "operator", "imsi", "iccid", "storage", "sent",
            "received", "last_error")
    for r in rows:
        d = describe(r)
        table.append(tuple(d[k] for k in keys))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("queued", "sending", "sent", "delivered", "failed"))
    lines.append(f"outbox: {summary}")
    return "\n".join(lines)
