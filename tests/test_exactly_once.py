"""Every part of every SMS on the air exactly once, even when the daemon dies at the worst moment:
the modem has put the SMS on the air and its result has not reached the daemon (the emulator holds
it back), then SIGKILL and a power cut that takes the modem down with the PC. `smsd-crm run` is a
separate process; the emulated modem is on a real pseudo-terminal and keeps its SIM storage.
"""

from __future__ import annotations

import random
import signal
from collections import Counter

from smsd_crm.phones import normalize

from .conftest import query, wait_until, write_config
from .test_campaigns import cli, seed

# Two GSM-7 parts once the name is filled in.
LONG = "Promo akhir bulan untuk {nama}: " + "beras, gula, minyak goreng dan telur diskon 10 persen; " * 3
CAMPAIGN = "campaigns:\n  quiet_hours: null\n"


def parts_on_air(core) -> Counter:
    """(number, concatenation reference, part number) -> times it went on the air."""
    seen = Counter()
    for s in core.submitted:
        concat = s.decoded.concat
        seen[(normalize(s.decoded.destination.number), concat.reference if concat else None,
              concat.sequence if concat else 1)] += 1
    return seen


def hold_after(core, after: int) -> None:
    """The modem holds back the result of the ``after``-th next SMS it puts on the air. Set before
    the daemon may send (before the campaign starts, before a restart): set after, a fast daemon had
    sent the rest of the campaign first on a loaded machine, and no SMS was ever held."""
    core.hold_at = len(core.submitted) + after


async def kill_with_sms_on_air(daemon, core) -> None:
    """SIGKILL once the SMS ``hold_after`` chose is on the air with its result held back; then the
    power cut: the modem forgets the held result and any half-typed command, the SIM keeps its slots."""
    await wait_until(lambda: core.held, 60, "an SMS on the air, its result not yet told")
    assert await daemon.stop(signal.SIGKILL) == -signal.SIGKILL
    core.power_loss()
    core.hold_results = False


async def start_campaign(cli_config, db, count: int) -> list[str]:
    phones = seed(db, count)
    cli(cli_config, "campaign", "create", "--name", "akhir bulan", "--text", LONG)
    cli(cli_config, "campaign", "start", "1")
    return phones


async def test_killed_mid_send_again_and_again_every_part_goes_out_once(tmp_path, emulator, daemons, shop_database):
    core = emulator.core
    where, db = shop_database
    config = write_config(tmp_path, emulator.device, extra=CAMPAIGN, database=where)
    daemon = await daemons(config, tmp_path / "daemon0.log")
    rng = random.Random(13)  # fixed: the same kill points every run (20 parts; at most 12 used)
    hold_after(core, rng.randint(1, 4))
    phones = await start_campaign(config, db, 10)
    for n in range(1, 4):
        await kill_with_sms_on_air(daemon, core)
        if n < 3:
            hold_after(core, rng.randint(1, 4))
        daemon = await daemons(config, tmp_path / f"daemon{n}.log")
    await wait_until(lambda: query(db, "SELECT state FROM campaigns WHERE id = 1") == [("done",)], 90, "done")
    seen = parts_on_air(core)
    assert set(seen.values()) == {1}, [k for k, v in seen.items() if v > 1]
    # every customer got both parts, under one reference
    by_phone = {}
    for (phone, ref, seq) in seen:
        by_phone.setdefault(phone, set()).add((ref, seq))
    assert sorted(by_phone) == phones
    assert all(len({r for r, _ in got}) == 1 and {s for _, s in got} == {1, 2} for got in by_phone.values())
    assert query(db, "SELECT COUNT(*) FROM messages WHERE campaign_id = 1 AND state = 'sent'") == [(10,)]
    logs = "".join((tmp_path / f"daemon{n}.log").read_text() for n in range(4))
    assert "already on the air; not sent again" in logs
    assert "possible duplicate" not in logs
    assert not [i for i, s in core.storage.items() if s.stat in (2, 3)]  # no outgoing left on the SIM


async def test_a_reply_on_the_air_when_the_device_vanishes_is_not_sent_again(tmp_path, emulator, daemons):
    core = emulator.core
    config = write_config(tmp_path, emulator.device)
    db = tmp_path / "data" / "test.sqlite3"
    await daemons(config, tmp_path / "daemon.log")
    emulator.deliver("+6281300000001", "INFO")  # one reply first: the driver learns its modem
    await wait_until(lambda: len(core.submitted) == 1, 30)
    core.hold_at = len(core.submitted) + 1
    emulator.deliver("+6281300000002", "INFO")
    await wait_until(lambda: core.held, 30, "the reply on the air, its result held")
    emulator.unplug()  # the USB cable: the result never reaches the daemon (a power loss for the modem)
    core.hold_results = False
    await emulator.replug()
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND state = 'sent'")
                     == [(2,)], 60, "both replies recorded sent")
    assert [normalize(s.decoded.destination.number) for s in core.submitted] == ["+6281300000001", "+6281300000002"]


async def test_without_store_and_send_a_killed_send_goes_out_at_most_twice_and_is_logged(tmp_path, emulator,
                                                                                      daemons):
    core = emulator.core
    core.store_send = False  # a modem that knows only AT+CMGS
    config = write_config(tmp_path, emulator.device, extra=CAMPAIGN)
    db = tmp_path / "data" / "test.sqlite3"
    daemon = await daemons(config, tmp_path / "daemon0.log")
    hold_after(core, 1)  # part 1 of the first promotion
    phones = await start_campaign(config, db, 3)
    await kill_with_sms_on_air(daemon, core)
    await daemons(config, tmp_path / "daemon1.log")
    await wait_until(lambda: query(db, "SELECT state FROM campaigns WHERE id = 1") == [("done",)], 60, "done")
    seen = parts_on_air(core)
    assert sorted(seen.values()) == [1] * 5 + [2]  # six parts, the one in flight twice
    twice = next(k for k, v in seen.items() if v == 2)
    assert twice[2] == 1 and twice[0] == phones[0]
    assert seen[(twice[0], twice[1], 2)] == 1  # its part 2 once, under the same reference
    assert "possible duplicate" in (tmp_path / "daemon1.log").read_text()


async def test_a_sim_busy_after_the_power_cut_does_not_cost_the_part_in_flight_its_slot(tmp_path, emulator,
                                                                                      daemons):
    # Right after power-up a SIM answers busy for a while: reading its identity (AT+CIMI) and the
    # slot of the part in flight (AT+CMGR) are asked again, never guessed.
    core = emulator.core
    config = write_config(tmp_path, emulator.device)
    db = tmp_path / "data" / "test.sqlite3"
    daemon = await daemons(config, tmp_path / "daemon0.log")
    emulator.deliver("+6281300000001", "INFO")  # one reply first: the driver learns its modem
    await wait_until(lambda: len(core.submitted) == 1, 30)
    core.hold_at = len(core.submitted) + 1
    emulator.deliver("+6281300000002", "INFO")
    await wait_until(lambda: core.held, 30, "the reply on the air, its result held")
    assert await daemon.stop(signal.SIGKILL) == -signal.SIGKILL
    core.power_loss()
    core.hold_results = False
    core.inject("AT+CIMI", "+CME ERROR: 14", "ERROR")  # SIM busy
    core.inject("AT+CMGR", "+CME ERROR: 515", "+CME ERROR: 515", "+CME ERROR: 515")
    await daemons(config, tmp_path / "daemon1.log")
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND state = 'sent'")
                     == [(2,)], 60, "both replies recorded sent")
    assert [normalize(s.decoded.destination.number) for s in core.submitted] == ["+6281300000001", "+6281300000002"]
    assert "possible duplicate" not in (tmp_path / "daemon1.log").read_text()


async def test_a_stop_during_a_send_longer_than_the_drain_is_resolved_like_a_crash(tmp_path, emulator, daemons):
    # SIGTERM waits at most 10 s for sends in flight; a slower one is left in flight and is
    # resolved at the restart: from its slot where the modem stores then sends, else sent again
    # with a logged possible duplicate naming the message (here: a modem with AT+CMGS only,
    # which keeps its power and finishes the first send while the daemon is down).
    core = emulator.core
    core.store_send = False
    config = write_config(tmp_path, emulator.device)
    daemon = await daemons(config, tmp_path / "daemon0.log")
    core.send_delay = 12.0
    seen = len(core.commands)
    emulator.deliver("+6281300000003", "INFO")
    await wait_until(lambda: any(c.startswith("AT+CMGS=") for c in core.commands[seen:]), 30, "the send under way")
    assert await daemon.stop(signal.SIGTERM, timeout=60) == 0
    assert "1 send(s) still in flight at shutdown" in (tmp_path / "daemon0.log").read_text()
    core.send_delay = 0.0
    await daemons(config, tmp_path / "daemon1.log")
    await wait_until(lambda: query(tmp_path / "data" / "test.sqlite3", "SELECT state FROM messages WHERE "
                                   "direction = 'out'") == [("sent",)], 60, "the reply recorded sent")
    await wait_until(lambda: len(core.submitted) == 2, 30, "the reply sent again")
    log = (tmp_path / "daemon1.log").read_text()
    assert "possible duplicate" in log and "to +6281300000003" in log


async def test_a_part_stored_while_the_sim_could_not_be_identified_keeps_its_slot(tmp_path, emulator, daemons):
    # The first start never read the IMSI (the SIM stayed busy): parts are journalled under the
    # modem. The next start reads it; its tidy-up must not take the slot proving a part went out.
    core = emulator.core
    core.inject("AT+CIMI", *["ERROR"] * 6)
    config = write_config(tmp_path, emulator.device)
    db = tmp_path / "data" / "test.sqlite3"
    daemon = await daemons(config, tmp_path / "daemon0.log")
    emulator.deliver("+6281300000001", "INFO")
    await wait_until(lambda: len(core.submitted) == 1, 30)
    core.hold_at = len(core.submitted) + 1
    emulator.deliver("+6281300000002", "INFO")
    await wait_until(lambda: core.held, 30, "the reply on the air, its result held")
    assert await daemon.stop(signal.SIGKILL) == -signal.SIGKILL
    core.power_loss()
    core.hold_results = False
    await daemons(config, tmp_path / "daemon1.log")  # AT+CIMI answers now
    await wait_until(lambda: query(db, "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND state = 'sent'")
                     == [(2,)], 60, "both replies recorded sent")
    assert [normalize(s.decoded.destination.number) for s in core.submitted] == ["+6281300000001", "+6281300000002"]
