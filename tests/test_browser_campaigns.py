"""The campaigns page in Debian's chromium against `smsd-crm run`: the owner writes a promotion,
sees its preview (recipients, UCS-2 and the character that forces it, cost), starts it and watches
it finish without reloading; staff cannot open it; a customer's hostile name stays text."""

from __future__ import annotations

import re
import sqlite3

from .conftest import query, wait_until
from .test_browser import page  # noqa: F401  (the chromium fixture)
from .test_browser_pages import _config, _log_in, _shot

NAMES = ["Budi", "Siti", "<script>alert(1)</script>", "Ani"]


async def test_the_owner_previews_starts_and_watches_a_campaign(tmp_path, daemons, page):  # noqa: F811
    config = _config(tmp_path)
    with open(config, "a") as f:
        f.write("campaigns: {quiet_hours: null}\n")
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    base = await wait_until(lambda: (m := re.search(r"web pages on (http://127\.0\.0\.1:\d+)/", log.read_text()))
                            and m.group(1), 30, "web address in the log")
    db = tmp_path / "data" / "test.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO customers (phone, name, language, created_at, updated_at) VALUES "
                         "(?, ?, 'id', '2026-01-01', '2026-01-01')",
                         [(f"+6281300000{i:03d}", name) for i, name in enumerate(NAMES, 1)])
    conn.close()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))

    await _log_in(page, base, "kasir", "/")
    assert (await page.goto(f"{base}/campaigns")).status == 403  # staff: not the owner's campaigns
    await page.goto(f"{base}/")
    await page.get_by_role("button", name="Keluar").click()

    await _log_in(page, base, "pemilik", "/campaigns")
    await page.fill("input[name=name]", "Diskon akhir pekan")
    await page.fill("textarea[name=text]", "Halo {nama}, diskon 10% minyak goreng 🎉")
    await page.get_by_role("button", name="Buat dan lihat pratinjau").click()
    await page.wait_for_url(f"{base}/campaigns/1")
    assert await page.inner_text("#recipients") == "4"
    assert await page.inner_text("#encoding") == "UCS-2" and await page.inner_text("#culprit") == "🎉"
    assert await page.inner_text("#cost") == "Rp1.400"  # 4 x 1 part x Rp350
    await _shot(page, "campaign-preview")
    await page.get_by_role("button", name="Mulai").click()
    # the page follows by itself (a bound for a loaded machine, not a duration)
    await page.locator("#state[data-state=done]").wait_for(timeout=90000)
    assert "4 terkirim" in await page.inner_text("#progress")
    assert "0 penerima membeli" in await page.inner_text("#results")  # nobody has bought since
    await _shot(page, "campaign-done")
    sent = dict(query(db, "SELECT phone, text FROM messages WHERE campaign_id = 1 AND state = 'sent'"))
    assert sent["+6281300000003"] == "Halo <script>alert(1)</script>, diskon 10% minyak goreng 🎉"
    assert len(sent) == 4
    await page.goto(f"{base}/campaigns")
    assert "Diskon akhir pekan" in await page.inner_text("#campaign-1")
    # a broken form gets a clear answer, not a crash
    await page.fill("input[name=name]", "x")
    await page.fill("textarea[name=text]", "teks")
    await page.select_option("select[name=kind]", "class")
    await page.fill("input[name=value]", "vip")
    await page.get_by_role("button", name="Buat dan lihat pratinjau").click()
    await page.locator(".error", has_text="unknown class 'vip'").wait_for()
    assert dialogs == []
