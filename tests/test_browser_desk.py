"""The order desk in Debian's chromium against `smsd-crm run`: a customer orders by SMS through the
emulator, staff mark the order ready in the browser, the emulator records the customer's SMS."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

from smsd_crm.modem.pty_emulator import next_reply

from .conftest import SMSD_CRM, wait_until, write_config
from .test_browser import ARTIFACTS, page  # noqa: F401  (the chromium fixture)

SAMPLE = Path(__file__).parent.parent / "smsd_crm" / "demo_data" / "products.csv"


async def test_staff_mark_an_sms_order_ready_and_the_customer_gets_the_sms(tmp_path, emulator, daemons,
                                                                            page):  # noqa: F811
    config = write_config(tmp_path, emulator.device, extra="plugins_dir: null\n")
    (tmp_path / "data").mkdir()
    subprocess.run([SMSD_CRM, "catalog", "import", str(SAMPLE), "-c", str(config)], check=True, timeout=60,
                   capture_output=True)
    subprocess.run([SMSD_CRM, "user", "add", "kasir", "--role", "staff", "--password-stdin", "-c", str(config)],
                   input="rahasia-123\n", text=True, check=True, timeout=60, capture_output=True)
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    base = await wait_until(lambda: (m := re.search(r"web pages on (http://127\.0\.0\.1:\d+)/", log.read_text()))
                            and m.group(1), 30, "web address in the log")

    customer = "+6281234567890"
    replies = emulator.subscribe(customer)
    emulator.deliver("081234567890", "DAFTAR Siti <b>Aminah</b>#Jl. Mawar 5")
    assert (await next_reply(replies, 30)).startswith("Selamat datang Siti Aminah di")  # no markup in a name
    with sqlite3.connect(tmp_path / "data" / "test.sqlite3") as conn:  # as staff may type it on the customer page
        conn.execute("UPDATE customers SET name = 'Siti <b>Aminah</b>' WHERE phone = ?", (customer,))
    conn.close()
    emulator.deliver("081234567890", "PESAN beras 2, gula 1")
    number = re.match(r"Pesanan #(\d+)", await next_reply(replies, 30)).group(1)

    await page.goto(f"{base}/orders")
    await page.fill("input[name=username]", "kasir")
    await page.fill("input[name=password]", "rahasia-123")
    await page.click("button[type=submit]")
    order = page.locator(f"#order-{number}")
    await order.wait_for()
    assert "Siti <b>Aminah</b>" in await order.inner_text()  # shown as text, not markup
    assert await page.locator(f"#order-{number} b").count() == 0
    await page.screenshot(path=str(ARTIFACTS / "order-desk-new.png"), full_page=True)
    await order.get_by_role("button", name="Siap").click()
    await page.locator(f"section[data-state=ready] #order-{number}").wait_for()
    await page.screenshot(path=str(ARTIFACTS / "order-desk-ready.png"), full_page=True)
    assert (await next_reply(replies, 30)).startswith(f"Pesanan #{number} sudah siap. Total Rp174.000.")
