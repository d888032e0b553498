"""Every staff and owner page in Debian's chromium against `smsd-crm run` with an emulated modem:
the phone simulator (type as a customer, see the reply), the order desk refreshing itself when an SMS
order arrives, customers, messages, complaints, modems, plugins, users, both languages. Hostile SMS
text never runs; no request leaves the machine. A screenshot of each page goes to test-artifacts/."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .conftest import SMSD_CRM, wait_until
from .test_browser import ARTIFACTS, page  # noqa: F401  (the chromium fixture)

SAMPLE = Path(__file__).parent.parent / "smsd_crm" / "demo" / "data" / "products.csv"


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"""
store: {{name: Toko Uji}}
database: {{path: data/test.sqlite3}}
modems: [{{id: sim1, port: emulator}}]
emulator: {{control_socket: {tmp_path}/emu.sock}}
web: {{port: 0}}
simulator: {{numbers: ['+628120000', '+628123456']}}
plugins_dir: null
""")
    (tmp_path / "data").mkdir()
    subprocess.run([SMSD_CRM, "catalog", "import", str(SAMPLE), "-c", str(config)], check=True, timeout=60,
                   capture_output=True)
    for name, role in (("kasir", "staff"), ("pemilik", "owner")):
        subprocess.run([SMSD_CRM, "user", "add", name, "--role", role, "--password-stdin", "-c", str(config)],
                       input="mawar-sore-48\n", text=True, check=True, timeout=60, capture_output=True)
    return config


async def _log_in(page, base: str, name: str, path: str = "/") -> None:  # noqa: F811
    await page.goto(base + path)
    await page.fill("input[name=username]", name)
    await page.fill("input[name=password]", "mawar-sore-48")
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(re.escape(base + path) + "$"))


async def _shot(page, name: str) -> None:  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def _sim_send(page, text: str, reply_pattern: str) -> str:  # noqa: F811
    """Type ``text`` on the simulator page and wait for a reply matching ``reply_pattern``."""
    replies = page.locator(".sim-out")
    before = await replies.count()
    await page.fill("textarea[name=text]", text)
    await page.get_by_role("button", name="Kirim SMS").click()
    await page.locator(".sim-in", has_text=text[:20]).last.wait_for()
    await replies.nth(before).wait_for(timeout=30000)  # the page reloads itself when the reply arrives
    reply = await replies.nth(before).inner_text()
    assert re.search(reply_pattern, reply), reply
    return reply


async def test_every_page_in_a_real_browser(tmp_path, daemons, page):  # noqa: F811
    config = _config(tmp_path)
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    base = await wait_until(lambda: (m := re.search(r"web pages on (http://127\.0\.0\.1:\d+)/", log.read_text()))
                            and m.group(1), 30, "web address in the log")
    dialogs, outside = [], []
    page.on("dialog", lambda d: dialogs.append(d.message))

    async def only_loopback(route):
        if route.request.url.startswith(base):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()
    await page.route("**/*", only_loopback)

    # The phone simulator: a customer registers and orders; the replies show on the simulated phone.
    await _log_in(page, base, "kasir", "/simulator")
    await page.fill("input[name=phone]", "0812 3456 7890")
    await _sim_send(page, "DAFTAR <script>alert(1)</script>#Jl. Mawar \"><img src=x onerror=alert(2)>",
                    r"^Selamat datang Alert 1 di Toko Uji! No. anggota Anda 00001")  # markup is no name
    await _sim_send(page, "PESAN beras 2, gula 1", r"^Pesanan #1: ")
    await _shot(page, "simulator")

    # The order desk is open when a second SMS order arrives: it refreshes itself.
    desk = await page.context.new_page()
    await desk.goto(f"{base}/orders")
    await desk.locator("#order-1").wait_for()
    assert await desk.locator("#order-2").count() == 0
    await _sim_send(page, "PESAN gula 2", r"^Pesanan #2: ")
    await desk.locator("#order-2").wait_for(timeout=15000)
    assert "Alert 1" in await desk.locator("#order-2").inner_text()
    assert await desk.locator("#order-2 script, #order-2 img").count() == 0
    await _shot(desk, "order-desk-live")
    await desk.close()
    await _sim_send(page, "KOMPLAIN telur pecah <b>semua</b>", r"^Keluhan Anda tercatat")

    # Customers: search, the profile with orders, complaints and points, an edit.
    await page.goto(f"{base}/customers?q=0812345")
    await page.locator("table.customers a").first.click()
    await page.locator("section[data-plugin=order]").wait_for()
    profile = await page.inner_text("main")
    assert "#1" in profile and "#2" in profile and "K1" in profile and "<img src=x onerror=alert(2)>" in profile
    await _shot(page, "customer-profile")
    await page.locator("summary").first.click()
    await page.fill("input[name=name]", "Siti Aminah")
    await page.get_by_role("button", name="Simpan").click()
    await page.locator("text=Tersimpan.").wait_for()
    await page.goto(f"{base}/customers")
    await page.locator("text=Siti Aminah").wait_for()
    await _shot(page, "customers")

    # Messages: inbox, outbox, a conversation; staff write to the customer and the simulated phone gets it.
    await page.goto(f"{base}/messages")
    await page.locator("text=PESAN gula 2").wait_for()
    await _shot(page, "messages-inbox")
    await page.goto(f"{base}/messages?box=out")
    await _shot(page, "messages-outbox")
    await page.goto(f"{base}/messages/conversation?phone=081234567890")
    await page.fill("textarea[name=text]", "Pesanan Anda kami antar jam 5 sore 🙂")
    await page.get_by_role("button", name="Kirim").click()
    await page.locator(".bubble.out", has_text="kami antar jam 5").wait_for()
    await _shot(page, "conversation")
    await page.goto(f"{base}/simulator?phone=081234567890")
    await page.locator(".sim-out", has_text="kami antar jam 5 sore 🙂").wait_for(timeout=30000)

    await page.goto(f"{base}/complaints")
    await page.locator("#ticket-1").wait_for()
    assert "<b>semua</b>" in await page.inner_text("#ticket-1")
    await _shot(page, "complaints")
    assert (await page.goto(f"{base}/admin/modems")).status == 403  # staff: no owner pages

    # The owner: modems, plugins, users; then the whole thing in English.
    await page.goto(f"{base}/")
    await page.get_by_role("button", name="Keluar").click()
    await _log_in(page, base, "pemilik", "/admin/modems")
    await page.locator("#modem-sim1", has_text="TELKOMSEL").wait_for(timeout=20000)  # refreshes itself
    await _shot(page, "modems")
    await page.goto(f"{base}/admin/plugins")
    await page.locator("#plugin-order").wait_for()
    await _shot(page, "plugins")
    await page.goto(f"{base}/admin/users")
    await _shot(page, "users")
    await page.get_by_role("link", name="EN", exact=True).click()
    await page.locator("h1", has_text="Users").wait_for()
    await page.goto(f"{base}/orders")
    await page.locator("h2", has_text="Ready").wait_for()
    await _shot(page, "order-desk-english")
    await page.goto(f"{base}/")
    await _shot(page, "home-owner-english")

    assert dialogs == [], dialogs  # no script from an SMS ever ran
    assert outside == [], outside  # nothing but the daemon was asked for anything
