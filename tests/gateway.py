"""An in-process gateway for driver tests: emulated modems on real pseudo-terminals, the real
Modem drivers, ModemPool, Outbox and a real SQLite file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from smsd_crm.config import ModemConfig, OutboxConfig
from smsd_crm.emulator.pty_modem import PtyModem
from smsd_crm.modem.modem import Modem
from smsd_crm.modem.pool import ModemPool
from smsd_crm.outbox import Outbox
from smsd_crm.storage import messages
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import core_schema

from .conftest import query

FAST = dict(command_timeout=0.5, health_interval=0.3, sweep_interval=0.5)


def now() -> datetime:
    return datetime.now(UTC)


class Gateway:
    """Emulated modems + drivers + pool + outbox + database, all in this process."""

    def __init__(self, tmp_path, count: int = 1, outbox: dict | None = None, emulator: dict | None = None,
                 **modem_options) -> None:
        self.tmp = tmp_path
        self.emus = [PtyModem(f"sim{i + 1}", link=tmp_path / f"ttyUSB-sim{i + 1}", imsi=f"51010000000000{i}",
                              imei=f"86000000000000{i}", **(emulator or {}))
                     for i in range(count)]
        self.outbox_options = {"retry_min": 0.05, "retry_max": 0.2, "max_attempts": 20, "same_sim_wait": 0,
                               **(outbox or {})}
        self.options = {**FAST, **modem_options}
        self.inbound: list = []

    async def __aenter__(self) -> Gateway:
        for e in self.emus:
            await e.start()
        self.db = await Database.open(self.tmp / "gw.sqlite3")
        await migrate(self.db, core_schema())

        async def sink(message):
            # Committed before the modem may delete it, as the daemon's router does.
            await messages.insert_inbound(self.db, message, message.sender, now())
            self.inbound.append(message)

        async def emit(event):
            pass

        self.modems = [Modem(ModemConfig(id=e.modem_id, port=str(e.link), **self.options), sink)
                       for e in self.emus]
        self.pool = ModemPool(self.modems, backoff_min=0.05, backoff_max=0.2)
        self.outbox = Outbox(self.db, OutboxConfig(**self.outbox_options), now, emit)
        self.tasks = [asyncio.create_task(self.pool.run()), asyncio.create_task(self.outbox.run(self.pool))]
        return self

    async def ready(self, *indexes: int) -> None:
        for i in indexes or range(len(self.modems)):
            await asyncio.wait_for(self.modems[i].ready.wait(), 15)

    async def queue(self, phone: str, text: str, modem_id: str | None = None) -> int:
        return await self.outbox.enqueue(phone, text, modem_id=modem_id)

    async def state(self, message_id: int) -> str:
        return (await self.db.fetchone("SELECT state FROM messages WHERE id = ?", (message_id,)))[0]

    def state_now(self, message_id: int) -> str | None:
        """The row's state read beside the daemon's connection (for wait_until predicates)."""
        rows = query(self.tmp / "gw.sqlite3", "SELECT state FROM messages WHERE id = ?", (message_id,))
        return rows[0][0] if rows else None

    def submitted_to(self, phone: str) -> int:
        return sum(1 for e in self.emus for s in e.core.submitted if s.decoded.destination.number == phone)

    async def __aexit__(self, *exc) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.db.close()
        for e in self.emus:
            if e.path:
                await e.stop()
