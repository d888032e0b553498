"""A SIM that runs dry is noticed: its credit asked by USSD on a schedule, the owner texted once when the
balance is low (not at every check, not again after a restart; again after a refill and a new drop), and
once when the operator refuses sends with no balance to be read, not once per refused SMS. `smsd-crm run`
as its own process; the emulated modem on a real pseudo-terminal plays a Telkomsel SIM."""

from __future__ import annotations

import asyncio
import signal

import pytest

from smsd_crm.phones import normalize

from .conftest import SMSD_CRM, query, wait_until, write_config

pytestmark = pytest.mark.e2e
OWNER = "+62811000001"
OWNER_PLUGIN = "plugins:\n  owner:\n    numbers: ['0811-000-001']\n    pin: '2468'\n"


def _config(tmp_path, emulator, credit: str):
    config = write_config(tmp_path, emulator.device, extra=OWNER_PLUGIN)
    config.write_text(config.read_text().replace("    sweep_interval: 5\n",
                                                 f"    sweep_interval: 5\n    credit: {credit}\n", 1))
    return config


def _to(core, number: str) -> list[str]:
    return [s.decoded.text for s in core.submitted if normalize(s.decoded.destination.number) == number]


def _checks(core) -> int:
    return sum(1 for c in core.commands if c.startswith("AT+CUSD=1"))


async def test_a_low_balance_texts_the_owner_once_until_it_is_topped_up(tmp_path, emulator, daemons):
    core = emulator.core
    core.credit = 5_000
    config = _config(tmp_path, emulator, "{every_hours: 0.0005, low: 10000}")  # a check every 1.8 s
    db = tmp_path / "data" / "test.sqlite3"
    daemon = await daemons(config, tmp_path / "daemon.log")
    await wait_until(lambda: _to(core, OWNER), 60, "the owner told")
    assert _to(core, OWNER) == ["Pulsa kartu sim1 tinggal Rp5.000. Isi ulang agar SMS toko tetap terkirim."]
    seen = _checks(core)
    await wait_until(lambda: _checks(core) >= seen + 3, 60, "three more checks")
    assert daemon.proc.returncode is None
    assert await daemon.stop(signal.SIGTERM) == 0
    seen = _checks(core)
    await daemons(config, tmp_path / "daemon2.log")
    await wait_until(lambda: _checks(core) >= seen + 2, 60, "checks after the restart")
    assert len(_to(core, OWNER)) == 1  # still low, already told
    # `smsd-crm status` says it (from the pool's published status)
    await wait_until(lambda: query(db, "SELECT balance FROM modem_status WHERE modem_id = 'sim1'") == [(5000,)],
                     30, "the balance published")
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, "status", "-c", str(config), stdout=asyncio.subprocess.PIPE)
    out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    assert "credit sim1: Rp5.000, active until " in out, out
    core.credit = 50_000  # topped up: the alert is over ...
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM credit_alerts") == [(0,)], 60, "alert over")
    core.credit = 3_000  # ... and a new drop is told again
    await wait_until(lambda: len(_to(core, OWNER)) == 2, 60, "told again")
    assert _to(core, OWNER)[1].startswith("Pulsa kartu sim1 tinggal Rp3.000.")


async def test_sends_refused_for_credit_tell_the_owner_once_and_go_out_after_a_top_up(tmp_path, emulator, daemons):
    core = emulator.core
    core.sms_tariff, core.credit = 350, 0
    core.ussd_silent = True  # the balance cannot be read: only the refusals say what is wrong
    config = _config(tmp_path, emulator, "{}")
    db = tmp_path / "data" / "test.sqlite3"
    await daemons(config, tmp_path / "daemon.log")
    customers = [f"+6281255500{i:03d}" for i in range(4)]
    for i, number in enumerate(customers):
        emulator.deliver(number, f"DAFTAR Pelanggan {i}")
    await wait_until(lambda: query(db, "SELECT reason FROM credit_alerts") == [("refused",)], 60, "alert raised")
    refused = sum(1 for c in core.commands if c.startswith(("AT+CMSS", "AT+CMGS")))
    await wait_until(lambda: sum(1 for c in core.commands if c.startswith(("AT+CMSS", "AT+CMGS"))) > refused + 3,
                     60, "more refused sends")
    assert core.submitted == []  # nothing went out: the SIM has no credit
    core.credit = 50_000  # topped up
    await wait_until(lambda: all(_to(core, n) for n in customers) and _to(core, OWNER), 90, "all sent")
    assert [len(_to(core, n)) for n in customers] == [1, 1, 1, 1]
    assert _to(core, OWNER) == ["Operator menolak SMS dari kartu sim1; pulsanya mungkin habis. Cek dan isi ulang."]
    assert "Traceback" not in (tmp_path / "daemon.log").read_text()
