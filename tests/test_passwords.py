"""Passwords: scrypt at OWASP's cost, old hashes made again at today's cost at a right login, and the one
rule for a new password (long enough, not one of the common ones) for the CLI and the pages."""

from __future__ import annotations

import pytest

from smsd_crm.config import StoreConfig, WebConfig
from smsd_crm.storage import users
from smsd_crm.storage.db import Database
from smsd_crm.storage.migrate import migrate
from smsd_crm.storage.schema import core_schema
from smsd_crm.web import passwords
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.passwords import (
    MIN_LENGTH,
    Cost,
    check_strength,
    common_passwords,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)

from .test_web_auth import Clock, client, log_in


def test_new_hashes_are_made_at_owasp_s_cost(monkeypatch):
    monkeypatch.undo()  # the real cost, not the tests' cheap one (tests/conftest.py)
    assert passwords.COST == passwords.OWASP == Cost(2 ** 17, 8, 1)
    stored = hash_password("mawar-sore-48")
    assert stored.startswith("scrypt$131072$8$1$") and "mawar" not in stored
    assert verify_password("mawar-sore-48", stored) and not verify_password("mawar-sore-49", stored)
    assert not needs_rehash(stored)


def test_hashes_at_any_cost_are_checked_and_junk_is_refused():
    old = hash_password("mawar-sore-48", Cost(2 ** 14, 8, 1))  # what the shop stored before
    assert old.startswith("scrypt$16384$8$1$") and verify_password("mawar-sore-48", old)
    assert needs_rehash(old) and not needs_rehash(hash_password("mawar-sore-48"))
    for junk in ("garbage", "scrypt$1$2$3$!!$??", "scrypt$16384$8$1$$", "bcrypt$16384$8$1$YQ==$YQ==",
                 "scrypt$3$8$1$YQ==$YQ==", f"scrypt${2 ** 30}$8$1$YQ==$YQ==", "scrypt$-2$8$1$YQ==$YQ=="):
        assert not verify_password("x", junk), junk
        assert needs_rehash(junk)


async def test_an_old_hash_is_made_again_at_today_s_cost_at_a_right_login(tmp_path):
    db = await Database.open(tmp_path / "web.sqlite3")
    await migrate(db, core_schema())
    clock = Clock()
    old = hash_password("mawar-sore-48", Cost(2 ** 14, 8, 1))
    await users.add_user(db, "kasir", old, "staff", clock())
    runner = await start_web(WebContext(db, WebConfig(port=0), StoreConfig(), clock))
    base = "http://%s:%d" % runner.addresses[0][:2]
    try:
        async with client() as s:
            assert (await log_in(s, base, "kasir", "mawar-sore-49")).status == 401
            assert (await users.get_user(db, "kasir"))["password_hash"] == old  # a wrong one changes nothing
            assert (await log_in(s, base, "kasir")).status == 302
            new = (await users.get_user(db, "kasir"))["password_hash"]
            cost = passwords.COST
            assert new.startswith(f"scrypt${cost.n}${cost.r}${cost.p}$") and verify_password("mawar-sore-48", new)
            assert (await s.get(f"{base}/", allow_redirects=False)).status == 200  # the session it made stays
            assert (await log_in(s, base, "kasir")).status == 302
            assert (await users.get_user(db, "kasir"))["password_hash"] == new  # made once
        user = await users.get_user(db, "kasir")
        await users.rehash(db, user["id"], old, "scrypt$changed")  # the password changed meanwhile: kept
        assert (await users.get_user(db, "kasir"))["password_hash"] == new
    finally:
        await runner.cleanup()
        await db.close()


COMMON = ["password", "Password1!", "PASSWORD2024", "12345678", "123456789", "qwerty123", "iloveyou2024",
          "trustno1", "michelle", "jennifer1", "superman99", "starwars!", "1qaz2wsx", "baseball", "princess1",
          "rahasia123", "Bismillah1", "jakarta2025", "tokoku123", "katasandi"]
FINE = ["mawar-sore-48", "kopi susu gula aren", "Tiga-Ekor-Kucing-7", "baru-sekali-9", "gerobak bakso biru"]


@pytest.mark.parametrize("password", COMMON)
def test_common_passwords_are_refused_everywhere(password):
    assert password_problem(password) == ("password.guessable", {})
    assert "too easy to guess" in check_strength(password)  # the CLI's words for the same rule


# A common word dressed up the way guessers' rules do it: symbols before it, a word typed twice, digits
# for letters, a space inside.
DRESSED = ["!Password1", "passwordpassword", "adminadmin", "r4has1a!", "pass word", "#R4h4s14#", "k4t4s4nd1",
           "Rahasia Rahasia", "1qwerty1qwerty", "@dmin@dmin", "B1sm1ll4h!!", "pass  word 99"]
SHOP = ("ayu.lestari", "Toko Sumber Rejeki")  # the login's name and the shop's
NAMED = ["TokoSumberRejeki1", "sumberrejeki2024!", "T0k0 Sumber Rejeki", "AyuLestari99", "ayu.lestari.2024",
         "Ayu-Lestari-Ayu-1", "rejeki-lestari-99", "!L3st4r12025"]


@pytest.mark.parametrize("password", DRESSED)
def test_common_passwords_dressed_up_are_refused(password):
    assert password_problem(password) == ("password.guessable", {})
    assert "too easy to guess" in check_strength(password)


@pytest.mark.parametrize("password", NAMED)
def test_the_login_s_or_the_shop_s_name_is_refused(password):
    assert password_problem(password, SHOP) == ("password.personal", {})
    assert "the login's name or the shop's name" in check_strength(password, SHOP)
    assert password_problem(password, ("pemilik", "Toko Kita")) is None  # another login, another shop


@pytest.mark.parametrize("password", FINE)
def test_other_passwords_are_taken(password):
    assert password_problem(password) is None and check_strength(password) is None
    assert password_problem(password, SHOP) is None and password_problem(password, ("pemilik", "Toko Kita")) is None


def test_the_shipped_list_and_the_minimum_length():
    words = common_passwords()
    assert len(words) >= 19_000 and {"password", "123456", "dragon", "rahasia"} <= words
    assert all(w == w.casefold() and w.strip() == w and w for w in words)
    assert MIN_LENGTH == 8 and password_problem("k7#Qp2x") == ("password.too_short", {"min": 8})
