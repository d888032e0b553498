"""Every page and every dashboard view, as the owner, as staff and logged out, on a 360x740 phone and
a 1366x768 screen, in Indonesian and in English, in Debian's chromium against one `smsd-crm run`.

Each case checks: the document is no wider than the screen; every menu link is visible, inside the
header and clickable (after opening the collapsed menu on the phone); buttons and menu links are
touch-sized on the phone; no status word of the other language is on the page (what customers typed,
names and config, marked ``translate="no"``, do not count); an owner page opened by staff is a
proper page (header, menu, a message in the page's language) with status 403. One daemon, one
browser, one login per role; a screenshot per case and every page's width go to test-artifacts/."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import async_playwright
from smsd_crm_dashboards.views import builtin_views

from .conftest import SMSD_CRM, DaemonProcess, query, sim_send, wait_until
from .test_browser import ARTIFACTS, CHROMIUM, FLAGS

pytestmark = pytest.mark.asyncio(loop_scope="module")

SAMPLE = Path(__file__).parent.parent / "smsd_crm" / "demo" / "data" / "products.csv"
SIZES = {"phone": {"width": 360, "height": 740}, "screen": {"width": 1366, "height": 768}}
STAFF_PAGES = ["/", "/orders", "/complaints", "/customers", "/customers/{customer}", "/messages",
               "/messages?box=out", "/messages/conversation?phone=081234567890", "/simulator", "/account"]
OWNER_PAGES = ["/campaigns", "/campaigns/1", "/admin/modems", "/admin/plugins", "/admin/users", "/api",
               *(f"/dash/{v.name}" for v in builtin_views())]
# Status words (and the other words that name a state) in each language: none may show in the other.
ENGLISH = ("new", "ready", "done", "open", "answered", "closed", "queued", "sending", "sent", "delivered",
           "failed", "cancelled", "received", "handled", "draft", "scheduled", "running", "paused",
           "everyone", "resting", "connecting")
INDONESIAN = ("baru", "siap", "selesai", "terbuka", "dijawab", "ditutup", "antre", "terkirim", "diterima",
              "gagal", "dibatalkan", "diproses", "draf", "terjadwal", "berjalan", "dijeda", "semua pelanggan",
              "beristirahat", "menyambung")
WORDS = {"id": ENGLISH, "en": INDONESIAN}  # the words that must NOT show on a page in that language
# The page's own text: what customers typed, names and config are marked translate="no".
PAGE_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('[translate=no], script, style').forEach((e) => e.remove());
  return document.title + '\\n' + body.textContent;
}"""
# Visible buttons and header links smaller than a finger (44 x 44 CSS px).
SMALL_TARGETS = """() => [...document.querySelectorAll('button, header a, header label')]
  .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
  .map((e) => [e.textContent.trim().slice(0, 30), e.getBoundingClientRect()])
  .filter(([, r]) => r.width < 44 || r.height < 44).map(([t, r]) => `${t} ${r.width}x${r.height}`)"""
DRAWN = ("() => window.Bokeh && Bokeh.documents.length > 0 && "
         "Number(Bokeh.documents[0].get_model_by_name('revision').text) > 0")  # the view's first refresh


def _cases():
    for size in SIZES:
        for lang in ("id", "en"):
            yield "guest", size, lang, "/login"
            for role in ("staff", "owner"):
                for path in STAFF_PAGES + OWNER_PAGES:
                    yield role, size, lang, path


CASES = list(_cases())


def _prepare(tmp_path: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"""
store: {{name: Toko Uji}}
database: {{path: data/test.sqlite3}}
modems: [{{id: sim1, port: emulator}}]
emulator: {{control_socket: {tmp_path}/emu.sock}}
web: {{port: 0}}
plugins_dir: null
""")
    (tmp_path / "data").mkdir()
    for args, stdin in ((["catalog", "import", str(SAMPLE)], None),
                        (["seed-demo", "--years", "1", "--customers", "60"], None),
                        (["user", "add", "kasir", "--role", "staff", "--password-stdin"], "mawar-sore-48\n"),
                        (["user", "add", "pemilik", "--role", "owner", "--password-stdin"], "mawar-sore-48\n"),
                        (["campaign", "create", "--name", "Diskon minyak", "--text", "Halo {nama}, diskon 10%!",
                          "--segment", "Champions"], None)):
        subprocess.run([SMSD_CRM, *args, "-c", str(config)], input=stdin, text=True, check=True, timeout=120,
                       capture_output=True)
    return config


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shop(tmp_path_factory):
    """One daemon with a seeded history, a draft campaign, an SMS order and an open complaint."""
    tmp_path = tmp_path_factory.mktemp("screens")
    config = _prepare(tmp_path)
    log = tmp_path / "daemon.log"
    daemon = await DaemonProcess(config, log).start()
    try:
        base = await wait_until(lambda: (m := re.search(r"web pages on (http://127\.0\.0\.1:\d+)/",
                                                        log.read_text())) and m.group(1), 30, "web address")
        for text in ("DAFTAR Budi Santoso#Jl. Mawar 5", "PESAN beras 2, gula 1", "KOMPLAIN telur pecah"):
            code, out, err = await sim_send(config, "081234567890", text)
            assert code == 0, err
        customer = query(tmp_path / "data" / "test.sqlite3", "SELECT id FROM customers WHERE phone = ?",
                         ("+6281234567890",))[0][0]
        yield base, {"customer": customer}
    finally:
        daemon.proc.kill()
        await daemon.proc.wait()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tabs(shop):
    """A logged-in tab per role (and one logged out); every request outside the daemon is refused."""
    base, _ = shop
    outside: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page-widths.jsonl").write_text("")

    async def only_loopback(route):
        if route.request.url.startswith(base):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        found = {}
        for role, name in (("guest", None), ("staff", "kasir"), ("owner", "pemilik")):
            context = await browser.new_context(viewport=SIZES["screen"])
            page = await context.new_page()
            await page.route("**/*", only_loopback)
            if name:
                await page.goto(base + "/login")
                await page.fill("input[name=username]", name)
                await page.fill("input[name=password]", "mawar-sore-48")
                await page.click("main button[type=submit]")
                await page.wait_for_url(base + "/")
            found[role] = page
        yield found, outside
        await browser.close()


def _case_id(case) -> str:
    role, size, lang, path = case
    return f"{role}-{size}-{lang}-{path.strip('/').replace('/', '_').replace('?', '_') or 'home'}"


@pytest.mark.parametrize("role,size,lang,path", CASES, ids=[_case_id(c) for c in CASES])
async def test_page_fits_the_screen_and_speaks_one_language(shop, tabs, role, size, lang, path):
    base, ids = shop
    pages, outside = tabs
    page = pages[role]
    forbidden = role == "staff" and path in OWNER_PAGES
    await page.set_viewport_size(SIZES[size])
    await page.context.add_cookies([{"name": "smsd_lang", "value": lang, "url": base}])
    response = await page.goto(base + path.format(**ids))
    assert response.status == (403 if forbidden else 200), await page.inner_text("body")
    if path.startswith("/dash/") and not forbidden:
        await page.wait_for_function(DRAWN)
    width, screen = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    with open(ARTIFACTS / "page-widths.jsonl", "a") as f:
        f.write(json.dumps({"case": _case_id((role, size, lang, path)), "width": width, "screen": screen}) + "\n")
    await page.screenshot(path=str(ARTIFACTS / f"screen-{_case_id((role, size, lang, path))}.png"), full_page=True)

    assert width <= screen, f"the page is {width} px wide on a {screen} px screen"
    assert await page.get_attribute("html", "lang") == lang
    if role != "guest":
        await _menu_works(page, size, owner=role == "owner")
        if size == "phone" and path == "/":
            await page.screenshot(path=str(ARTIFACTS / f"screen-{role}-phone-{lang}-menu-open.png"))
    if size == "phone":
        assert await page.evaluate(SMALL_TARGETS) == []
        # a table may scroll inside its box, but not hide most of itself (the modems table was 3 screens)
        wide = await page.evaluate("() => [...document.querySelectorAll('main table')]"
                                   ".map(t => Math.round(t.getBoundingClientRect().width)).filter(w => w > 2 * innerWidth)")
        assert wide == [], f"tables {wide} px wide on a {screen} px screen"
    text = await page.evaluate(PAGE_TEXT)
    wrong = sorted({w for w in WORDS[lang] if re.search(rf"\b{w}\b", text, re.IGNORECASE)})
    assert wrong == [], f"{wrong} on a page in {lang!r}"
    if forbidden:
        assert await page.locator("main h1").count() == 1
        assert await page.locator("header nav a").count() >= 5
    assert outside == []


async def _menu_works(page, size: str, owner: bool) -> None:
    """Every menu link is visible inside the header and takes a click (the phone opens the menu first)."""
    links = page.locator("header nav a")
    if size == "phone":
        assert not await links.first.is_visible(), "the menu is open before anyone opened it"
        await page.locator("header .menu-toggle").click()
    count = await links.count()
    assert count >= (11 if owner else 6)
    header = await page.locator("header").bounding_box()
    viewport = page.viewport_size
    for i in range(count):
        link = links.nth(i)
        await link.click(trial=True)  # visible, stable, enabled and not covered
        box = await link.bounding_box()
        label = await link.inner_text()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], label
        assert header["y"] <= box["y"] and box["y"] + box["height"] <= header["y"] + header["height"], label
