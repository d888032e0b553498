"""Wrong logins: growing waits per address and per name instead of a lock anyone could set off, answers
that never tell which names exist, and the owner's own browser always gets in; against a real aiohttp
server on loopback, clients on several loopback addresses (127.0.0.2, 127.0.0.3, ...)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import aiohttp
import pytest

from smsd_crm.config import StoreConfig, WebConfig
from smsd_crm.storage import users
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import core_schema
from smsd_crm.web import passwords
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.passwords import hash_password
from smsd_crm.web.throttle import (
    LoginThrottle,
    address_key,
    device_cookie_name,
    device_key,
    make_device_cookie,
    name_key,
)

from .test_web_auth import Clock

RIGHT = "mawar-sore-48"


@pytest.fixture
async def site(tmp_path):
    db = await Database.open(tmp_path / "web.sqlite3")
    await migrate(db, core_schema())
    clock = Clock()
    for name, role in (("pemilik", "owner"), ("kasir", "staff")):
        await users.add_user(db, name, hash_password(RIGHT), role, clock())
    config = WebConfig(port=0, session_minutes=30, lockout_attempts=3, lockout_minutes=15)
    runner = await start_web(WebContext(db, config, StoreConfig(), clock))
    yield "http://%s:%d" % runner.addresses[0][:2], clock, db
    await runner.cleanup()
    await db.close()


def browser(address: str = "127.0.0.2") -> aiohttp.ClientSession:
    """A browser on its own loopback address (the server listens on 127.0.0.1 and sees this one)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)),
                                 cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_typos_at_the_shop_pc_never_slow_down_the_next_person_at_it(site):
    # Every browser on the shop PC comes from 127.0.0.1: that address is nobody's key.
    base, clock, _ = site
    async with browser("127.0.0.1") as cashier:
        for _ in range(9):  # a name that does not exist, mistyped again and again
            assert (await attempt(cashier, base, "kasir2", "salah-terus"))[0] == 401
    async with browser("127.0.0.1") as owner:  # a fresh browser, no device cookie, the same instant
        assert (await attempt(owner, base, "pemilik", RIGHT))[0] == 302
    async with browser("127.0.0.1") as other:  # the typed name still counts: kasir2 waits
        assert (await attempt(other, base, "kasir2", RIGHT))[0] == 401


async def attempt(s: aiohttp.ClientSession, base: str, name: str, password: str) -> tuple[int, str]:
    page = await (await s.get(f"{base}/login")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = await s.post(f"{base}/login", data={"username": name, "password": password, "csrf": csrf, "next": "/"},
                     allow_redirects=False)
    return r.status, await r.text()


@pytest.fixture
def checks(monkeypatch):
    """The costs of the password checks made (each one is a slow scrypt)."""
    made: list[int] = []
    real = passwords.verify_password

    def counted(password: str, stored: str) -> bool:
        made.append(int(stored.split("$")[1]))
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", counted)
    return made


async def test_a_locked_name_an_unknown_name_and_a_wrong_password_answer_alike(site, checks):
    base, _, _ = site
    answers = {}
    async with browser("127.0.0.2") as s:
        answers["wrong password"] = await attempt(s, base, "kasir", "salah-salah")
    async with browser("127.0.0.3") as s:
        answers["unknown name"] = await attempt(s, base, "nobody", "salah-salah")
    # Same work for both: one check each, at today's cost (an unknown name against a dummy hash)
    assert checks == [passwords.COST.n, passwords.COST.n]
    async with browser("127.0.0.4") as s:
        for name in ("kasir", "nobody"):
            for _ in range(3):
                assert (await attempt(s, base, name, "salah-salah"))[0] == 401
        checks.clear()
        answers["known name, too many tries, right password"] = await attempt(s, base, "kasir", RIGHT)
        answers["unknown name, too many tries"] = await attempt(s, base, "nobody", "salah-salah")
        assert checks == []  # too early: not checked at all, whatever the name
    statuses = {what: status for what, (status, _) in answers.items()}
    assert set(statuses.values()) == {401}, statuses
    pages = {text.replace(re.search(r'name="csrf" value="([^"]+)"', text).group(1), "") for _, text in answers.values()}
    assert len(pages) == 1  # byte for byte the same page
    assert "Nama atau kata sandi salah." in pages.pop()


async def test_the_owner_gets_in_from_another_address_while_a_stranger_hammers(site):
    base, clock, _ = site
    async with browser("127.0.0.3") as owner:
        assert (await attempt(owner, base, "pemilik", RIGHT))[0] == 302  # the owner's PC, any day before
        async with browser("127.0.0.2") as stranger:
            for _ in range(8):  # five wrong passwords every quarter of an hour, for two hours
                for _ in range(5):
                    assert (await attempt(stranger, base, "pemilik", "tebak-tebak"))[0] == 401
                clock.now += timedelta(minutes=15)
                assert (await attempt(owner, base, "pemilik", RIGHT))[0] == 302, clock.now
            for _ in range(5):
                assert (await attempt(stranger, base, "pemilik", "tebak-tebak"))[0] == 401
            # the stranger, knowing the password now, still waits (the address is slowed down, not the owner)
            assert (await attempt(stranger, base, "pemilik", RIGHT))[0] == 401
            assert (await attempt(stranger, base, "kasir", RIGHT))[0] == 401
        # the owner's typos are the owner's own: three, then the right one after the first wait
        for _ in range(3):
            assert (await attempt(owner, base, "pemilik", "mawar-sore-84"))[0] == 401
        assert (await attempt(owner, base, "pemilik", RIGHT))[0] == 401
        clock.now += timedelta(seconds=1)
        assert (await attempt(owner, base, "pemilik", RIGHT))[0] == 302
        assert (await attempt(owner, base, "pemilik", "mawar-sore-84"))[0] == 401  # and the count starts again
        assert (await attempt(owner, base, "pemilik", RIGHT))[0] == 302


async def test_waits_grow_and_a_patient_right_login_gets_in(site, checks):
    base, clock, _ = site
    async with browser("127.0.0.2") as s:
        for _ in range(3):
            await attempt(s, base, "nobody", "salah-salah")
        for wait in (1, 2, 4, 8):
            checks.clear()
            clock.now += timedelta(seconds=wait - 0.5)
            assert (await attempt(s, base, "nobody", "salah-salah"))[0] == 401 and checks == []  # too early
            clock.now += timedelta(seconds=0.5)
            assert (await attempt(s, base, "nobody", "salah-salah"))[0] == 401 and len(checks) == 1  # checked
        clock.now += timedelta(seconds=16)
        assert (await attempt(s, base, "kasir", RIGHT))[0] == 302  # any name from that address, after the wait


async def test_guesses_from_many_addresses_slow_new_browsers_for_that_name_only(site):
    base, clock, _ = site
    async with browser("127.0.0.9") as owner:
        assert (await attempt(owner, base, "pemilik", RIGHT))[0] == 302
        for i in range(3):  # a neighbour on three addresses, one guess each
            async with browser(f"127.0.0.{20 + i}") as s:
                assert (await attempt(s, base, "pemilik", "tebak-tebak"))[0] == 401
        async with browser("127.0.0.30") as s:  # a fourth address: the name makes new browsers wait
            assert (await attempt(s, base, "pemilik", RIGHT))[0] == 401
            assert (await attempt(s, base, "kasir", RIGHT))[0] == 302  # other names are not slowed down
        assert (await attempt(owner, base, "pemilik", RIGHT))[0] == 302  # the owner's own browser is not
        clock.now += timedelta(seconds=1)
        async with browser("127.0.0.31") as s:  # a new phone of the owner's, after the wait
            assert (await attempt(s, base, "pemilik", RIGHT))[0] == 302


def test_the_throttle_rule():
    t0 = Clock().now
    throttle = LoginThrottle(free=3, longest=timedelta(minutes=15))
    assert [throttle.delay(n).total_seconds() for n in range(3, 15)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512,
                                                                          900, 900]
    assert throttle.delay(10_000) == timedelta(minutes=15)
    key = [("address", "127.0.0.2")]
    for _ in range(3):
        assert not throttle.wait(key, t0)
        throttle.wrong(key, t0)
    assert throttle.wait(key, t0) == timedelta(seconds=1)
    throttle.wrong(key, t0)  # counted before the check, then the password was right: taken back
    throttle.right(key)
    assert throttle.wait(key, t0) == timedelta(seconds=1)
    assert not throttle.wait(key, t0 + timedelta(hours=24))  # forgotten after a quiet day
    small = LoginThrottle(free=1, longest=timedelta(minutes=15), max_keys=3)
    for i in range(5):
        small.wrong([("name", f"n{i}")], t0)
    assert not small.wait([("name", "n0")], t0) and small.wait([("name", "n4")], t0)  # the quietest dropped


def test_keys_and_device_cookies():
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff") == ("address", "2001:db8::/64")
    assert address_key("::ffff:192.168.1.5") == ("address", "192.168.1.5")
    assert name_key("Pemilik") == name_key("pemilik")
    assert device_cookie_name("Pemilik") == device_cookie_name("pemilik") != device_cookie_name("kasir")
    now = Clock().now
    cookie = make_device_cookie("key", "pemilik", now)
    assert device_key("key", "Pemilik", cookie, now + timedelta(days=179)) is not None
    assert device_key("key", "pemilik", cookie, now + timedelta(days=181)) is None  # too old
    assert device_key("other key", "pemilik", cookie, now) is None  # not the shop's
    assert device_key("key", "kasir", cookie, now) is None  # another name's
    device, issued, signature = cookie.split(".")
    assert device_key("key", "pemilik", f"{device}.{int(issued) + 1}.{signature}", now) is None
    assert device_key("key", "pemilik", "", now) is None and device_key("key", "pemilik", "a.b.c", now) is None


async def test_password_checks_wait_in_a_short_queue_and_known_browsers_have_a_lane_of_their_own(monkeypatch):
    # A flood of logins with made-up names must not hold connections for a minute, nor keep the owner out.
    import threading

    from smsd_crm.web.passwords import Hashing, HashingBusy

    gate = threading.Event()
    started = threading.Semaphore(0)

    def slow(password: str, stored: str) -> bool:
        started.release()
        gate.wait(30)
        return password == "benar"

    monkeypatch.setattr(passwords, "verify_password", slow)
    hashing = Hashing(at_once=1, waiting=2)
    running = asyncio.create_task(hashing.verify("x", None))
    await asyncio.to_thread(started.acquire, True, 30)  # the one slot is taken
    waiting = [asyncio.create_task(hashing.verify("x", None)) for _ in range(2)]
    while hashing._waiting < 2:  # both have reached the queue (a yield, not a wait for time)
        await asyncio.sleep(0)
    with pytest.raises(HashingBusy):
        await hashing.verify("x", None)  # a third in the queue: told "busy" at once
    known = asyncio.create_task(hashing.verify("benar", None, known=True))  # the owner's own browser
    await asyncio.to_thread(started.acquire, True, 30)  # ... is checked beside the queue, not after it
    gate.set()
    assert await known is True
    assert [await t for t in (running, *waiting)] == [False, False, False]
