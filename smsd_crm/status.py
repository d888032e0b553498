"""Modem and daemon health for operators: the daemon publishes it to the database; `smsd-crm status`
prints it and the modems page shows it."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any, Callable, Protocol

from .errors import StorageUnavailable
from .loop_lag import LoopLag
from .models import REGISTRATION_NAMES
from .shop_time import ShopTime, for_zone
from .storage import daemon_status
from .storage import messages as queries
from .storage.db import Database


class StatusSource(Protocol):
    """What publishes modem health (the modem pool): one dataclass per modem, fields as ``modem_status``."""

    def status(self) -> list[Any]: ...


INTERVAL = 5.0
STALE_AFTER = 30.0
LAG_LIMIT_MS = 50  # event loop lag worth an operator's attention: every reply waits that long


async def publish(pool: StatusSource, db: Database, clock: Callable[[], datetime],
                  interval: float = INTERVAL, on_change: Callable[[], None] = lambda: None, *,
                  lag: LoopLag | None = None) -> None:
    """Write the pool's status, and ``lag``'s last minute when given, every ``interval`` seconds;
    mark every modem stopped on the way out.

    ``on_change`` is called when the modems' rows, or whether the lag is over ``LAG_LIMIT_MS``,
    differ from the last write; not for the lag's value, which changes at every write.
    """
    last = None
    try:
        while True:
            rows = [dataclasses.asdict(s) for s in pool.status()]
            try:
                await queries.write_modem_status(db, rows, clock())
                over = await _write_lag(db, lag, clock()) if lag else False
            except StorageUnavailable:  # said once by the database; the modems carry on
                await asyncio.sleep(interval)
                continue
            if (rows, over) != last:
                on_change()
                last = rows, over
            await asyncio.sleep(interval)
    finally:
        rows = [dict(dataclasses.asdict(s), state="stopped") for s in pool.status()]
        try:
            await asyncio.shield(queries.write_modem_status(db, rows, clock()))
        except StorageUnavailable:
            pass  # nobody can read it either


async def _write_lag(db: Database, lag: LoopLag, now: datetime) -> bool:
    """Store the probe's last minute in milliseconds; True when its max is over the limit."""
    s = lag.summary()
    if not s.samples:  # just started: "max 0 ms" would claim a measurement no one made
        return False
    await daemon_status.write(db, s.max * 1000, s.p99 * 1000, s.samples, now)
    return s.max * 1000 > LAG_LIMIT_MS


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
        "credit": credit_text(r),
    }


def _dmy(day: str | None) -> str:
    return f"{day[8:10]}-{day[5:7]}-{day[:4]}" if day else "?"


def credit_text(r: dict[str, Any]) -> str:
    """The SIM's credit as the operator last said (``Rp12.345, active until 31-12-2026, 100 SMS until
    10-12-2026``), why it is not known, or "" when its credit is not checked (pure)."""
    if not r.get("credit_checked_at") and not r.get("credit_refusals"):
        return ""
    parts = []
    if r.get("balance") is not None:
        parts.append("Rp" + f"{r['balance']:,}".replace(",", "."))
    if r.get("active_until"):
        parts.append(f"active until {_dmy(r['active_until'])}")
    if r.get("sms_left") is not None:
        parts.append(f"{r['sms_left']} SMS until {_dmy(r.get('sms_until'))}")
    if r.get("credit_refusals"):
        parts.append(f"{r['credit_refusals']} send(s) refused by the operator")
    if r.get("balance") is None and r.get("credit_note"):
        parts.append(str(r["credit_note"])[:80])
    return ", ".join(parts)


def describe_lag(daemon: dict[str, Any]) -> dict[str, Any]:
    """The ``daemon_status`` row as whole milliseconds and whether it is over the limit (pure; CLI and page)."""
    max_ms = round(daemon["loop_lag_max_ms"])
    return {"max_ms": max_ms, "p99_ms": round(daemon["loop_lag_p99_ms"]), "over": max_ms > LAG_LIMIT_MS,
            "limit_ms": LAG_LIMIT_MS}


def lag_line(daemon: dict[str, Any]) -> str:
    """The event loop lag as `smsd-crm status` prints it (pure)."""
    d = describe_lag(daemon)
    line = f"event loop lag (last minute): max {d['max_ms']} ms, p99 {d['p99_ms']} ms"
    if d["over"]:
        line += (f" - over {d['limit_ms']} ms: something blocks the daemon's event loop, and SMS replies "
                 "wait that long (docs/operations.md)")
    return line


def format_status(rows: list[dict[str, Any]], counts: dict[str, int], now: datetime,
                  daemon: dict[str, Any] | None = None, shop: ShopTime | None = None) -> str:
    """The table `smsd-crm status` prints, with the ``daemon_status`` row's line when given (pure)."""
    if not rows and daemon is None:
        return "no modem status yet: has the daemon been started with this config?"
    lines = []
    newest = max(datetime.fromisoformat(r["updated_at"]) for r in rows + ([daemon] if daemon else []))
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
    if rows:  # a daemon run without modems still has an outbox and a loop
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
        lines += [f"credit {d['modem']}: {d['credit']}" for d in map(describe, rows) if d["credit"]]
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("queued", "sending", "sent", "delivered", "failed"))
    lines.append(f"outbox: {summary}")
    if daemon is not None:
        lines.append(lag_line(daemon))
        if daemon.get("db_outage_from") and daemon.get("db_outage_to"):
            lines.append(outage_line(daemon, shop))
    return "\n".join(lines)


def outage_line(daemon: dict[str, Any], shop: ShopTime | None = None) -> str:
    """The database server's last outage as the daemon saw it, in shop time (pure)."""
    shop = shop or for_zone()
    began, ended = (datetime.fromisoformat(daemon[k]) for k in ("db_outage_from", "db_outage_to"))
    return (f"database: last unreachable {shop.format(began, 'en', seconds=True, zone=True)} for "
            f"{(ended - began).total_seconds():.0f} s (SMS waited on the SIMs; replies resumed)")
