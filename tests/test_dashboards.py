"""The owner's dashboards behind the daemon's web server: who may open what, the internal Bokeh
server's lock, the websocket's origin check, CSV export; and in Debian's chromium the sales
drill-down by real clicks and a live update from an SMS order, with nothing fetched from outside."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import subprocess
from pathlib import Path

import aiohttp

from smsd_crm.emulator.pty_modem import next_reply

from .conftest import SMSD_CRM, query, wait_until, write_config
from .test_browser import ARTIFACTS, page  # noqa: F401  (the chromium fixture)
from .test_web_auth import client, log_in

SAMPLE = Path(__file__).parent.parent / "smsd_crm" / "demo" / "data" / "products.csv"
# The middle of a bar (found by what a click on it means: data.key; the axis shows data.factor) in page
# pixels, computed through BokehJS's own scales.
BAR = """([name, source, key, horizontal]) => {
  const doc = Bokeh.documents[0];
  const fig = doc.get_model_by_name(name);
  const data = doc.get_model_by_name(source).data;
  const i = Array.from(data.key).indexOf(key);
  const factor = data.factor[i], half = data.revenue[i] / 2;
  const view = Bokeh.index.find_one(fig);
  const f = view.frame, r = view.el.getBoundingClientRect();
  if (horizontal) return [r.left + f.x_scale.compute(half), r.top + f.y_scale.compute(fig.y_range.synthetic(factor))];
  return [r.left + f.x_scale.compute(fig.x_range.synthetic(factor)), r.top + f.y_scale.compute(half)];
}"""
REVISION = "() => window.Bokeh && Bokeh.documents.length ? Number(Bokeh.documents[0].get_model_by_name('revision').text) : 0"


async def _shop(tmp_path, emulator, daemons, database: tuple = ("data/test.sqlite3", None)) -> tuple[str, Path, Path | str]:
    """A shop with a demo history and its owner and cashier, its daemon started: (web address, log,
    what ``query`` reads). ``database``: a ``shop_database`` pair (SQLite by default)."""
    config = write_config(tmp_path, emulator.device, extra="plugins_dir: null\n", database=database[0])
    (tmp_path / "data").mkdir()
    for args, stdin in ((["catalog", "import", str(SAMPLE)], None), (["seed-demo", "--customers", "150"], None),
                        (["user", "add", "pemilik", "--role", "owner", "--password-stdin"], "mawar-sore-48\n"),
                        (["user", "add", "kasir", "--role", "staff", "--password-stdin"], "mawar-sore-48\n")):
        subprocess.run([SMSD_CRM, *args, "-c", str(config)], input=stdin, text=True, check=True, timeout=120,
                       capture_output=True)
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    base = await wait_until(lambda: (m := re.search(r"web pages on (http://127\.0\.0\.1:\d+)/", log.read_text()))
                            and m.group(1), 30, "web address in the log")
    return base, log, database[1] or tmp_path / "data" / "test.sqlite3"


async def test_only_the_owner_reaches_the_dashboards_and_bokeh_only_through_the_proxy(tmp_path, emulator, daemons):
    base, log, _ = await _shop(tmp_path, emulator, daemons)
    paths = ["/dash", "/dash/sales", "/dash/customers", "/dash/service", "/dash/profit.csv", "/dash/sales/autoload.js?bokeh-autoload-element=x&bokeh-app-path=/dash/sales",
             "/dash/sales.csv", "/dash/static/js/bokeh.min.js"]
    async with client() as anonymous:
        for path in paths:
            r = await anonymous.get(base + path, allow_redirects=False)
            assert r.status == 302 and r.headers["Location"].startswith("/login"), path
    async with client() as staff:
        await log_in(staff, base, "kasir")
        for path in paths:
            assert (await staff.get(base + path, allow_redirects=False)).status == 403, path
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        page = await (await owner.get(f"{base}/dash/sales")).text()
        assert '<script id="bk-sales" src="/dash/sales/autoload.js?' in page
        r = await owner.get(f"{base}/dash/sales")
        assert "unsafe-eval" not in r.headers["Content-Security-Policy"]
        script = await (await owner.get(f"{base}/dash/sales/autoload.js?bokeh-autoload-element=bk-sales"
                                        "&bokeh-app-path=/dash/sales")).text()
        assert "/dash/static/js/bokeh.min.js" in script and "cdn.bokeh.org" not in script
        assert (await owner.get(f"{base}/dash/static/js/bokeh.min.js")).status == 200
        # BokehJS's URLs carry its version: the browser keeps the files (a reload of a dashboard used to
        # fetch its megabytes again, sent on the daemon's loop)
        versioned = re.search(r'/dash/static/js/bokeh\.min\.js\?v=[0-9a-f]+', script).group(0)
        kept = await owner.get(f"{base}{versioned}")
        assert kept.status == 200 and kept.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        # but a refusal or a login redirect for that URL is never kept (it would stand in for BokehJS)
        async with client() as stranger:
            refused = await stranger.get(f"{base}{versioned}", allow_redirects=False)
            assert refused.status == 302 and refused.headers["Cache-Control"] == "no-store"
        missing = await owner.get(f"{base}/dash/static/js/no-such.js?v=1")
        assert missing.status == 404 and missing.headers["Cache-Control"] == "no-store"
        # the dashboards worker started with the first dashboard; it wants the proxy's secret header
        internal = re.search(r"Bokeh on (127\.0\.0\.1:\d+)", log.read_text()).group(1)
        async with aiohttp.ClientSession() as direct:
            for path in ("/dash/sales/autoload.js?bokeh-autoload-element=x&bokeh-app-path=/dash/sales",
                         "/dash/_export/sales", "/dash/_state"):
                r = await direct.get(f"http://{internal}{path}", allow_redirects=False)
                assert r.status in (302, 401, 403), path
        # a websocket opened from another site is refused, even with the owner's cookie
        r = await owner.get(f"{base}/dash/sales/ws", headers={"Origin": "http://evil.example", "Connection": "Upgrade",
                                                              "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                                                              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert r.status == 403
        years = (await (await owner.get(f"{base}/dash/sales.csv")).text()).splitlines()
        assert years[0] == "key (Asia/Jakarta),label,sms_revenue,till_revenue,revenue,units" and len(years) >= 3
        total = sum(int(line.split(",")[4]) for line in years[1:])
        year = years[-1].split(",")[0]
        months = (await (await owner.get(f"{base}/dash/sales.csv", params={"year": year})).text()).splitlines()[1:]
        month_rows = [line for line in months if re.match(rf"{year}-\d\d,", line)]
        assert sum(int(line.split(",")[4]) for line in month_rows) == int(years[-1].split(",")[4])
        assert total > 0
        assert (await owner.get(f"{base}/dash/sales.csv", params={"year": "20x6"})).status == 400
        # one store of a chain (the view's store choice): the parameter reaches the worker
        assert (await (await owner.get(f"{base}/dash/sales.csv", params={"store": "main"})).text()).splitlines() == years
        unknown = await owner.get(f"{base}/dash/sales.csv", params={"store": "zz"})
        assert unknown.status == 400 and "no sales of store 'zz'" in await unknown.text()
        assert (await owner.get(f"{base}/dash/nothing")).status == 404
        # every view's data as CSV
        from smsd_crm_dashboards.views import builtin_views
        for view in builtin_views():
            r = await owner.get(f"{base}/dash/{view.name}.csv")
            assert r.status == 200 and r.content_type == "text/csv", view.name
            assert len((await r.text()).splitlines()) >= 2, view.name
        segments = (await (await owner.get(f"{base}/dash/customers.csv", params={"source": "segments"})).text())
        assert segments.splitlines()[0] == "segment,label,count"  # label: the segment in the page's language
        customers = query(tmp_path / "data" / "test.sqlite3", "SELECT COUNT(*) FROM customers")[0][0]
        assert 0 < sum(int(row["count"]) for row in csv.DictReader(io.StringIO(segments))) <= customers
        assert (await owner.get(f"{base}/dash/customers.csv", params={"source": "nope"})).status == 404
        # the tables drawn as HTML are exported whole, and a formula typed as a name stays text
        db = tmp_path / "data" / "test.sqlite3"
        phone = query(db, "SELECT phone FROM orders WHERE state != 'cancelled' ORDER BY id DESC LIMIT 1")[0][0]
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE customers SET name = ? WHERE phone = ?", ('=HYPERLINK("http://x.example","klik")', phone))
        for view, source, least in (("profit", "customers", 16), ("future", "customers", 31),
                                    ("crosssell", "rules_per_purchase", 2), ("retention", "lapsing", 2)):
            rows = list(csv.reader(io.StringIO(await (await owner.get(
                f"{base}/dash/{view}.csv", params={"source": source})).text())))
            assert len(rows) >= least, (view, source)  # more than the page shows
        rows = list(csv.DictReader(io.StringIO(await (await owner.get(
            f"{base}/dash/profit.csv", params={"source": "customers"})).text())))
        mine = [r for r in rows if r["phone"] == phone][0]
        assert mine["name"] == "'" + '=HYPERLINK("http://x.example","klik")'
        assert int(mine["profit"]) == int(mine["revenue"]) - int(mine["cost_of_goods"]) - int(
            mine["promo_discounts"]) - int(mine["points_redeemed"]) - 350 * int(mine["sms_parts"]) - 25000 * int(mine["complaints"])
        await wait_until(lambda: "dashboards ready" in log.read_text(), 30, "warm-up")
        page = await (await owner.get(f"{base}/dash/customers")).text()
        assert 'href="/dash/customers.csv?source=segments"' in page


async def test_sales_drill_down_and_live_update_in_chromium(tmp_path, emulator, daemons, page,  # noqa: F811
                                                            shop_database):
    base, _, db = await _shop(tmp_path, emulator, daemons, shop_database)
    outside = []

    async def only_the_daemon(route):
        if route.request.url.startswith(base):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()
    await page.route("**/*", only_the_daemon)
    await page.goto(f"{base}/dash/sales")
    await page.fill("input[name=username]", "pemilik")
    await page.fill("input[name=password]", "mawar-sore-48")
    await page.click("button[type=submit]")
    await page.wait_for_function(f"() => ({REVISION})() >= 1")
    await page.evaluate("() => { window.notReloaded = true; }")
    years = await page.evaluate("() => Array.from(Bokeh.documents[0].get_model_by_name('main').data.key)")
    this_year = years[-1]
    before = await page.evaluate(f"() => Bokeh.documents[0].get_model_by_name('main').data.revenue[{len(years) - 1}]")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-sales-years.png"), full_page=True)

    # An SMS order arrives: the open chart changes, no reload.
    replies = emulator.subscribe("+6281234567890")
    emulator.deliver("081234567890", "PESAN beras 2, gula 1")
    assert (await next_reply(replies, 30)).startswith("Pesanan #")
    # Earlier events (the SMS arriving) may refresh the chart before the order exists: wait for the
    # refresh that shows the order, then check it is exactly the order.
    last = f"Bokeh.documents[0].get_model_by_name('main').data.revenue[{len(years) - 1}]"
    await page.wait_for_function(f"() => {last} !== {before}", timeout=10000)
    after = await page.evaluate(f"() => {last}")
    assert after - before == 2 * 78000 + 18000  # the order's lines, as priced in the catalogue
    assert await page.evaluate("() => window.notReloaded === true")

    # Click a year, then a category: months and categories, then that category's products.
    x, y = await page.evaluate(BAR, ["main_chart", "main", this_year, False])
    await page.mouse.click(x, y)
    await page.wait_for_function(f"() => Bokeh.documents[0].get_model_by_name('title').text.includes('{this_year}')")
    # the title and the bars are separate model changes: wait for the bars themselves to be months
    await page.wait_for_function(
        "year => { const k = Array.from(Bokeh.documents[0].get_model_by_name('main').data.key);"
        " return k.length > 0 && k.every(m => m.startsWith(year + '-')); }", arg=this_year)
    months = await page.evaluate("() => Array.from(Bokeh.documents[0].get_model_by_name('main').data.key)")
    assert months and all(m.startswith(this_year + "-") for m in months)
    categories = await page.evaluate("() => Array.from(Bokeh.documents[0].get_model_by_name('side').data.key)")
    assert "Sembako" in categories
    await page.screenshot(path=str(ARTIFACTS / "dashboard-sales-year.png"), full_page=True)
    x, y = await page.evaluate(BAR, ["side_chart", "side", "Sembako", True])
    await page.mouse.click(x, y)
    await page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('title').text.includes('Sembako')")
    sembako = {row[0] for row in query(db, "SELECT code FROM products WHERE category = 'Sembako'")}
    await page.wait_for_function(  # the side bars become that category's products (a change of their own)
        "codes => { const k = Array.from(Bokeh.documents[0].get_model_by_name('side').data.key);"
        " return k.length > 0 && k.every(c => codes.includes(c)); }", arg=sorted(sembako))
    products = await page.evaluate("() => Array.from(Bokeh.documents[0].get_model_by_name('side').data.key)")
    assert products and set(products) <= sembako
    await page.screenshot(path=str(ARTIFACTS / "dashboard-sales-category.png"), full_page=True)
    await page.get_by_role("button", name="← Kembali").click()
    await page.wait_for_function("() => !Bokeh.documents[0].get_model_by_name('title').text.includes('Sembako')")
    # every other view draws, and gets its screenshot
    from smsd_crm_dashboards.views import builtin_views
    for view in [v.name for v in builtin_views() if v.name != "sales"]:
        await page.goto(f"{base}/dash/{view}")
        await page.wait_for_function(f"() => ({REVISION})() >= 1", timeout=20000)
        await page.screenshot(path=str(ARTIFACTS / f"dashboard-{view}.png"), full_page=True)
    assert outside == [], outside  # BokehJS and everything else came from the daemon
