"""Least privilege on a real loopback server: staff play only test numbers on the phone simulator and
never the owner's; API tokens carry scopes checked per route and a rate limit per token."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from smsd_crm.config import parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.simulator import PhoneSimulator
from smsd_crm.storage import users
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.passwords import hash_password

from .test_web_auth import Clock, client, csrf_of, log_in

OWNER_YAML = "plugins: {owner: {numbers: ['0811-0000-0001'], pin: '975310'}}\n"


class FakeModem:
    """What the simulator needs of an emulated modem: it records what the simulator delivers."""

    modem_id = "sim1"

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []

    def watch(self, callback) -> None:
        pass

    def deliver(self, phone: str, text: str) -> None:
        self.delivered.append((phone, text))


@asynccontextmanager
async def site(tmp_path, yaml: str = ""):
    """(base url, db, the fake modem) of pages with a phone simulator; logins pemilik and kasir."""
    settings = parse_config("web: {port: 0}\nplugins_dir: null\n" + OWNER_YAML + yaml, tmp_path / "c.yaml")
    clock = Clock()
    modem = FakeModem()
    async with offline_session(settings, clock, entry_points=False) as (host, db):
        for name, role in (("pemilik", "owner"), ("kasir", "staff")):
            await users.add_user(db, name, hash_password("mawar-sore-48"), role, clock())
        simulator = PhoneSimulator([modem], clock, mask=host.masker().mask)
        runner = await start_web(WebContext(db, settings.web, settings.store, clock, host, simulator=simulator,
                                            settings=settings))
        try:
            yield "http://%s:%d" % runner.addresses[0][:2], db, modem
        finally:
            await runner.cleanup()


async def _send(s, base: str, phone: str, text: str = "BANTUAN") -> str:
    """Send on the simulator page; the address it leads back to."""
    csrf = csrf_of(await (await s.get(f"{base}/simulator")).text())
    r = await s.post(f"{base}/simulator/send", data={"csrf": csrf, "phone": phone, "text": text},
                     allow_redirects=False)
    assert r.status == 302
    return r.headers["Location"]


async def test_staff_send_only_from_test_numbers_and_never_as_the_owner(tmp_path):
    async with site(tmp_path) as (base, _, modem):
        async with client() as staff:
            await log_in(staff, base, "kasir")
            assert (await _send(staff, base, "0812 0000 1234")).endswith("phone=0812%200000%201234")
            assert "error=range" in await _send(staff, base, "0812 3456 7890")  # a real customer's number
            assert "error=owner_number" in await _send(staff, base, "0811 0000 0001", "LAPORAN 975310")
            page = await (await staff.get(f"{base}/simulator", params={"phone": "0812 3456 7890",
                                                                       "error": "range"})).text()
            assert "bukan nomor uji (+628120000)" in page
        assert modem.delivered == [("+6281200001234", "BANTUAN")]
        async with client() as owner:  # the owner plays any number, their own too
            await log_in(owner, base, "pemilik")
            assert "error" not in await _send(owner, base, "0812 3456 7890")
            assert "error" not in await _send(owner, base, "0811 0000 0001", "LAPORAN 975310")
            history = await (await owner.get(f"{base}/simulator", params={"phone": "0811 0000 0001"})).text()
            assert "LAPORAN ****" in history and "975310" not in history
        assert modem.delivered[1:] == [("+6281234567890", "BANTUAN"), ("+6281100000001", "LAPORAN 975310")]


async def test_the_owner_may_open_every_number_but_their_own_to_staff(tmp_path):
    async with site(tmp_path, "simulator: {any_number: true}\n") as (base, _, modem):
        async with client() as staff:
            await log_in(staff, base, "kasir")
            assert "error" not in await _send(staff, base, "0812 3456 7890")
            assert "error=owner_number" in await _send(staff, base, "+62 811 0000 0001")
        assert modem.delivered == [("+6281234567890", "BANTUAN")]


def test_test_numbers_are_written_as_e164_prefixes(tmp_path):
    from smsd_crm.errors import ConfigError
    with pytest.raises(ConfigError, match="simulator.numbers"):
        parse_config("simulator: {numbers: ['0812 0000']}\n", tmp_path / "c.yaml")
