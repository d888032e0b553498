"""The link to the PostgreSQL server goes down for 30 s under load (the server stops: every connection
cut, new ones refused) and comes back: SMS wait on the SIM until they are committed, the modems stay
ready, the daemon says so and reconnects, nothing is lost and nothing is sent twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from smsd_crm.emulator.pty_modem import PtyModem
from smsd_crm.phones import normalize

from .conftest import SMSD_CRM, query, wait_until
from .postgres_server import PostgresServer
from .test_chain import chain_config

pytestmark = pytest.mark.e2e
OUTAGE = 30.0  # seconds the server is away: the scenario, not a wait for an event


@pytest.fixture
def own_server():
    """A server of this test's own: it is stopped and started again."""
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
async def two_modems(tmp_path):
    pair = [PtyModem(name, link=tmp_path / f"ttyUSB-{name}", imsi=f"5101000000100{n}")
            for n, name in enumerate(("a1", "a2"), start=1)]
    for emu in pair:
        await emu.start()
    yield pair
    for emu in pair:
        await emu.stop()


@pytest.mark.timeout(360)
async def test_thirty_seconds_without_the_database_lose_nothing_and_send_nothing_twice(
        tmp_path, own_server, two_modems, daemons):
    url = own_server.new_database()
    config = chain_config(tmp_path, "a", url, two_modems)
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    numbers = [f"+628170000{i:04d}" for i in range(36)]
    batches = [numbers[:12], numbers[12:24], numbers[24:]]

    def deliver(batch: list[str]) -> None:
        for i, number in enumerate(batch):
            two_modems[i % 2].deliver(number, f"DAFTAR Pelanggan {number[-4:]}")

    def on_air() -> Counter:
        return Counter(normalize(s.decoded.destination.number) for m in two_modems for s in m.core.submitted)

    deliver(batches[0])
    await wait_until(lambda: on_air().keys() & set(batches[0]), 60, "replies flowing")
    own_server.halt()  # under load: some of the first batch are still being routed or sent
    deliver(batches[1][:6])
    await asyncio.sleep(OUTAGE / 2)
    deliver(batches[1][6:])
    await asyncio.sleep(OUTAGE / 2)
    assert any(m.core.storage for m in two_modems)  # what came in meanwhile waited on the SIMs
    own_server.start()
    deliver(batches[2])

    await wait_until(lambda: set(on_air()) >= set(numbers), 120, "every customer answered")
    try:
        await wait_until(lambda: not any(m.core.storage for m in two_modems), 60, "SIMs emptied")
    except TimeoutError:  # seen once under load (2026-12-02): say what stayed, for the diagnosis
        left = {m.modem_id: {i: slot.stat for i, slot in m.core.storage.items()} for m in two_modems}
        raise AssertionError(f"left on the SIMs (slot: stat): {left}; last commands: "
                             f"{[m.core.commands[-8:] for m in two_modems]}") from None
    sent = on_air()
    assert all(sent[n] == 1 for n in numbers), {n: c for n, c in sent.items() if c != 1}
    assert query(url, "SELECT COUNT(*) FROM messages WHERE direction = 'in'") == [(len(numbers),)]
    assert query(url, "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND state = 'handled'") == [(36,)]
    await wait_until(lambda: query(url, "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND state = 'sent'")
                     == [(36,)], 60, "every reply recorded sent")
    assert query(url, "SELECT COUNT(*) FROM customers") == [(36,)]
    text = log.read_text()
    assert "unreachable" in text and "reachable again after" in text
    assert "Traceback" not in text, text[text.index("Traceback") - 300:][:3000]
    # The modems stayed ready, and `smsd-crm status` tells of the outage in shop time.
    await wait_until(lambda: query(url, "SELECT db_outage_to FROM daemon_status WHERE store_id = 'a'") not in
                     ([], [(None,)]), 60, "the outage published")
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, "status", "-c", str(config), stdout=asyncio.subprocess.PIPE)
    out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    assert proc.returncode == 0
    assert "database: last unreachable" in out and "WIB" in out, out
    assert [line.split()[1] for line in out.splitlines() if line.startswith(("a1", "a2"))] == ["ready", "ready"]


@pytest.mark.timeout(240)
async def test_a_daemon_started_before_its_database_server_waits_for_it_and_then_answers(
        tmp_path, own_server, two_modems, daemons):
    # A shop PC whose PostgreSQL starts after smsd-crm (boot order), or restarts meanwhile.
    url = own_server.new_database()
    config = chain_config(tmp_path, "a", url, two_modems)
    log = tmp_path / "daemon.log"
    own_server.halt()
    starting = asyncio.create_task(daemons(config, log))
    await wait_until(lambda: log.exists() and "waiting for it" in log.read_text(), 60, "the daemon waiting")
    assert not starting.done()
    own_server.start()
    await starting  # "ready on" in its log
    two_modems[0].deliver("+6281700009999", "DAFTAR Sari")
    await wait_until(lambda: any("Sari" in s.decoded.text for s in two_modems[0].core.submitted), 60, "answered")
    text = log.read_text()
    assert text.count("waiting for it") == 1 and "Traceback" not in text
