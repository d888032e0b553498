"""Delivery reports and the other receive paths, over real pseudo-terminals."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from smsd_crm.config import ModemConfig, OutboxConfig
from smsd_crm.emulator.core import StoredSms
from smsd_crm.emulator.pty_modem import PtyModem
from smsd_crm.modem.modem import Modem
from smsd_crm.modem.pool import ModemPool
from smsd_crm.outbox import Outbox
from smsd_crm.sms.compose import encode_status_report
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import core_schema

from .conftest import wait_until


def now() -> datetime:
    return datetime.now(timezone.utc)


class Rig:
    """One emulated modem, its driver with delivery reports on, pool, outbox and database."""

    def __init__(self, emu: PtyModem, db: Database) -> None:
        self.emu, self.db = emu, db
        self.inbound: list = []
        self.events: list = []

    async def start(self) -> "Rig":
        async def sink(message):
            self.inbound.append(message)

        async def emit(event):
            self.events.append(event)

        self.modem = Modem(ModemConfig(id="sim1", port=self.emu.device), sink,
                           report_sink=lambda r: self.outbox.record_report(r), reports=True)
        self.pool = ModemPool([self.modem])
        self.outbox = Outbox(self.db, OutboxConfig(delivery_reports=True), now, emit)
        self.tasks = [asyncio.create_task(self.pool.run()), asyncio.create_task(self.outbox.run(self.pool))]
        await asyncio.wait_for(self.modem.ready.wait(), 10)
        return self

    async def send(self, text: str, phone: str = "+6281234567890") -> int:
        return await self.outbox.enqueue(phone, text)

    async def state(self, message_id: int) -> str:
        return (await self.db.fetchone("SELECT state FROM messages WHERE id = ?", (message_id,)))[0]

    async def wait_state(self, message_id: int, state: str) -> None:
        async with asyncio.timeout(10):
            while await self.state(message_id) != state:
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def rig(tmp_path):
    rigs = []

    async def make(**knobs) -> Rig:
        emu = PtyModem("sim1", imsi="510109999999999")
        for k, v in knobs.items():
            setattr(emu.core, k, v)
        await emu.start()
        db = await Database.open(tmp_path / f"r{len(rigs)}.sqlite3")
        await migrate(db, core_schema())
        r = await Rig(emu, db).start()
        rigs.append(r)
        return r

    yield make
    for r in rigs:
        await r.stop()
        await r.db.close()
        await r.emu.stop()


def _reported(r) -> list[str]:
    return [e.state for e in r.events if type(e).__name__ == "DeliveryReported"]


async def test_cds_reports_not_final_then_delivered(rig):
    r = await rig(report_statuses=[0x20, 0x00])
    message_id = await r.send("Pesanan Anda siap")
    await r.wait_state(message_id, "delivered")
    assert r.emu.core.submitted[0].decoded.status_report_request
    assert "AT+CNMI=2,1,0,1,0" in r.emu.core.commands
    # the event is emitted after the commit the state comes from: wait for it, not for the state
    await wait_until(lambda: "delivered" in _reported(r), 10, "the delivered event")
    assert _reported(r) == ["sent", "delivered"]  # the 0x20 report was kept as not final
    part = await r.db.fetchone("SELECT status, final, sim_id FROM outbox_parts WHERE message_id = ?",
                               (message_id,))
    assert tuple(part) == (0, 1, "510109999999999")


async def test_cdsi_reports_are_read_from_sr_memory_and_deleted(rig):
    r = await rig(supported_ds={0, 2})
    message_id = await r.send("Halo")
    await r.wait_state(message_id, "delivered")
    commands = r.emu.core.commands
    assert "AT+CNMI=2,1,0,2,0" in commands and 'AT+CPMS="SR"' in commands
    await wait_until(lambda: r.emu.core.memories["SR"] == {}, 10, "the report deleted from SR")
    # SM is selected again afterwards (the outbox's AT+CMGR/AT+CMGD on SM slots wait for it)
    await wait_until(lambda: [c for c in commands if c.startswith("AT+CPMS")][-1] == 'AT+CPMS="SM","SM","SM"',
                     10, "SM selected again")


async def test_a_failed_report_fails_the_message(rig):
    r = await rig(report_statuses=[0x41])
    message_id = await r.send("Halo")
    await r.wait_state(message_id, "failed")
    row = await r.db.fetchone("SELECT last_error FROM messages WHERE id = ?", (message_id,))
    assert "0x41" in row[0]


async def test_multipart_is_delivered_when_every_part_is(rig):
    r = await rig(report_statuses=[0x00])
    message_id = await r.send("Promo minggu ini " * 20)
    await r.wait_state(message_id, "delivered")
    parts = await r.db.fetchall("SELECT part, reference, final FROM outbox_parts WHERE message_id = ? ORDER BY part",
                                (message_id,))
    assert len(parts) == 3 and all(p[2] == 1 for p in parts)
    assert len({p[1] for p in parts}) == 3


async def test_reports_and_direct_messages_are_acknowledged_when_the_mode_needs_it(rig):
    r = await rig(csms_service=1, deliver_direct=True)
    message_id = await r.send("Halo")
    await r.wait_state(message_id, "delivered")
    r.emu.deliver("+6281299999999", "KOMPLAIN telur pecah")
    await wait_until(lambda: r.inbound, 10)
    assert r.inbound[0].text == "KOMPLAIN telur pecah"
    await wait_until(lambda: r.emu.core.unacknowledged == 0, 10, "every +CMT/+CDS acknowledged")
    assert r.emu.core.commands.count("AT+CNMA") == 2


@pytest.mark.parametrize("written", [lambda n: n.lstrip("+"), lambda n: "0" + n[3:]],
                         ids=["62812-type-unknown", "0812-national"])
async def test_a_report_whose_recipient_lacks_the_plus_is_matched(rig, written):
    # Networks that write the recipient with type of number unknown (6281…, 0812…) still match.
    r = await rig(report_recipient=written)
    message_id = await r.send("Pesanan Anda siap", phone="+6281200000031")
    await r.wait_state(message_id, "delivered")
    await wait_until(lambda: _reported(r), 10, "the delivered event")
    assert _reported(r) == ["delivered"]


async def test_a_report_for_nothing_we_sent_is_ignored(rig):
    r = await rig()
    await r.outbox.record_report(type("R", (), dict(sim_id="x", reference=9, recipient="+62811", status=0,
                                                    final=True, modem_id="sim1"))())
    assert r.events == []


async def test_cdsi_for_an_index_already_gone_is_harmless(rig):
    r = await rig()
    r.emu.core._send_line('+CDSI: "SR",7')  # nothing at SR 7: +CMS ERROR: 321
    message_id = await r.send("masih jalan")
    await r.wait_state(message_id, "delivered")


async def test_reports_stored_in_sr_never_leave_sent_copies_on_the_sim(rig):
    # Reading reports switches AT+CMGR/AT+CMGD to SR; the outbox's reads and deletes of its own SM
    # slots wait until SM is selected again, so no sent copy is left behind to fill the SIM.
    r = await rig(supported_ds={0, 2})
    ids = [await r.send(f"Halo {i}", phone=f"+62812345678{i:02d}") for i in range(12)]
    for message_id in ids:
        await r.wait_state(message_id, "delivered")
    await wait_until(lambda: not [i for i, s in r.emu.core.storage.items() if s.stat in (2, 3)], 10,
                     "no sent copy left in SM")
    # A report's slot is deleted after its "delivered" is committed: wait for that delete, not the state.
    await wait_until(lambda: r.emu.core.memories["SR"] == {}, 10, "every report deleted from SR")


async def test_reports_waiting_in_sr_at_start_are_read_by_the_sweep(rig):
    # A report stored while the daemon was down (its +CDSI went to nobody) is found by a sweep.
    r = await rig(supported_ds={0, 2})
    message_id = await r.send("Halo")
    await r.wait_state(message_id, "delivered")
    r.emu.core.report_statuses = []  # the next report is held back by the network for now
    second = await r.send("Halo lagi", phone="+6281234567891")
    await r.wait_state(second, "sent")
    core = r.emu.core
    await wait_until(lambda: core.memories["SR"] == {}, 10)
    record = next(s for s in core.submitted if s.decoded.text == "Halo lagi")
    # the network's report arrives in SR without a notice, as when the daemon was down
    pdu = encode_status_report(record.reference, record.decoded.destination.number, now(), now(), 0)
    core.memories["SR"][0] = StoredSms(0, pdu)
    r.modem._work.put_nowait(("sweep",))  # the next periodic sweep, without waiting a minute for it
    await r.wait_state(second, "delivered")
    await wait_until(lambda: core.memories["SR"] == {}, 10, "the report deleted from SR")
