"""The owner told once when a SIM is about to stop sending: its balance below ``modems[].credit.low``,
its active period or its SMS package ending within ``warn_days``, or sends refused by the operator with
no balance to be read. An alert is raised once (a row in ``credit_alerts``, so a restart does not raise
it again) and re-armed when its cause is gone (a refill, a new package). Raising one emits
:class:`CreditAlert`; the owner plugin texts the owner's numbers."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from typing import Callable, Protocol

from .config import CreditConfig, ModemConfig
from .errors import StorageUnavailable
from .events import CreditAlert
from .storage.db import Database

LOGGER = logging.getLogger(__name__)
INTERVAL = 5.0  # seconds between two looks at the pool's credit figures


class _Status(Protocol):
    id: str
    balance: int | None
    active_until: str | None
    sms_left: int | None
    sms_until: str | None
    credit_checked_at: str | None
    credit_refusals: int


def reasons(row: _Status, config: CreditConfig, today: date) -> set[str]:
    """The alerts ``row`` calls for today (the shop's day)."""
    out = set()
    if row.balance is not None and row.balance < config.low:
        out.add("low")
    if row.active_until and (date.fromisoformat(row.active_until) - today).days <= config.warn_days:
        out.add("expiring")
    if row.sms_left is not None and (row.sms_left == 0 or (
            row.sms_until and (date.fromisoformat(row.sms_until) - today).days <= config.warn_days)):
        out.add("package")
    if row.credit_refusals and row.balance is None:
        out.add("refused")
    return out


async def settle(db: Database, modem_id: str, wanted: set[str], now: datetime) -> set[str]:
    """Record the alerts ``wanted`` for ``modem_id`` and forget the others; the newly raised ones."""
    async with db.transaction():
        held = {r[0] for r in await db.fetchall(
            "SELECT reason FROM credit_alerts WHERE store_id = ? AND modem_id = ?", (db.store, modem_id))}
        for gone in held - wanted:
            await db.execute("DELETE FROM credit_alerts WHERE store_id = ? AND modem_id = ? AND reason = ?",
                             (db.store, modem_id, gone))
        for new in wanted - held:
            await db.execute("INSERT INTO credit_alerts (store_id, modem_id, reason, raised_at) VALUES (?, ?, ?, ?)",
                             (db.store, modem_id, new, now.isoformat()))
    return wanted - held


async def watch(status: Callable[[], list], db: Database, modems: list[ModemConfig],
                emit: Callable[[object], object], clock: Callable[[], datetime], today: Callable[[], date],
                interval: float = INTERVAL) -> None:
    """Until cancelled: each modem with ``credit`` configured, its alerts raised once and re-armed."""
    configs = {m.id: m.credit for m in modems if m.credit is not None}
    # alerts of modems no longer checked (credit switched off, a modem renamed) are forgotten: held, they
    # would keep a new drop from being told when the check comes back
    try:
        await db.execute(f"DELETE FROM credit_alerts WHERE store_id = ? AND modem_id NOT IN "
                         f"({', '.join('?' * len(configs)) or 'NULL'})", (db.store, *configs))
    except StorageUnavailable:
        pass
    if not configs:
        return
    seen: dict[str, tuple] = {}
    while True:
        for row in status():
            config = configs.get(row.id)
            if config is None or row.credit_checked_at is None and not row.credit_refusals:
                continue  # not asked yet: nothing is known to be wrong
            key = (row.balance, row.active_until, row.sms_left, row.sms_until, row.credit_refusals, today())
            if seen.get(row.id) == key:
                continue
            try:
                raised = await settle(db, row.id, reasons(row, config, today()), clock())
            except StorageUnavailable:
                continue  # the next look tries again
            seen[row.id] = key
            for reason in sorted(raised):
                LOGGER.warning("modem %s: credit alert %s (balance %s, active until %s)", row.id, reason,
                               row.balance, row.active_until)
                result = emit(CreditAlert(row.id, reason, row.balance, row.active_until, row.sms_left,
                                          row.sms_until))
                if asyncio.iscoroutine(result):
                    await result
        await asyncio.sleep(interval)
