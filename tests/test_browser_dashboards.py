"""The owner's dashboards on a 360 px phone screen in Debian's chromium (issue 14): the axis text
BokehJS really draws reads as Rupiah (no 'e+'), no tooltip stays after a drill-down, nothing is
wider than the screen, products read by name, and the labels follow the page's language."""

from __future__ import annotations

from .conftest import query
from .test_browser import ARTIFACTS, page  # noqa: F401  (the chromium fixture)
from .test_dashboards import BAR, REVISION, _shop

PHONE = {"width": 360, "height": 740}
# The axis labels a figure draws on its canvas, as BokehJS computes them for the ticks on screen.
AXIS_TEXT = """([name]) => {
  const view = Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name(name));
  return view.axis_views.map((axis) => {
    const ticks = axis.tick_coords.major[axis.dimension];
    return axis.compute_labels(ticks).items.map((label) => String(label.text));
  });
}"""
TOOLTIPS = "() => Array.from(document.querySelectorAll('.bk-Tooltip')).filter((e) => e.isConnected).length"
# How far right the view reaches: the dashboard box's own overflow (a wide table scrolls inside its
# box and does not count) and every chart canvas, found through Bokeh's shadow roots.
WIDEST = """() => {
  const box = document.querySelector('.dashboard');
  let widest = Math.max(box.getBoundingClientRect().left + box.scrollWidth, box.getBoundingClientRect().right);
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === 'CANVAS') widest = Math.max(widest, el.getBoundingClientRect().right);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(box);
  return widest;
}"""


async def _log_in(page, base: str, path: str) -> None:
    await page.goto(f"{base}{path}")
    await page.fill("input[name=username]", "pemilik")
    await page.fill("input[name=password]", "mawar-sore-48")
    await page.click("button[type=submit]")
    await page.wait_for_function(f"() => ({REVISION})() >= 1", timeout=30000)


async def _axis_text(page, chart: str) -> list[str]:
    labels = [t for axis in await page.evaluate(AXIS_TEXT, [chart]) for t in axis]
    assert labels, chart
    assert not [t for t in labels if "e+" in t or "e-" in t], (chart, labels)
    return labels


SCROLL_TO = """([name]) => Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name(name)).el
  .scrollIntoView({block: 'center'})"""


async def _hover_then_click(page, chart: str, source: str, key: str, horizontal: bool) -> None:
    # The phone layout's header and stacked charts put the lower chart below the fold: bring it on
    # screen first (the mouse hovers only what is in the viewport; BAR gives viewport coordinates).
    await page.evaluate(SCROLL_TO, [chart])
    x, y = await page.evaluate(BAR, [chart, source, key, horizontal])
    await page.mouse.move(x, y)
    await page.wait_for_function(f"() => ({TOOLTIPS})() > 0")  # the tooltip is up
    await page.mouse.click(x, y)


async def test_dashboards_on_a_phone(tmp_path, emulator, daemons, page):  # noqa: F811
    base, _, db = await _shop(tmp_path, emulator, daemons)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.set_viewport_size(PHONE)
    await _log_in(page, base, "/dash/sales")
    assert await page.evaluate(WIDEST) <= PHONE["width"]
    assert any(t.startswith("Rp") and t.endswith(" jt") for t in await _axis_text(page, "main_chart"))
    years = await page.evaluate("() => Array.from(Bokeh.documents[0].get_model_by_name('main').data.key)")

    # hover a year, click it: the months come, and the year's tooltip goes (the mouse has not moved)
    await _hover_then_click(page, "main_chart", "main", years[-1], False)
    await page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('side').data.key.includes('Sembako')")
    await page.wait_for_function(f"() => ({TOOLTIPS})() === 0", timeout=10000)
    await _axis_text(page, "main_chart")
    await _axis_text(page, "side_chart")

    # hover a category, click it: its products by name, and again no tooltip left behind
    await _hover_then_click(page, "side_chart", "side", "Sembako", True)
    await page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('title').text.includes('Sembako')")
    await page.wait_for_function(f"() => ({TOOLTIPS})() === 0", timeout=10000)
    shown = await page.evaluate(AXIS_TEXT, ["side_chart"])
    names = dict(query(db, "SELECT code, name FROM products WHERE category = 'Sembako'"))
    assert shown[1] and set(shown[1]) <= set(names.values()) and not set(shown[1]) & set(names), shown  # names
    assert await page.evaluate(WIDEST) <= PHONE["width"]
    await page.screenshot(path=str(ARTIFACTS / "dashboard-phone-sales-products.png"), full_page=True)

    rupiah_charts = {"profit": "class_chart", "future": "top_chart"}
    for view in ("customers", "profit", "future", "retention", "crosssell", "service", "messages"):
        await page.goto(f"{base}/dash/{view}")
        await page.wait_for_function(f"() => ({REVISION})() >= 1", timeout=30000)
        assert await page.evaluate(WIDEST) <= PHONE["width"], view
        if view in rupiah_charts:
            assert any(t.startswith(("Rp", "-Rp")) and t != "Rp0" for t in await _axis_text(page, rupiah_charts[view]))
        await page.screenshot(path=str(ARTIFACTS / f"dashboard-phone-{view}.png"), full_page=True)
    assert "tidak diketahui" in await page.evaluate(
        "() => Bokeh.documents[0].get_model_by_name('table').text")  # messages: reports are off here

    # the future value: the model behind "Rincian model"
    await page.goto(f"{base}/dash/future")
    await page.wait_for_function(f"() => ({REVISION})() >= 1", timeout=30000)
    assert not await page.evaluate("() => Bokeh.documents[0].get_model_by_name('details').visible")
    await page.get_by_role("button", name="Rincian model").click()
    await page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('details').visible")

    # English pages, English dashboards
    await page.context.add_cookies([{"name": "smsd_lang", "value": "en", "url": base}])
    await page.goto(f"{base}/dash/sales")
    await page.wait_for_function(f"() => ({REVISION})() >= 1", timeout=30000)
    assert await page.evaluate("() => Bokeh.documents[0].get_model_by_name('title').text") == "Sales"
    assert any(t.endswith("M") for t in await _axis_text(page, "main_chart"))
    await page.screenshot(path=str(ARTIFACTS / "dashboard-phone-sales-en.png"), full_page=True)

    # logged out in another tab: the dashboard's tab shows the login form, not charts that stopped
    other = await page.context.new_page()
    await other.goto(f"{base}/")
    await other.click("form[action='/logout'] button")
    await other.wait_for_selector("input[name=username]")
    await page.wait_for_selector("input[name=username]", timeout=30000)
    await other.close()
