"""Real headless chromium (Debian's, through the playwright package): the login page in a browser.

Screenshots go to test-artifacts/ so a person can look at each page.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from .test_web_auth import site  # noqa: F401  (the loopback server fixture)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
async def page():
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = await browser.new_context(viewport={"width": 1024, "height": 700})
        yield await context.new_page()
        await browser.close()


async def test_staff_logs_in_and_a_wrong_password_is_refused(site, page):  # noqa: F811
    base, _, _ = site
    ARTIFACTS.mkdir(exist_ok=True)
    await page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/login")
    await page.fill("input[name=username]", "kasir")
    await page.fill("input[name=password]", "salah-salah")
    await page.click("button[type=submit]")
    await page.wait_for_selector(".error")
    await page.screenshot(path=str(ARTIFACTS / "login-wrong-password.png"), full_page=True)
    await page.fill("input[name=username]", "kasir")
    await page.fill("input[name=password]", "mawar-sore-48")
    await page.click("button[type=submit]")
    await page.wait_for_selector("text=Selamat datang, kasir")
    await page.screenshot(path=str(ARTIFACTS / "home-staff.png"), full_page=True)
    assert await page.locator("a[href='/admin/users']").count() == 0  # staff see no owner links
    await page.get_by_role("button", name="Keluar").click()
    await page.wait_for_url(f"{base}/login")
