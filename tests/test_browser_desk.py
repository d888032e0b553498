"""The desks in Debian's chromium against `smsd-crm run` on an emulated modem: a customer orders and
complains by SMS, staff work the desks in the browser, the emulator records what the customer gets.

A desk that prevents mistakes: every move that texts a customer asks first and shows that SMS;
"Close" on a complaint with a reply typed keeps the reply and offers to send it; cancelling an order
asks first; each action says what it did; the compose box counts parts, encoding and cost the way
the modem side splits the text."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

from playwright.async_api import expect

from smsd_crm.emulator.pty_modem import next_reply
from smsd_crm.sms.compose import count_parts

from .conftest import SMSD_CRM, wait_until, write_config
from .test_browser import ARTIFACTS, page  # noqa: F401  (the chromium fixture)

SAMPLE = Path(__file__).parent.parent / "smsd_crm" / "demo" / "data" / "products.csv"


def _shop(tmp_path, emulator) -> Path:
    config = write_config(tmp_path, emulator.device, extra="plugins_dir: null\n")
    (tmp_path / "data").mkdir()
    subprocess.run([SMSD_CRM, "catalog", "import", str(SAMPLE), "-c", str(config)], check=True, timeout=60,
                   capture_output=True)
    subprocess.run([SMSD_CRM, "user", "add", "kasir", "--role", "staff", "--password-stdin", "-c", str(config)],
                   input="mawar-sore-48\n", text=True, check=True, timeout=60, capture_output=True)
    return config


async def _start(tmp_path, config, daemons) -> str:
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    return await wait_until(lambda: (m := re.search(r"web pages on (http://127\.0\.0\.1:\d+)/", log.read_text()))
                            and m.group(1), 30, "web address in the log")


async def _log_in(page, base: str, path: str) -> None:  # noqa: F811
    await page.goto(f"{base}{path}")
    await page.fill("input[name=username]", "kasir")
    await page.fill("input[name=password]", "mawar-sore-48")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{path}")


def _db(tmp_path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "data" / "test.sqlite3")


def _texts_to(tmp_path, phone: str) -> list[str]:
    """Every SMS queued for ``phone`` so far (whatever its state): what the customer will get."""
    with _db(tmp_path) as conn:
        rows = conn.execute("SELECT text FROM messages WHERE direction = 'out' AND phone = ? ORDER BY id",
                            (phone,)).fetchall()
    conn.close()
    return [r[0] for r in rows]


def _one(tmp_path, sql: str, *args):
    with _db(tmp_path) as conn:
        row = conn.execute(sql, args).fetchone()
    conn.close()
    return row


async def _wide_as_screen(page) -> None:  # noqa: F811
    # The desk reloads itself when an order changes: a plain evaluate can land in a page being
    # replaced ("execution context was destroyed"); wait_for_function asks the page that is there.
    await page.wait_for_function("document.documentElement.scrollWidth <= window.innerWidth", timeout=10000)


async def test_staff_mark_an_sms_order_ready_and_the_customer_gets_the_sms(tmp_path, emulator, daemons,
                                                                            page):  # noqa: F811
    config = _shop(tmp_path, emulator)
    base = await _start(tmp_path, config, daemons)

    customer = "+6281234567890"
    replies = emulator.subscribe(customer)
    emulator.deliver("081234567890", "DAFTAR Siti <b>Aminah</b>#Jl. Mawar 5")
    assert (await next_reply(replies, 30)).startswith("Selamat datang Siti Aminah di")  # no markup in a name
    with _db(tmp_path) as conn:  # as staff may type it on the customer page
        conn.execute("UPDATE customers SET name = 'Siti <b>Aminah</b>' WHERE phone = ?", (customer,))
    conn.close()
    emulator.deliver("081234567890", "PESAN beras 2, gula 1")
    first = re.match(r"Pesanan #(\d+)", await next_reply(replies, 30)).group(1)
    emulator.deliver("081234567890", "PESAN telur 1")
    number = re.match(r"Pesanan #(\d+)", await next_reply(replies, 30)).group(1)

    await page.set_viewport_size({"width": 360, "height": 740})
    await _log_in(page, base, "/orders")
    order = page.locator(f"#order-{number}")
    await order.wait_for()
    # newest first, with the address and a number to tap. Read with Playwright's retrying assertions: the
    # desk reloads itself when the second order's event reaches the page after the page was drawn
    # (events are told after the reply is on its way), and a plain read would race that reload.
    orders = page.locator("section[data-state=new] article.order")
    await expect(orders).to_have_count(2)
    await expect(orders.nth(0)).to_have_id(f"order-{number}")
    await expect(orders.nth(1)).to_have_id(f"order-{first}")
    await expect(order.locator(".address")).to_contain_text("Jl. Mawar 5")
    await expect(order.locator("a.tel")).to_have_attribute("href", f"tel:{customer}")
    await expect(order).to_contain_text("Siti <b>Aminah</b>")  # shown as text, not markup
    await expect(page.locator(f"#order-{number} b")).to_have_count(0)
    await _wide_as_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "order-desk-new.png"), full_page=True)

    # "Siap" asks first and shows the SMS; nothing is sent until staff say yes
    sent_before = _texts_to(tmp_path, customer)
    await order.get_by_role("button", name="Siap").click()
    question = page.locator("#confirm-move")
    await question.wait_for()
    assert f"Pesanan #{number} siap?" in await page.locator("h1").inner_text()
    assert f"Pesanan #{number} sudah siap." in await question.locator("q").inner_text()
    await _wide_as_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "order-desk-ready-question.png"), full_page=True)
    assert _texts_to(tmp_path, customer) == sent_before
    assert _one(tmp_path, "SELECT state FROM orders WHERE id = ?", int(number)) == ("new",)
    await page.get_by_role("button", name="Ya, siap").click()
    await page.locator(f"section[data-state=ready] #order-{number}").wait_for()
    notice = await page.locator(".notice.done").inner_text()
    assert f"Pesanan #{number} sekarang siap" in notice and "Siti <b>Aminah</b>" in notice
    await page.screenshot(path=str(ARTIFACTS / "order-desk-ready.png"), full_page=True)
    assert (await next_reply(replies, 30)).startswith(f"Pesanan #{number} sudah siap. Total Rp")


async def test_cancelling_an_order_asks_first_and_back_changes_nothing(tmp_path, emulator, daemons,
                                                                       page):  # noqa: F811
    config = _shop(tmp_path, emulator)
    base = await _start(tmp_path, config, daemons)
    customer = "+6281298765432"
    replies = emulator.subscribe(customer)
    emulator.deliver("081298765432", "PESAN beras 2")
    number = int(re.match(r"Pesanan #(\d+)", await next_reply(replies, 30)).group(1))
    stock = "SELECT stock FROM products WHERE code = (SELECT code FROM order_lines WHERE order_id = ?)"
    stock_after_order = _one(tmp_path, stock, number)

    await page.set_viewport_size({"width": 360, "height": 740})
    await _log_in(page, base, "/orders")
    order = page.locator(f"#order-{number}")
    await order.get_by_role("button", name="Batalkan").click()
    question = page.locator("#confirm-move")
    await question.wait_for()
    assert f"Batalkan pesanan #{number}?" in await page.locator("h1").inner_text()
    assert "Stok barangnya akan dikembalikan." in await question.inner_text()
    assert "dibatalkan" in (await question.locator("q").inner_text()).lower()
    await _wide_as_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "order-cancel-question.png"), full_page=True)
    sent = _texts_to(tmp_path, customer)

    # Back: nothing happened
    await page.get_by_role("link", name="Kembali").click()
    await page.locator(f"section[data-state=new] #order-{number}").wait_for()
    assert _one(tmp_path, "SELECT state FROM orders WHERE id = ?", number) == ("new",)
    assert _one(tmp_path, stock, number) == stock_after_order
    assert _texts_to(tmp_path, customer) == sent

    # Yes: cancelled, stock back, the customer told, the desk says so
    await order.get_by_role("button", name="Batalkan").click()
    await page.get_by_role("button", name="Ya, batalkan pesanan").click()
    await page.locator(".notice.done").wait_for()
    assert f"Pesanan #{number} sekarang dibatalkan" in await page.locator(".notice.done").inner_text()
    assert await page.locator(f"#order-{number}").count() == 0
    assert _one(tmp_path, "SELECT state FROM orders WHERE id = ?", number) == ("cancelled",)
    assert _one(tmp_path, stock, number)[0] > stock_after_order[0]
    assert f"#{number}" in await next_reply(replies, 30)

    # a stale confirmation (the order was cancelled meanwhile) is refused with words, not a traceback
    await page.goto(f"{base}/orders")
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    answer = await page.request.post(f"{base}/orders", form={"csrf": csrf, "order": str(number), "to": "ready",
                                                             "confirm": "yes"})
    assert answer.status == 409
    assert "sudah dibatalkan; tidak bisa menjadi siap" in await answer.text()


async def test_close_with_a_typed_reply_asks_first_and_loses_nothing(tmp_path, emulator, daemons,
                                                                     page):  # noqa: F811
    config = _shop(tmp_path, emulator)
    base = await _start(tmp_path, config, daemons)
    customer = "+6281211112222"
    replies = emulator.subscribe(customer)
    emulator.deliver("081211112222", "KOMPLAIN telur yang saya beli pecah 3")
    ticket = int(re.search(r"K(\d+)", await next_reply(replies, 30)).group(1))

    await page.set_viewport_size({"width": 360, "height": 740})
    await _log_in(page, base, "/complaints")
    card = page.locator(f"#ticket-{ticket}")
    reply = "Mohon maaf Bu, besok kami ganti 3 telurnya 🙏"
    await card.locator("textarea").fill(reply)
    counter = card.locator(".sms-count")
    assert await counter.get_attribute("data-encoding") == "ucs2"  # the emoji makes it UCS-2
    assert "UCS-2 (karena 🙏)" in await counter.inner_text()
    assert await counter.get_attribute("data-parts") == str(count_parts(f"K{ticket}: {reply}"))  # the whole SMS
    sent = _texts_to(tmp_path, customer)

    # Close with the reply typed: asked first, the reply is still there, nothing sent, still open
    await card.get_by_role("button", name="Tutup keluhan").click()
    question = page.locator("#confirm-close")
    await question.wait_for()
    assert f"Tutup keluhan K{ticket}?" in await page.locator("h1").inner_text()
    text = await question.inner_text()
    assert "belum pernah dibalas" in text and "belum terkirim" in text
    assert f"Keluhan K{ticket} kami tutup" in await question.locator("q").inner_text()
    assert await question.locator("textarea").input_value() == reply
    await _wide_as_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "complaint-close-question.png"), full_page=True)
    assert _texts_to(tmp_path, customer) == sent
    assert _one(tmp_path, "SELECT state FROM complaints WHERE id = ?", ticket) == ("open",)

    # Back: the desk again, the reply still typed in the box
    await page.get_by_role("button", name="Kembali, jangan tutup").click()
    await card.wait_for()
    assert await card.locator("textarea").input_value() == reply
    assert _texts_to(tmp_path, customer) == sent

    # Close again, "send the reply, then close": the customer gets the reply, then the closing SMS
    await card.get_by_role("button", name="Tutup keluhan").click()
    await page.get_by_role("button", name="Kirim balasan, lalu tutup").click()
    await page.locator(".notice.done").wait_for()
    assert f"Balasan untuk K{ticket} dikirim dan keluhan ditutup" in await page.locator(".notice.done").inner_text()
    assert await next_reply(replies, 30) == f"K{ticket}: {reply}"
    assert (await next_reply(replies, 30)).startswith(f"Keluhan K{ticket} kami tutup")
    assert _one(tmp_path, "SELECT state, first_answer_at IS NOT NULL FROM complaints WHERE id = ?",
                ticket) == ("closed", 1)


async def test_send_reply_says_so_and_an_empty_reply_is_refused(tmp_path, emulator, daemons,
                                                                page):  # noqa: F811
    config = _shop(tmp_path, emulator)
    base = await _start(tmp_path, config, daemons)
    customer = "+6281233334444"
    replies = emulator.subscribe(customer)
    emulator.deliver("081233334444", "KOMPLAIN gula basah")
    ticket = int(re.search(r"K(\d+)", await next_reply(replies, 30)).group(1))
    await page.set_viewport_size({"width": 360, "height": 740})
    await _log_in(page, base, "/complaints")
    card = page.locator(f"#ticket-{ticket}")
    await card.get_by_role("button", name="Kirim balasan").click()  # nothing typed
    await page.locator(".error", has_text="Tulis balasannya dulu").wait_for()
    assert _one(tmp_path, "SELECT state FROM complaints WHERE id = ?", ticket) == ("open",)
    await card.locator("textarea").fill("Kami cek stok gulanya hari ini.")
    await card.get_by_role("button", name="Kirim balasan").click()
    await page.locator(".notice.done", has_text=f"Balasan untuk K{ticket} dikirim").wait_for()
    assert await next_reply(replies, 30) == f"K{ticket}: Kami cek stok gulanya hari ini."
    assert _one(tmp_path, "SELECT state FROM complaints WHERE id = ?", ticket) == ("answered",)


# Texts at the edges of TS 23.040 concatenation: 160/161 septets, extension characters (2 septets)
# at a part boundary, 70/71 UCS-2 units, an emoji (a surrogate pair) at a boundary.
COUNTER_TEXTS = ["", "a" * 160, "a" * 161, "a" * 306, "a" * 307, "a" * 152 + "€" + "b" * 10, "[" * 80, "[" * 81,
                 "é" * 160 + "x", "ê" * 70, "ê" * 71, "ê" * 66 + "🙂" + "ê" * 3, "🙂" * 35, "🙂" * 36,
                 "Pesanan Anda kami antar jam 5 sore\nTerima kasih", "Harga gula Rp15.000/kg {promo} ~ hari ini"]


async def test_the_compose_counter_counts_like_the_modem_side(tmp_path, emulator, daemons,
                                                              page):  # noqa: F811
    config = _shop(tmp_path, emulator)
    base = await _start(tmp_path, config, daemons)
    await page.set_viewport_size({"width": 360, "height": 740})
    await _log_in(page, base, "/messages/conversation?phone=081234567890")
    box, counter = page.locator("#compose-text"), page.locator("#compose-text-count")
    for text in COUNTER_TEXTS:
        await box.fill(text)
        parts = count_parts(text)
        assert await counter.get_attribute("data-parts") == str(parts), text
        shown = await counter.inner_text()
        assert f"{len(text)} karakter · {parts} SMS" in shown.replace(".", ""), (text, shown)
        assert f"Rp{parts * 350:,}".replace(",", ".") in shown, (text, shown)
    await box.fill("a" * 161)
    await _wide_as_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "compose-counter.png"), full_page=True)
