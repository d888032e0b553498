"""A chain of two stores on one PostgreSQL server: two `smsd-crm run` processes (store a and store b),
two emulated modems each on real pseudo-terminals, one database. Customers, consent and points are
the chain's; messages, orders and modems each store's own."""

from __future__ import annotations

import asyncio
import signal
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from smsd_crm.emulator.pty_modem import PtyModem
from smsd_crm.phones import normalize

from .conftest import SMSD_CRM, query, wait_until, write_rows
from .test_campaigns import reply_to

pytestmark = pytest.mark.e2e
PRODUCTS = Path(__file__).parent.parent / "smsd_crm" / "demo" / "data" / "products.csv"
SITI, BUDI, ANI = "+6281211110001", "+6281211110002", "+6281211110003"


def chain_config(tmp_path: Path, store: str, url: str, modems: list[PtyModem]) -> Path:
    lines = "".join(f"  - id: {m.modem_id}\n    port: {m.device}\n    sweep_interval: 5\n" for m in modems)
    path = tmp_path / f"config-{store}.yaml"
    path.write_text(textwrap.dedent(f"""\
        store:
          id: {store}
          name: Toko {store.upper()}
        database:
          url: '{url}'
        outbox:
          retry_min: 0.2
          retry_max: 1
          reply_from: texted
        campaigns:
          quiet_hours: null
        logging:
          level: INFO
        web:
          port: 0
        plugins:
          points:
            earn_per: 1000
            rewards: [{{code: KOPI, name: Kopi Sachet, cost: 20}}]
        """) + "modems:\n" + lines)
    return path


async def cli(config: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, *args, "-c", str(config), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
async def modems(tmp_path):
    started = []
    for n, name in enumerate(("a1", "a2", "b1", "b2"), start=1):
        emu = PtyModem(name, link=tmp_path / f"ttyUSB-{name}", imsi=f"51010000000{n:04d}")
        await emu.start()
        started.append(emu)
    yield {m.modem_id: m for m in started}
    for emu in started:
        await emu.stop()


def senders(modems: dict[str, PtyModem]) -> dict[str, Counter]:
    """Modem id -> how many SMS it put on the air to each number."""
    return {name: Counter(normalize(s.decoded.destination.number) for s in m.core.submitted)
            for name, m in modems.items()}


async def test_two_stores_share_customers_consent_and_points_and_keep_their_own_messages(
        tmp_path, modems, daemons, postgres_server):
    url = postgres_server.new_database()
    config_a = chain_config(tmp_path, "a", url, [modems["a1"], modems["a2"]])
    config_b = chain_config(tmp_path, "b", url, [modems["b1"], modems["b2"]])
    daemon_a = await daemons(config_a, tmp_path / "a.log")
    await daemons(config_b, tmp_path / "b.log")
    await cli(config_a, "catalog", "import", str(PRODUCTS))

    # Registered at A; ordering at B: B's order, B's modem answers.
    assert "Selamat datang Siti" in await reply_to(modems["a1"], SITI, "DAFTAR Siti#Jl. Melati 3")
    placed = await reply_to(modems["b2"], SITI, "PESAN G01 2")
    assert placed.startswith("Pesanan #") and "36.000" in placed
    order = int(placed.split("#")[1].split(":")[0])
    assert query(url, "SELECT store_id, phone FROM orders") == [("b", SITI)]
    assert f"#{order}" not in await cli(config_a, "order", "list", "--state", "all")  # not A's order
    assert f"#{order}" in await cli(config_b, "order", "list", "--state", "all")
    # B's staff complete it: 36 points in the chain's ledger, redeemed at A.
    await cli(config_b, "order", "done", str(order))
    assert query(url, "SELECT reason, delta FROM points_ledger WHERE phone = ?", (SITI,)) == [("order", 36)]
    assert "36" in await reply_to(modems["a2"], SITI, "POIN")
    redeemed = await reply_to(modems["a1"], SITI, "TUKAR KOPI")
    assert redeemed.startswith("Berhasil!") and "Sisa poin 16" in redeemed
    assert query(url, "SELECT SUM(delta) FROM points_ledger WHERE phone = ?", (SITI,)) == [(16,)]

    # An opt-out at B holds for a promotion from A.
    assert "Selamat datang Budi" in await reply_to(modems["b1"], BUDI, "DAFTAR Budi")
    await reply_to(modems["b1"], BUDI, "STOP")
    assert query(url, "SELECT promotions FROM consent WHERE phone = ?", (BUDI,)) == [(0,)]
    await cli(config_a, "campaign", "create", "--name", "promo a", "--text", "Promo Toko A: kopi diskon")
    await cli(config_a, "campaign", "start", "1")
    await wait_until(lambda: query(url, "SELECT state FROM campaigns WHERE id = 1") == [("done",)], 60, "promo done")
    promo = [(m, normalize(s.decoded.destination.number)) for m, e in modems.items() for s in e.core.submitted
             if "Promo Toko A" in s.decoded.text]
    assert [p for _, p in promo] == [SITI] and {m for m, _ in promo} <= {"a1", "a2"}

    # Each store answered only what reached its own modems, from its own modems.
    rows = query(url, "SELECT store_id, direction, modem_id FROM messages WHERE modem_id IS NOT NULL")
    assert {(s, m[0]) for s, _, m in rows} == {("a", "a"), ("b", "b")}, rows
    on_air = senders(modems)
    assert on_air["b1"][BUDI] + on_air["b2"][BUDI] == 2 and on_air["a1"][BUDI] + on_air["a2"][BUDI] == 0

    # SIGKILL of A under load leaves B undisturbed; A resumes without loss or duplicates.
    numbers_a = [f"+628130000{i:04d}" for i in range(12)]
    numbers_b = [f"+628140000{i:04d}" for i in range(12)]
    for i, (na, nb) in enumerate(zip(numbers_a, numbers_b)):
        modems["a1" if i % 2 else "a2"].deliver(na, f"DAFTAR Pelanggan A{i}")
        modems["b1" if i % 2 else "b2"].deliver(nb, f"DAFTAR Pelanggan B{i}")
    await wait_until(lambda: sum(senders({k: modems[k] for k in ("a1", "a2")}).values(), Counter()).keys()
                     & set(numbers_a), 60, "A answering")
    assert await daemon_a.stop(signal.SIGKILL) == -signal.SIGKILL
    more_b = [f"+628150000{i:04d}" for i in range(6)]
    for i, nb in enumerate(more_b):  # B works on while A is dead
        modems["b1" if i % 2 else "b2"].deliver(nb, f"DAFTAR Pelanggan C{i}")

    def answered(store: str, numbers: list[str]) -> bool:
        got = sum((senders(modems)[m] for m in (f"{store}1", f"{store}2")), Counter())
        return all(got[n] >= 1 for n in numbers)

    await wait_until(lambda: answered("b", numbers_b + more_b), 90, "B answered everyone while A was dead")
    await daemons(config_a, tmp_path / "a-again.log")
    await wait_until(lambda: answered("a", numbers_a), 90, "A resumed")
    await wait_until(lambda: not any(m.core.storage for m in modems.values()), 60, "SIMs emptied")
    on_air = senders(modems)
    for store, numbers in (("a", numbers_a), ("b", numbers_b + more_b)):
        mine = sum((on_air[f"{store}{k}"] for k in (1, 2)), Counter())
        others = sum((on_air[m] for m in on_air if not m.startswith(store)), Counter())
        assert all(mine[n] == 1 for n in numbers), {n: mine[n] for n in numbers if mine[n] != 1}
        assert not any(others[n] for n in numbers)
    assert query(url, "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND state = 'received'") == [(0,)]
    assert query(url, "SELECT store_id, COUNT(*) FROM customers c JOIN messages m ON m.phone = c.phone "
                      "WHERE m.direction = 'in' AND m.text LIKE 'DAFTAR Pelanggan%' GROUP BY store_id "
                      "ORDER BY store_id") == [("a", 12), ("b", 18)]


async def test_a_promotion_reaches_one_store_s_customers_or_the_chain_s(tmp_path, modems, daemons, postgres_server):
    """The owner chooses: this store's customers (PROMO @tokoini, --this-store, the page's reach) or
    every store's. A store's customers: those who texted its modems, bought at its till, ordered there."""
    url = postgres_server.new_database()
    config = chain_config(tmp_path, "b", url, [modems["b1"]])
    config.write_text(config.read_text().replace("plugins:\n", "flood:\n  max_per_minute: 60\nplugins:\n  owner:\n"
                                                 "    numbers: ['0811-0000-0001']\n    pin: '2468'\n", 1))
    await daemons(config, tmp_path / "b.log")
    assert "Selamat datang Budi" in await reply_to(modems["b1"], BUDI, "DAFTAR Budi")  # B's customer
    # Siti is A's customer (she texted A's modem), Ani bought at B's till: B's too.
    write_rows(url, "INSERT INTO customers (phone, name, created_at, updated_at) VALUES (?, ?, '2026-01-01', "
                    "'2026-01-01')", [(SITI, "Siti"), (ANI, "Ani")])
    write_rows(url, "INSERT INTO messages (direction, state, phone, address, text, modem_id, created_at, updated_at, "
                    "store_id) VALUES ('in', 'handled', ?, ?, 'POIN', 'a1', '2026-01-01', '2026-01-01', 'a')",
               [(SITI, SITI)])
    write_rows(url, "INSERT INTO sales (receipt, phone, total, sold_at, created_at, store_id) VALUES (?, ?, 5000, "
                    "'2026-01-01T03:00:00+00:00', '2026-01-01', 'b')", [("R-1", ANI)])

    made = await cli(config, "campaign", "create", "--name", "toko b", "--text", "Promo khusus Toko B", "--this-store")
    assert "2 recipient" in made, made  # Budi and Ani, not Siti
    assert "campaign 1 created" in made
    everyone = await cli(config, "campaign", "create", "--name", "semua", "--text", "Promo semua toko")
    assert "3 recipient" in everyone, everyone

    answer = await reply_to(modems["b1"], "+6281100000001", "PROMO 2468 @tokoini Diskon gula khusus Toko B")
    assert answer.startswith("Promo #3 dikirim ke 2 pelanggan"), answer
    await wait_until(lambda: query(url, "SELECT state FROM campaigns WHERE id = 3") == [("done",)], 60, "promo done")
    got = sorted(normalize(s.decoded.destination.number) for s in modems["b1"].core.submitted
                 if "Diskon gula" in s.decoded.text)
    assert got == sorted([BUDI, ANI])
    listed = await cli(config, "campaign", "list")
    assert "everyone at store b" in listed and listed.count("at store b") == 2  # #1 and #3, not #2
