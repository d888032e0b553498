"""A third party's plugin that misbehaves while a message is routed: it raises, returns the wrong thing,
never answers, ignores its cancellation, writes a book, or loops on ctx.send. The customer is still
answered by the next plugin, nothing the plugin half-did stays, and the next SMS is routed."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import pytest

from smsd_crm import plugins as plugin_host
from smsd_crm.config import parse_config
from smsd_crm.context import REPLY_PARTS, SEND_PARTS, SENDS_PER_MESSAGE, CoreServices
from smsd_crm.daemon import open_database
from smsd_crm.models import InboundMessage
from smsd_crm.plugins import PluginHost
from smsd_crm.router import Router
from smsd_crm.sms.compose import count_parts
from smsd_crm.tasks import BackgroundTasks, Escaped

from .conftest import quiet_outbox, wait_until, write_config

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
BAD = """
import asyncio
import time
from smsd_crm import hookimpl, PluginConfig, Reply
from pydantic import Field

STOPPED = asyncio.Event()  # set when the stubborn hook is finally let go (the test's own end)
FAIL_ALL = False

class C(PluginConfig):
    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "boom": {"id": ["RUSAK"]}, "plain": {"id": ["POLOS"]}, "none": {"id": ["KOSONG"]},
        "book": {"id": ["BUKU"]}, "spam": {"id": ["SPAM"]}, "stubborn": {"id": ["BANDEL"]},
        "own_timeout": {"id": ["LAMBAT"]}, "sends": {"id": ["KABARI"]}, "broken": {"id": ["RETAK"]},
        "blocks": {"id": ["MACET"]}, "blame": {"id": ["SALAHKAN"]}, "exits": {"id": ["KELUAR"]},
        "interrupts": {"id": ["SELA"]}, "closes": {"id": ["TUTUPGEN"]}, "sync_cancel": {"id": ["BATALKAN"]},
        "emoji": {"id": ["EMOJI"]}, "together": {"id": ["BARENG"]},
        "spawns": {"id": ["LATAR"]}, "holds": {"id": ["TAHAN"]},
        "commits": {"id": ["SIMPAN"]}, "odd_text": {"id": ["ANEH"]}, "echoes": {"id": ["GEMA"]}})

@hookimpl
def register_config_model():
    return C

@hookimpl
def track_event(event, ctx):
    if isinstance(event, Echo):
        return ctx.emit(Echo(event.n + 1))  # an event about every event: a chain
    message = getattr(event, "message", None)
    if getattr(message, "command", None) == "blocks":
        time.sleep(0.3)  # a plain def that blocks the loop: nothing can interrupt it
    if getattr(message, "command", None) == "holds" and type(event).__name__ == "MessageReceived":
        return hold(ctx)


async def hold(ctx):
    async with ctx.db.transaction():  # a transaction of its own (events are told outside the router's)
        await write(ctx, "held")
        while not STOPPED.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass


@hookimpl(tryfirst=True)
def customer_profile(customer, ctx, language):
    raise asyncio.CancelledError()  # from a plain def: no cancellation of anyone's, the plugin's failure


class Odd(str):
    def strip(self, *args):
        raise RuntimeError("a str subclass's own method")


class Echo:
    def __init__(self, n):
        self.n = n


async def write(ctx, what):
    await ctx.db.execute("INSERT INTO bad_log (what) VALUES (?)", (what,))


async def background(ctx):
    for i in range(SENDS + 2):  # more than one message's worth: a background job is not counted as one
        await ctx.send("+6281299990000", f"laporan {i}")
    SPAWNED.set()

SENDS = 10
SPAWNED = asyncio.Event()


@hookimpl
def register_migrations():
    from smsd_crm import Migration
    return [Migration("001", "CREATE TABLE bad_log (what TEXT)")]

@hookimpl
async def handle_message(message, ctx):
    if message.phone is not None:
        await ctx.customers.upsert(message.phone, name="half written")
    if message.command == "blame":
        from smsd_crm import PluginError
        raise PluginError("help", "fetch", "blames another plugin")  # never re-asked forever
    if message.command == "exits":
        raise SystemExit(3)
    if message.command == "interrupts":
        raise KeyboardInterrupt()
    if message.command == "closes":
        raise GeneratorExit()
    if message.command == "emoji":
        return Reply("kata \U0001F600 " * 300)
    if message.command == "together":  # asyncio idioms that run writes in tasks of their own
        await asyncio.gather(write(ctx, "g1"), write(ctx, "g2"))
        await asyncio.wait_for(write(ctx, "w"), 5)
        return Reply("bareng")
    if message.command == "commits":
        await ctx.db.execute("  commit")  # would end the router's transaction
    if message.command == "odd_text":
        return Reply(Odd("halo dari plugin"))
    if message.command == "echoes":
        await ctx.emit(Echo(0))
        return Reply("gema")
    if message.command == "spawns":
        ctx.spawn(background(ctx), "job")
        return Reply("mulai")
    if message.command == "boom" or FAIL_ALL:
        raise RuntimeError("plugin bug")
    if message.command == "plain":
        return "a plain string"
    if message.command == "none":
        return Reply(None)
    if message.command == "broken":
        return Reply("a\\ud800b")
    if message.command == "book":
        return Reply("kata " * 1000)
    if message.command == "spam":
        for i in range(500):
            await ctx.send("+6281299990000", f"spam {i}")
        return Reply("done")
    if message.command == "sends":
        for i in range(3):
            await ctx.send("+6281299990000", "panjang " * 300)
        return Reply("dikabari")
    if message.command == "stubborn":
        while not STOPPED.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass
    if message.command == "own_timeout":
        raise TimeoutError("my own HTTP call timed out")
    return None
"""


@pytest.fixture
async def shop(tmp_path, monkeypatch):
    monkeypatch.setattr(plugin_host, "PLUGIN_TIMEOUT", 0.5)
    monkeypatch.setattr(plugin_host, "CANCEL_GRACE", 0.1)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "bad.py").write_text(BAD)
    settings = parse_config("plugins_dir: plugins\nstore: {name: Toko Uji}\n", tmp_path / "c.yaml")
    host = PluginHost.load(settings, third_party=False)
    db = await open_database(settings, host)
    outbox = quiet_outbox(db, lambda: NOW)
    host.bind(CoreServices(db, settings.store, lambda: NOW, lambda: list(host.keyword_table.values()), host.emit,
                           outbox))
    router = Router(db, host, settings, outbox, lambda: NOW)

    async def send(text: str, sender: str = "081234567890") -> tuple[dict, list[dict]]:
        """(the inbound row, the rows queued since) after routing ``text``."""
        before = (await db.fetchone("SELECT COALESCE(MAX(id), 0) FROM messages"))[0]
        await router.accept(InboundMessage("sim1", sender, text, NOW - timedelta(seconds=5), sim_id="510"))
        await router.drain()
        rows = [dict(r) for r in await db.fetchall("SELECT * FROM messages WHERE id > ? ORDER BY id", (before,))]
        return rows[0], rows[1:]

    yield send, db, host
    host.plugins[-1].module.STOPPED.set()
    await db.close()


async def _customers(db) -> int:
    return (await db.fetchone("SELECT COUNT(*) FROM customers"))[0]


@pytest.mark.parametrize("text, why", [
    ("RUSAK", "RuntimeError: plugin bug"),
    ("POLOS", "returned str 'a plain string'; a hook returns Reply(text: str) or None"),
    ("KOSONG", "returned Reply(None); a hook returns Reply(text: str) or None"),
    ("LAMBAT", "TimeoutError: my own HTTP call timed out"),  # its own error, not "no answer within"
    ("BANDEL", "no answer within 0.5 s"),
    ("SALAHKAN", "PluginError: plugin 'help' failed in fetch: blames another plugin"),
    ("KELUAR", "SystemExit: 3"),  # asyncio would let these two stop the daemon
    ("SELA", "KeyboardInterrupt: "),
    ("TUTUPGEN", "GeneratorExit: "),
    ("RETAK", "returned a text that is not Unicode: 'utf-8' codec can't encode character '\\ud800' in position 1: "
     "surrogates not allowed"),
])
async def test_a_failing_plugin_is_skipped_its_writes_undone_and_the_next_one_answers(shop, text, why, caplog):
    send, db, _ = shop
    inbound, replies = await send(f"{text} tolong")
    assert inbound["state"] == "handled" and inbound["plugin"] == "help"
    assert inbound["last_error"] == f"plugin 'bad' failed in handle_message: {why}"
    assert [r["plugin"] for r in replies] == ["help"]  # the customer is not left in silence
    # their command was understood: not "did you mean RUSAK?" but "try again later"
    assert replies[0]["text"] == "Maaf, Toko Uji belum bisa memproses pesan Anda saat ini. Silakan coba lagi nanti."
    assert await _customers(db) == 0  # the half write was rolled back
    assert f"plugin 'bad' failed in handle_message: {why}" in caplog.text
    inbound, replies = await send("DAFTAR Budi#Jl. Mawar 5", "081234567891")  # and the next SMS is routed
    assert inbound["plugin"] == "registration" and replies[0]["text"].startswith("Selamat datang Budi")


async def test_a_text_without_a_command_is_answered_though_a_plugin_fails_on_every_text(shop):
    send, _, host = shop
    host.plugins[-1].module.FAIL_ALL = True
    inbound, replies = await send("halo kak mau tanya dong")
    assert inbound["state"] == "handled" and [r["plugin"] for r in replies] == ["help"]
    assert replies[0]["text"].startswith("Maaf, perintah tidak dikenal")


async def test_a_hook_that_ignores_cancellation_is_closed_and_logged(shop, caplog):
    send, _, host = shop
    await send("BANDEL")
    assert "plugin 'bad': handle_message ignores cancellation; closed" in caplog.text
    await asyncio.sleep(0)  # the closed task's own cancellation is delivered on the loop's next turn
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "plugin 'bad': handle_message" and not t.done()]
    for i in range(3):  # the database is not held by it
        inbound, replies = await send(f"DAFTAR Budi {i}#Jl. Mawar {i}", f"08123456780{i}")
        assert inbound["plugin"] == "registration" and replies


async def test_a_long_reply_is_cut_to_a_few_sms(shop, caplog):
    send, _, _ = shop
    inbound, replies = await send("BUKU")
    assert inbound["plugin"] == "bad" and len(replies) == 1
    assert count_parts(replies[0]["text"]) == REPLY_PARTS and replies[0]["text"].endswith("...")
    assert "an SMS to +6281234567890 from bad was cut to 4 parts (5000 characters were given)" in caplog.text


async def test_a_plugin_sending_in_a_loop_queues_nothing_and_the_customer_is_answered(shop):
    send, db, _ = shop
    inbound, replies = await send("SPAM")
    assert [r["plugin"] for r in replies] == ["help"]  # none of the 500 ctx.send, only the help reply
    assert inbound["last_error"].startswith(f"plugin 'bad' failed in ctx.send: more than {SENDS_PER_MESSAGE} SMS "
                                            "queued while handling one SMS (reply with Reply; a promotion goes through "
                                            "ctx.campaigns.broadcast")
    inbound, replies = await send("KABARI")  # a few sends are fine, each cut to what a staff SMS may be
    assert [r["plugin"] for r in replies] == ["bad"] * 4
    assert [count_parts(r["text"]) for r in replies[:3]] == [SEND_PARTS] * 3


STUBBORN = """
import asyncio, pathlib
from smsd_crm import hookimpl

@hookimpl
async def handle_message(message, ctx):
    if message.text.startswith("BANDEL"):
        pathlib.Path(message.text.split()[1]).write_text("in the hook")
        while True:  # the careless retry loop that swallows the daemon's cancellation
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass
"""


async def test_sigterm_stops_the_daemon_while_a_hook_ignores_its_cancellation(tmp_path, emulator, daemons):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "stubborn.py").write_text(STUBBORN)
    config = write_config(tmp_path, emulator.device, f"plugins_dir: {tmp_path / 'plugins'}\n")
    log = tmp_path / "daemon.log"
    daemon = await daemons(config, log)
    entered = tmp_path / "entered"
    emulator.deliver("+6281200000001", f"BANDEL {entered}")
    await wait_until(entered.exists, 60, "the hook to start")
    assert await daemon.stop(signal.SIGTERM, timeout=60) == 0  # no SIGKILL needed
    text = log.read_text()
    assert "plugin 'stubborn': handle_message ignores cancellation; closed" in text
    assert "smsd-crm stopped" in text


async def test_a_plain_hook_that_blocks_the_daemon_is_logged(shop, monkeypatch, caplog):
    send, _, _ = shop
    monkeypatch.setattr(plugin_host, "BLOCKING", 0.1)
    await send("MACET")
    assert "plugin 'bad': track_event held the daemon for 0." in caplog.text
    assert "s before returning (no SMS is read or answered meanwhile; make it async and await slow work)" in caplog.text


async def test_a_reply_in_another_script_is_cut_in_ucs2_not_emptied(shop):
    send, _, _ = shop
    inbound, replies = await send("EMOJI")
    text = replies[0]["text"]
    assert count_parts(text) == REPLY_PARTS and text.startswith("kata \U0001F600 kata") and text.endswith("...")


async def test_tasks_started_in_a_hook_write_in_its_transaction(shop):
    send, db, _ = shop
    inbound, replies = await send("BARENG")
    assert replies[0]["text"] == "bareng"
    assert sorted(r[0] for r in await db.fetchall("SELECT what FROM bad_log")) == ["g1", "g2", "w"]


async def test_a_hook_holding_its_own_transaction_is_closed_and_the_database_freed(shop, caplog):
    send, db, _ = shop
    await send("TAHAN")  # its track_event opens a transaction and then ignores its cancellation
    assert "plugin 'bad': track_event ignores cancellation; closed" in caplog.text
    inbound, replies = await send("DAFTAR Budi#Jl. Mawar 5", "081234567899")  # the next SMS: stored, answered
    assert inbound["plugin"] == "registration" and replies
    assert await db.fetchall("SELECT what FROM bad_log") == []  # what it wrote was rolled back


async def test_a_background_job_started_from_a_hook_is_not_counted_as_the_message(shop):
    send, db, host = shop
    host.contexts["bad"]._s = dataclasses.replace(host.contexts["bad"]._s, spawn=_spawn)
    inbound, replies = await send("LATAR")
    assert replies[0]["text"] == "mulai"
    await asyncio.wait_for(host.plugins[-1].module.SPAWNED.wait(), 30)
    rows = await db.fetchall("SELECT text FROM messages WHERE plugin = 'bad' AND text LIKE 'laporan %'")
    assert len(rows) == 12


def _spawn(coro, name):
    return BackgroundTasks().spawn(coro, name)


async def test_a_plain_hook_raising_cancelled_error_is_its_failure_not_the_daemons(shop):
    send, db, host = shop
    await send("DAFTAR Budi#Jl. Mawar 5")
    customer = await host.contexts["bad"].customers.get("+6281234567890")
    sections = await host.collect("customer_profile", customer=customer, language="id")
    assert "bad" not in dict(sections) and "points" in dict(sections)  # the others answered
    inbound, replies = await send("BANTUAN", "081234567892")
    assert replies[0]["plugin"] == "help"


def test_a_test_run_ends_though_a_hook_ignores_cancellation(tmp_path):
    """The kit closes what its shops left behind: pytest returns instead of hanging at the loop's close."""
    (tmp_path / "stubborn_plugin.py").write_text(STUBBORN.replace('pathlib.Path(message.text.split()[1]).write_text'
                                                                  '("in the hook")', "pass"))
    (tmp_path / "test_it.py").write_text(textwrap.dedent("""
        import smsd_crm.plugins as host
        import stubborn_plugin
        from smsd_crm.testing import routed_shop, running_shop

        host.PLUGIN_TIMEOUT = 1

        async def test_routed(tmp_path):
            async with routed_shop(tmp_path, plugins={"stubborn": stubborn_plugin}) as shop:
                assert (await shop.send("081234567890", "BANDEL x")).plugin == "help"

        async def test_running(tmp_path):
            async with running_shop(tmp_path, plugins={"stubborn": stubborn_plugin}) as shop:
                assert (await shop.send("081234567890", "BANDEL x")).plugin == "help"
        """))
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr


async def test_a_hook_may_not_end_the_routers_transaction(shop):
    send, _, _ = shop
    inbound, replies = await send("SIMPAN")
    assert "ValueError: ctx.db.execute: transaction statements are not allowed; use ctx.db.transaction()" \
        in inbound["last_error"]
    assert [r["plugin"] for r in replies] == ["help"]


async def test_a_reply_text_of_a_str_subclass_is_sent_as_plain_text(shop):
    send, _, _ = shop
    inbound, replies = await send("ANEH")
    assert (inbound["plugin"], replies[0]["text"]) == ("bad", "halo dari plugin")


async def test_events_emitted_from_track_event_nest_a_few_deep_only(shop, caplog):
    send, _, _ = shop
    inbound, replies = await send("GEMA")
    assert replies[0]["text"] == "gema"
    assert "event Echo dropped: events emitted from track_event nest 4 deep" in caplog.text


async def test_system_exit_in_a_background_job_ends_that_job_only(caplog):
    async def job():
        raise SystemExit(0)

    jobs = BackgroundTasks()
    task = jobs.spawn(job(), "bad:job")
    await asyncio.wait({task}, timeout=30)
    assert isinstance(task.exception(), Escaped)  # and this test's loop is still running
    assert "background task bad:job crashed" in caplog.text
