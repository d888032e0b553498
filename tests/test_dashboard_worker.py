"""The dashboards run in a worker process of their own (issue 17), against `smsd-crm run` as a separate
process with an emulated modem, a real database file and the real worker: a refresh that blocks for
as long as the test likes never delays an SMS reply; a plugin's ``register_dashboards`` view appears
under /dash for the owner only and draws in chromium; the worker stops when idle and starts again,
and one killed comes back when a dashboard is next opened."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from smsd_crm_dashboards.documents import DocumentHub
from smsd_crm_dashboards.spec import ViewSpec, WorkerSpec
from smsd_crm_dashboards.views import all_views

from smsd_crm import StartupError, View
from smsd_crm.emulator.pty_modem import next_reply

from .conftest import SMSD_CRM, query, wait_until, write_config
from .test_browser import page  # noqa: F401  (the chromium fixture)
from .test_web_auth import client, log_in

# A plugin adding one dashboard. Its refresh blocks its whole loop (time.sleep, as a heavy computation
# would) while the file "block" exists beside it, after saying so with the file "blocked".
PLUGIN = '''
import time
from pathlib import Path

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div

from smsd_crm import View, hookimpl

HERE = Path(__file__).parent


def make(doc, data, hub, lang=None):
    count = Div(text="", name="count")
    table = ColumnDataSource({"count": []}, name="customers")  # offered as /dash/deliveries.csv
    marker = Div(text="0", name="revision", visible=False)

    async def refresh():
        if (HERE / "block").exists():
            (HERE / "blocked").touch()
            while (HERE / "block").exists():
                time.sleep(0.05)
        row = await data.db.fetchone("SELECT COUNT(*) FROM customers")
        count.text = ("Customers: " if lang == "en" else "Pelanggan: ") + str(row[0])
        table.data = {"count": [row[0]]}
        marker.text = str(int(marker.text) + 1)
    doc.add_root(column(count, marker))
    doc.add_root(table)
    hub.register(doc, refresh)
    doc.add_next_tick_callback(refresh)
    return refresh


@hookimpl
def register_dashboards():
    return [View("deliveries", "Pengiriman", make, titles={"en": "Deliveries"})]
'''
REVISION = "() => window.Bokeh && Bokeh.documents.length ? Number(Bokeh.documents[0].get_model_by_name('revision').text) : 0"


def _config(tmp_path: Path, device: str, extra: str = "") -> tuple[Path, Path]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "deliveries.py").write_text(PLUGIN)
    config = write_config(tmp_path, device, extra=f"plugins_dir: {plugins}\n" + textwrap.dedent(extra))
    (tmp_path / "data").mkdir()
    return config, plugins


def _users(config: Path) -> None:
    for name, role in (("pemilik", "owner"), ("kasir", "staff")):
        subprocess.run([SMSD_CRM, "user", "add", name, "--role", role, "--password-stdin", "-c", str(config)],
                       input="mawar-sore-48\n", text=True, check=True, timeout=120, capture_output=True)


async def _base(log: Path) -> str:
    return await wait_until(lambda: (m := re.search(r"web pages on (http://127\.0\.0\.1:\d+)/", log.read_text()))
                            and m.group(1), 30, "web address in the log")


async def test_an_sms_is_answered_while_a_dashboard_refresh_blocks(tmp_path, emulator, daemons):
    config, plugins = _config(tmp_path, emulator.device, "dashboards:\n  start: at_startup\n")
    (plugins / "block").touch()
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    # the worker started with the daemon and is computing the plugin's view: its loop is held
    await wait_until(lambda: (plugins / "blocked").exists(), 120, "the dashboard refresh blocking")
    replies = emulator.subscribe("+6281234567890")
    emulator.deliver("081234567890", "daftar Budi")
    assert "Budi" in await next_reply(replies, 30)
    # answered while the refresh still blocked: it was not waiting for it
    assert (plugins / "block").exists() and "dashboards ready" not in log.read_text()
    (plugins / "block").unlink()
    await wait_until(lambda: "dashboards ready" in log.read_text(), 60, "the worker's warm-up to finish")


async def test_a_plugin_dashboard_is_under_dash_for_the_owner_only(tmp_path, emulator, daemons, page):  # noqa: F811
    config, _ = _config(tmp_path, emulator.device)
    _users(config)
    log = tmp_path / "daemon.log"
    await daemons(config, log)
    base = await _base(log)
    async with client() as anonymous:
        for path in ("/dash/deliveries", "/dash/deliveries.csv", "/dash/deliveries/autoload.js"):
            r = await anonymous.get(base + path, allow_redirects=False)
            assert r.status == 302 and r.headers["Location"].startswith("/login"), path
    async with client() as staff:
        await log_in(staff, base, "kasir")
        assert (await staff.get(f"{base}/dash/deliveries", allow_redirects=False)).status == 403
        assert "/dash/deliveries" not in await (await staff.get(f"{base}/")).text()
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        menu = await (await owner.get(f"{base}/dash/sales")).text()
        assert re.search(r'<a href="/dash/deliveries"[^>]*>Pengiriman</a>', menu)
        owner.cookie_jar.update_cookies({"smsd_lang": "en"})
        english = await (await owner.get(f"{base}/dash/sales")).text()
        assert re.search(r'<a href="/dash/deliveries"[^>]*>Deliveries</a>', english)
    # drawn in chromium, from the shop's database, in the worker
    emulator.deliver("081234567890", "daftar Budi")
    await wait_until(lambda: query(tmp_path / "data" / "test.sqlite3", "SELECT COUNT(*) FROM customers")[0][0] == 1,
                     30, "the customer registered")
    await page.goto(f"{base}/dash/deliveries")
    await page.fill("input[name=username]", "pemilik")
    await page.fill("input[name=password]", "mawar-sore-48")
    await page.click("button[type=submit]")
    await page.wait_for_function(f"() => ({REVISION})() >= 1", timeout=60000)
    shown = await page.evaluate("() => Bokeh.documents[0].get_model_by_name('count').text")
    assert shown == "Pelanggan: 1"
    assert await page.locator('nav.tabs a[aria-current="page"]').inner_text() == "Pengiriman"


def _cpus_of(pid: int) -> set[str]:
    """Each thread's allowed CPUs (Linux's Cpus_allowed_list), as the set of distinct lists."""
    found = set()
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            found |= {line.split(":", 1)[1].strip() for line in status.read_text().splitlines()
                      if line.startswith("Cpus_allowed_list:")}
        except OSError:
            pass  # a thread that ended meanwhile
    return found


async def test_the_worker_stops_when_idle_and_comes_back_after_a_crash(tmp_path, emulator, daemons):
    config, _ = _config(tmp_path, emulator.device, "dashboards:\n  idle_minutes: 0.05\n")
    _users(config)
    log = tmp_path / "daemon.log"
    daemon = await daemons(config, log)
    everything = _cpus_of(daemon.proc.pid)
    assert len(everything) == 1  # every thread may use every CPU the daemon was given
    many = len(os.sched_getaffinity(0)) >= 2
    base = await _base(log)

    def started() -> list[int]:
        return [int(p) for p in re.findall(r"dashboards worker started \(pid (\d+)", log.read_text())]
    assert started() == []  # not before a dashboard is wanted
    async with client() as owner:
        await log_in(owner, base, "pemilik")
        r = await owner.get(f"{base}/dash/deliveries.csv")
        assert r.status == 200, await r.text()
        first = started()
        assert len(first) == 1
        # while it runs: the daemon's threads on the first CPU, the worker's on the others (dashboards.own_cpu)
        if many:
            first_cpu = str(min(os.sched_getaffinity(0)))
            assert _cpus_of(daemon.proc.pid) == {first_cpu}
            worker_cpus = _cpus_of(first[0])
            assert len(worker_cpus) == 1 and first_cpu not in worker_cpus.pop().replace("-", ",").split(",")
            assert f"the daemon keeps {first_cpu} until the worker stops" in log.read_text()
        else:
            assert _cpus_of(daemon.proc.pid) == everything == _cpus_of(first[0])
        # nobody looks for 3 s (idle_minutes 0.05): the worker ends and its memory is the system's again
        await wait_until(lambda: "dashboards worker stopped: no dashboard open" in log.read_text(), 60, "idle stop")
        await wait_until(lambda: not Path(f"/proc/{first[0]}").exists(), 30, "the worker process gone")
        assert _cpus_of(daemon.proc.pid) == everything  # every CPU the daemon's again
        assert (await owner.get(f"{base}/dash/deliveries.csv")).status == 200
        second = started()
        assert len(second) == 2
        # a crash is logged; the next dashboard opened starts a new worker
        os.kill(second[-1], signal.SIGKILL)
        await wait_until(lambda: "dashboards worker ended unexpectedly" in log.read_text(), 30, "the crash logged")
        assert _cpus_of(daemon.proc.pid) == everything
        r = await owner.get(f"{base}/dash/deliveries.csv")
        assert r.status == 200 and (await r.text()).startswith("count"), await r.text()
        assert len(started()) == 3


def a_view(doc, data, hub, lang=None):
    """A view function defined at the top of a module, as the worker needs."""


def test_a_view_s_name_and_make_are_checked_when_it_is_made():
    with pytest.raises(ValueError, match="it is a URL"):
        View("Pengiriman Hari Ini", "Pengiriman", a_view)
    with pytest.raises(ValueError, match="top of a module"):
        View("deliveries", "Pengiriman", lambda doc, data, hub, lang=None: None)
    spec = ViewSpec.of(View("deliveries", "Pengiriman", a_view, titles={"en": "Deliveries"}), "lokasi")
    assert spec.make == f"{__name__}:a_view" and spec.load() is a_view
    assert WorkerSpec.loads(WorkerSpec("x.sqlite3", "Asia/Jakarta", {}, False, [spec], "k", "s", 60).dumps()).views == [spec]


def test_a_plugin_view_cannot_take_a_name_already_taken():
    with pytest.raises(StartupError, match="'sales' is taken by a built-in dashboard"):
        all_views([("lokasi", View("sales", "Penjualan", a_view))])
    with pytest.raises(StartupError, match="taken by plugin 'lokasi'"):
        all_views([("lokasi", View("peta", "Peta", a_view)), ("lain", View("peta", "Peta", a_view))])
    assert [s.name for s in all_views([("lokasi", View("peta", "Peta", a_view))])][-1] == "peta"


class FakeDocument:
    """What DocumentHub asks of a Bokeh document: run a callback on its next tick."""

    def add_next_tick_callback(self, callback) -> None:
        asyncio.get_running_loop().create_task(callback())


async def test_an_open_dashboard_refreshes_at_most_once_per_spacing():
    refreshes = []

    async def refresh() -> None:
        refreshes.append(1)
    hub, doc = DocumentHub(spacing=3600), FakeDocument()
    hub.register(doc, refresh)
    for _ in range(10):  # a burst of SMS and orders
        hub.changed("orders")
    await wait_until(lambda: refreshes, 10, "the first refresh")
    for _ in range(10):
        hub.changed("messages")
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(refreshes) == 1  # the second burst waits for the spacing: one refresh at its end
    hub.changed("modems")  # not something a dashboard shows
    quick, later = DocumentHub(spacing=0.05), FakeDocument()
    quick.register(later, refresh)
    quick.changed("orders")
    await wait_until(lambda: len(refreshes) == 2, 10, "a refresh")
    quick.changed("orders")
    quick.changed("orders")
    await wait_until(lambda: len(refreshes) == 3, 10, "the refresh after the spacing")


def test_a_view_that_cannot_be_imported_in_the_worker_is_left_out(caplog):
    from smsd_crm_dashboards.worker import loaded

    good = ViewSpec.of(View("deliveries", "Pengiriman", a_view), "lokasi")
    gone = ViewSpec("peta", "Peta", "smsd_crm_no_such_plugin.views:make", plugin="peta")
    views = loaded(WorkerSpec("x.sqlite3", "Asia/Jakarta", {}, False, [gone, good], "k", "s", 60))
    assert views == {"deliveries": a_view}
    assert "dashboard peta (peta): cannot load smsd_crm_no_such_plugin.views:make: ModuleNotFoundError" in caplog.text


async def test_the_worker_s_log_lines_reach_the_daemon_s_own_log(caplog):
    import json
    import logging

    from smsd_crm_dashboards.link import WorkerLink

    bokeh = logging.getLogger("bokeh")
    kept = bokeh.propagate
    bokeh.propagate = False  # what Bokeh does to its logger when a plugin imports it in the daemon
    try:
        link = WorkerLink(WorkerSpec("x.sqlite3", "Asia/Jakarta", {}, False, [], "k", "s", 60))
        stderr = asyncio.StreamReader()
        for name, level, message in (("bokeh.server.views.ws", 20, "WebSocket connection opened"),
                                     ("smsd_crm_dashboards.worker", 40, "dashboard peta: cannot load")):
            stderr.feed_data(json.dumps({"name": name, "level": level, "msg": message}).encode() + b"\n")
        stderr.feed_data(b"DeprecationWarning: something old\n")
        stderr.feed_eof()
        with caplog.at_level(logging.INFO):
            await link._relay_log(stderr)
    finally:
        bokeh.propagate = kept
    assert caplog.record_tuples == [
        ("bokeh.server.views.ws", logging.INFO, "WebSocket connection opened"),
        ("smsd_crm_dashboards.worker", logging.ERROR, "dashboard peta: cannot load"),
        ("smsd_crm_dashboards.link", logging.WARNING, "dashboards worker: DeprecationWarning: something old")]


async def test_a_line_too_long_from_the_worker_is_left_out_and_reading_goes_on(caplog):
    import json
    import logging

    from smsd_crm_dashboards.link import WorkerLink

    link = WorkerLink(WorkerSpec("x.sqlite3", "Asia/Jakarta", {}, False, [], "k", "s", 60))
    stderr = asyncio.StreamReader(limit=1000)
    stderr.feed_data(b"x" * 5000 + b"\n")  # a view that prints megabytes
    stderr.feed_data(json.dumps({"name": "bokeh", "level": 30, "msg": "still heard"}).encode() + b"\n")
    stderr.feed_eof()
    with caplog.at_level(logging.INFO):
        await link._relay_log(stderr)
    assert caplog.record_tuples[-1] == ("bokeh", logging.WARNING, "still heard")
    assert "a line over" in caplog.text


def test_a_tab_closed_while_its_session_is_made_is_one_line_not_a_traceback():
    # Bokeh's websocket asserts it has a session when it closes; a tab reloaded while the worker was
    # busy has none yet, and tornado logged the assertion as an uncaught exception with a traceback.
    import logging

    from bokeh.server.connection import ServerConnection
    from smsd_crm_dashboards.worker import TabClosedEarly

    connection = object.__new__(ServerConnection)
    connection._session = None
    try:
        connection.session  # what Bokeh's on_close does
    except AssertionError:
        record = logging.LogRecord("tornado.application", logging.ERROR, "web.py", 1, "Uncaught exception GET %s",
                                   ("/dash/sales/ws",), sys.exc_info())
    assert TabClosedEarly().filter(record)
    assert record.levelno == logging.INFO and record.exc_info is None
    assert record.getMessage() == "a dashboard tab closed while its session was being made"
    try:
        raise AssertionError("ours")  # any other assertion keeps its traceback
    except AssertionError:
        other = logging.LogRecord("tornado.application", logging.ERROR, "web.py", 1, "Uncaught", (), sys.exc_info())
    assert TabClosedEarly().filter(other) and other.levelno == logging.ERROR and other.exc_info is not None


def test_a_chart_not_sent_to_a_closed_tab_is_no_log_line():
    import logging

    from smsd_crm_dashboards.worker import TabClosedEarly

    closed = logging.LogRecord("bokeh.server.views.ws", logging.WARNING, "ws.py", 1,
                               "Failed sending message as connection was closed", (), None)
    other = logging.LogRecord("bokeh.server.views.ws", logging.WARNING, "ws.py", 1, "Something else", (), None)
    assert not TabClosedEarly().filter(closed) and TabClosedEarly().filter(other)
