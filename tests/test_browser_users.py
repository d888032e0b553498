"""Logins and the API page on a 360x740 phone in Debian's chromium (the playwright package), against a real
aiohttp server on loopback: the owner adds a staff login, the new staff changes their own password, a
disabled login's open page turns into the login page, and the owner reads the API page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from .conftest import wait_until
from .test_browser import ARTIFACTS, CHROMIUM, FLAGS
from .test_web_users import shop  # noqa: F401  (the loopback server fixture, with its WebContext)

PHONE = {"width": 360, "height": 740}
WIDTH = "() => [document.documentElement.scrollWidth, innerWidth]"


@pytest.fixture
async def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it"
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        await chromium.close()


async def phone(browser, base: str, name: str | None = None, password: str = "mawar-sore-48"):
    page = await (await browser.new_context(viewport=PHONE)).new_page()
    if name:
        await log_in(page, base, name, password)
    return page


async def log_in(page, base: str, name: str, password: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", name)
    await page.fill("input[name=password]", password)
    await page.click("main button[type=submit]")
    await page.wait_for_url(f"{base}/")


async def fits(page, shot: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
    width, screen = await page.evaluate(WIDTH)
    assert width <= screen, f"{shot}: the page is {width} px wide on a {screen} px screen"


async def open_menu_link(page, label: str) -> None:
    await page.locator("header .menu-toggle").click()
    await page.locator("header nav a", has_text=label).click()


async def test_owner_adds_a_staff_login_who_changes_their_own_password(shop, browser):  # noqa: F811
    base, _ = shop
    owner = await phone(browser, base, "pemilik")
    await open_menu_link(owner, "Pengguna")
    await owner.wait_for_url(f"{base}/admin/users")
    form = owner.locator("form.add-user")
    await form.get_by_label("Nama").fill("kasir2")
    await form.get_by_label("Peran").select_option("staff")
    await form.get_by_label("Kata sandi awal").fill("awal-kasir-2")
    await form.get_by_label("Ulangi kata sandi").fill("awal-kasir-2")
    await form.get_by_role("button", name="Tambah").click()
    await owner.get_by_role("status").filter(has_text="Login kasir2 ditambahkan.").wait_for()
    await fits(owner, "users-phone-added")

    staff = await phone(browser, base, "kasir2", "awal-kasir-2")
    await open_menu_link(staff, "Akun")
    await staff.wait_for_url(f"{base}/account")
    await fits(staff, "account-phone")
    await staff.get_by_label("Kata sandi sekarang").fill("awal-kasir-2")
    await staff.get_by_label("Kata sandi baru", exact=True).fill("punyaku-sendiri-7")
    await staff.get_by_label("Ulangi kata sandi baru").fill("punyaku-sendiri-7")
    await staff.get_by_role("button", name="Ganti", exact=True).click()
    await staff.get_by_role("status").filter(has_text="Kata sandi Anda sudah diganti").wait_for()
    await fits(staff, "account-phone-changed")
    await staff.get_by_role("button", name="Keluar").click()
    await staff.wait_for_url(f"{base}/login")
    await staff.fill("input[name=username]", "kasir2")
    await staff.fill("input[name=password]", "awal-kasir-2")
    await staff.click("main button[type=submit]")
    await staff.get_by_role("alert").filter(has_text="Nama atau kata sandi salah.").wait_for()
    await log_in(staff, base, "kasir2", "punyaku-sendiri-7")
    await staff.get_by_text("Selamat datang, kasir2").wait_for()


async def test_a_disabled_login_s_open_page_turns_into_the_login_page(shop, browser):  # noqa: F811
    base, ctx = shop
    staff = await phone(browser, base, "kasir")
    await staff.goto(f"{base}/messages")  # a page that follows changes (live.js long-polls /live)
    await wait_until(lambda: ctx.live.waits >= 1, what="the staff page's long poll")
    owner = await phone(browser, base, "pemilik")
    await owner.goto(f"{base}/admin/users")
    row = owner.locator("tr[data-user=kasir]")
    await row.locator("summary").click()
    async with staff.expect_response(lambda r: "/live?" in r.url) as answer:
        await row.get_by_role("button", name="Nonaktifkan").click()
        await owner.get_by_role("status").filter(has_text="Login kasir dinonaktifkan").wait_for()
    assert (await answer.value).status == 401  # answered when the login was disabled, not at the next change
    await staff.wait_for_url(re.compile(r"/login\?next="))
    await fits(owner, "users-phone-disabled")


async def test_owner_reads_the_api_page_on_a_phone(shop, browser):  # noqa: F811
    base, _ = shop
    owner = await phone(browser, base, "pemilik")
    await open_menu_link(owner, "API")
    await owner.wait_for_url(f"{base}/api")
    assert await owner.locator("main h1").inner_text() == "API JSON"
    await owner.get_by_role("heading", name="Cara mendapat token").wait_for()
    send = owner.locator("article#post-api-messages")
    assert await send.locator(".method").inner_text() == "POST"
    assert await send.locator("code.path").inner_text() == "/api/messages"
    assert await send.get_by_text("Send an SMS", exact=False).is_visible()
    assert await send.locator("table.fields code", has_text="text").count() >= 1  # the body's fields
    for route in ("get-api-messages", "get-api-messages-id", "get-api-customers", "get-api-customers-id"):
        await owner.locator(f"article#{route}").scroll_into_view_if_needed()
        assert await owner.locator(f"article#{route} code.path").is_visible(), route
    await fits(owner, "api-phone")
    viewport = owner.viewport_size["width"]
    for box in await owner.locator("main code.path, main pre, main table").evaluate_all(
            "(els) => els.map((e) => e.getBoundingClientRect().right)"):
        assert box <= viewport  # long paths and commands wrap or scroll inside their own box
    await owner.goto(f"{base}/lang/en?next=/api")
    assert await owner.locator("main h1").inner_text() == "JSON API"
    await owner.get_by_role("heading", name="How to get a token").wait_for()
    await fits(owner, "api-phone-en")


HIDE = """hidden => {
    Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
    document.dispatchEvent(new Event("visibilitychange"));
}"""


async def test_a_tab_in_the_background_holds_no_long_poll(shop, browser):  # noqa: F811
    # A browser opens at most six connections to one site: six open tabs each holding /live would
    # leave a seventh page unable to load. A hidden tab drops its poll and asks again when shown.
    base, ctx = shop
    staff = await phone(browser, base, "kasir")
    await staff.goto(f"{base}/messages")
    await wait_until(lambda: ctx.live.waits >= 1, what="the page's long poll")
    async with staff.expect_event("requestfailed", lambda r: "/live?" in r.url):
        await staff.evaluate(HIDE, True)  # the tab goes to the background: its poll is dropped
    polls = ctx.live.waits
    ctx.live.bump("messages")  # a change while hidden: nothing asks, nothing reloads
    assert await staff.evaluate("() => document.hidden") and ctx.live.waits == polls
    async with staff.expect_navigation():  # shown again: it asks at once, sees the change, reloads
        await staff.evaluate(HIDE, False)
    await wait_until(lambda: ctx.live.waits > polls, what="the reloaded page's long poll")
