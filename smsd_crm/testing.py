"""A plugin author's test kit: a shop with your plugin in it, texted as a customer would.

Two shops, one interface (:class:`Shop`):

- :func:`routed_shop`: the plugin host, a real SQLite file and the router, no modem. An SMS goes
  through the same pipeline as in the daemon (stored, read, routed, the reply queued in the same
  transaction); fast, for most tests.
- :func:`running_shop`: the whole daemon in this process, on an emulated GSM modem on a real
  pseudo-terminal: the SMS arrives over AT commands and the reply is read off the air.

Both take the plugin's config section as YAML, the plugin modules by name (a plugin under test
need not be installed; an installed entry point of the same name is replaced), and a folder for
the database. Example (pytest with ``asyncio_mode = "auto"``)::

    from smsd_crm.testing import routed_shop
    import smsd_crm_lokasi.plugin as lokasi

    async def test_lokasi(tmp_path):
        async with routed_shop(tmp_path, "plugins: {lokasi: {landmark: depan masjid}}",
                               plugins={"lokasi": lokasi}) as shop:
            assert "depan masjid" in await shop.text("0812 3456 7890", "lokasi dmn kak")
            assert await shop.rows("SELECT COUNT(*) AS n FROM customers") == [{"n": 0}]

Only the public API and this module are meant for plugins' tests; nothing here reaches a real
modem or the network (the web pages are off unless the config turns them on).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping, Protocol, TypeVar

import yaml

from . import phones
from .config import Settings, parse_config
from .daemon import Running, offline_session, run_daemon, utc_now
from .emulator.core import SubmittedSms
from .emulator.pty_modem import same_number
from .errors import ConfigError, StartupError
from .models import InboundMessage
from .outbox import Outbox
from .plugins import PluginHost
from .router import Router
from .storage.db import Database

__all__ = ["Shop", "ShopReply", "routed_shop", "running_shop", "shop_settings"]

WAIT = 20.0  # seconds: the longest a test waits for the daemon (a bound, never a sleep)
POLL = 0.02  # seconds between two reads of the database while the daemon works on its own tasks

T = TypeVar("T")

_BASE = {
    "store": {"name": "Toko Uji", "timezone": "Asia/Jakarta"},
    "modems": [{"id": "sim1", "port": "emulator"}],
    "web": {"enabled": False},
    "plugins_dir": None,
}


@dataclass(frozen=True)
class ShopReply:
    """What the shop answered one SMS: ``text`` (None when it sent nothing), the plugin that
    handled it (None when no plugin took the message; ``core:flood`` for the flood notice) and
    ``why``, the router's note on the message: why it did not answer, ``repeated`` (the same text
    was just answered), ``throttled`` (too many a minute), ``over reply cap``, ``over budget`` (a
    "not understood" reply over the hourly budget), or the plugin that failed on it (``plugin 'x'
    failed in handle_message: ...``); a running shop's reply the modem could not send is None with
    ``reply failed: <the outbox's error>``; None otherwise (a "makasih" gets no reply and no note)."""

    text: str | None
    plugin: str | None
    why: str | None = None


class Shop(Protocol):
    """What a test can do with a shop, routed or running."""

    settings: Settings
    host: PluginHost
    db: Database

    async def send(self, phone: str, text: str) -> ShopReply:
        """``phone`` (any form: ``0812…``, ``62812…``, ``+62812…``) texts ``text``; the reply."""
        ...

    async def text(self, phone: str, text: str) -> str | None:
        """Like :meth:`send`, only the reply's text."""
        ...

    async def rows(self, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
        """Rows of a query on the shop's database (the plugin's own tables, customers, messages)."""
        ...


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def shop_settings(folder: Path, config: str | Mapping[str, Any] = "") -> Settings:
    """Settings for a test shop in ``folder``: one emulated modem, no web, the database and the
    emulator's socket in ``folder``, then ``config`` (YAML text or a dict) on top.

    Raises :class:`smsd_crm.ConfigError` when ``config`` is not valid, as ``smsd-crm`` would (one
    line: for broken YAML, the line and column); TypeError when it is neither text nor a mapping.
    """
    if isinstance(config, str):
        extra = _yaml(config)
    elif isinstance(config, Mapping):
        extra = dict(config)
    else:
        raise TypeError(f"the test shop's config is YAML text or a mapping, not {type(config).__name__}")
    if extra is not None and not isinstance(extra, dict):
        raise ConfigError("the test shop's config must be a YAML mapping")
    folder = Path(folder)
    data = _merge({**_BASE, "database": {"path": str(folder / "shop.sqlite3")},
                   "emulator": {"control_socket": str(folder / "emulator.sock")}}, extra or {})
    return parse_config(yaml.safe_dump(data), folder / "config.yaml")


def _yaml(text: str) -> Any:
    """YAML text as data; ConfigError naming the line and column of a mistake (PyYAML's own message
    runs over several lines and quotes the text back)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"the test shop's config is not valid YAML{where}: {problem}") from None


def _given(plugins: Mapping[str, ModuleType] | None) -> Mapping[str, ModuleType] | None:
    """``plugins`` checked before the plugin host sees them: TypeError unless each name maps to a
    module; StartupError when one module is given under two names (pluggy refuses that with its
    whole registry in the message)."""
    if plugins is None:
        return None
    if not isinstance(plugins, Mapping):
        raise TypeError(f"plugins must map a name to a module, not be a {type(plugins).__name__}")
    names: dict[int, str] = {}
    for name, module in plugins.items():
        if not isinstance(name, str) or not isinstance(module, ModuleType):
            raise TypeError(f"plugins must map a name to a module: {name!r} maps to {module!r:.80}")
        first = names.setdefault(id(module), name)
        if first != name:
            raise StartupError(f"module {module.__name__} given twice, as {first!r} and {name!r}")
    return plugins


class _Rows:
    db: Database

    async def rows(self, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.db.fetchall(sql, params)]


class RoutedShop(_Rows):
    """The router and the plugins on a real database, no modem (see :func:`routed_shop`)."""

    def __init__(self, settings: Settings, host: PluginHost, db: Database, clock: Callable[[], datetime]) -> None:
        self.settings, self.host, self.db = settings, host, db
        self._clock = clock
        # Replies stay queued in the outbox, to be read: no modem pool runs it.
        outbox = Outbox(db, settings.outbox, clock, host.emit, routes=settings.modems, region=settings.store.country)
        self._router = Router(db, host, settings, outbox, clock, settings.texting.lexicon(), host.masker())
        self._sent = 0
        self._one_at_a_time = asyncio.Lock()

    async def send(self, phone: str, text: str) -> ShopReply:
        # One SMS at a time: the latest inbound row is this one, and its routing is over when drain
        # returns (sends gathered at once would route each other's messages).
        async with self._one_at_a_time:
            # Each SMS gets its own SMSC time stamp, as a network gives it (two equal texts are two SMS).
            self._sent += 1
            when = self._clock() - timedelta(seconds=60) + timedelta(milliseconds=self._sent)
            await self._router.accept(InboundMessage("sim1", phone, text, when, sim_id="test"))
            inbound = await self.db.fetchone("SELECT id FROM messages WHERE direction = 'in' ORDER BY id DESC LIMIT 1")
            await self._router.drain()
            return await _reply_to(self.db, inbound["id"] if inbound else 0)

    async def text(self, phone: str, text: str) -> str | None:
        return (await self.send(phone, text)).text


async def _reply_to(db: Database, inbound_id: int) -> ShopReply:
    handled = await db.fetchone("SELECT plugin, last_error FROM messages WHERE id = ?", (inbound_id,))
    reply = await db.fetchone("SELECT text FROM messages WHERE direction = 'out' AND in_reply_to = ? "
                              "ORDER BY id LIMIT 1", (inbound_id,))
    return ShopReply(reply["text"] if reply else None, handled["plugin"] if handled else None,
                     handled["last_error"] if handled else None)


class RunningShop(_Rows):
    """The whole daemon on an emulated modem (see :func:`running_shop`). ``wait``: the longest
    :meth:`send` waits for the daemon, in seconds (a bound: it returns as soon as the answer is in)."""

    def __init__(self, running: Running) -> None:
        self.settings, self.host, self.db = running.settings, running.host, running.db
        self.modem = running.emulators[0]
        self.wait = WAIT
        self._region = running.settings.store.country
        self._stamp: datetime | None = None

    async def send(self, phone: str, text: str) -> ShopReply:
        """The answer to this SMS, matched by its own row (never "the latest reply to this number"):
        the handling plugin and note from the inbound row, the text from the air (parts joined), or
        None with the outbox's error when the reply failed. TimeoutError after ``wait`` seconds,
        saying what was still awaited."""
        number = phones.normalize(phone, self._region) or phone
        queue = self.modem.subscribe(number)  # before the SMS goes out: its reply cannot be missed
        last = await self.db.fetchone("SELECT COALESCE(MAX(id), 0) AS id FROM messages")
        after, when = last["id"] if last else 0, self._next_stamp()
        awaited = "the SMS was not stored"
        deadline = asyncio.timeout(self.wait)
        try:
            async with deadline:
                self.modem.core.deliver(number, text, when)
                inbound = await _poll(lambda: self._stored(number, when, after))
                awaited = (f"the message (id {inbound}) is still 'received': a plugin is still at work, "
                           "or routing it failed (see the log)")
                handled = await _poll(lambda: self.db.fetchone(
                    "SELECT plugin, last_error FROM messages WHERE id = ? AND state != 'received'", (inbound,)))
                reply = await self.db.fetchone("SELECT id FROM messages WHERE direction = 'out' AND in_reply_to = ? "
                                               "ORDER BY id LIMIT 1", (inbound,))
                if reply is None:
                    return ShopReply(None, handled["plugin"], handled["last_error"])
                awaited = f"its reply (id {reply['id']}) is still in the outbox"
                out = await _poll(lambda: self.db.fetchone(
                    "SELECT state, refs, last_error FROM messages WHERE id = ? AND state NOT IN ('queued', 'sending')",
                    (reply["id"],)))
                if out["refs"] is None:  # never on the air
                    return ShopReply(None, handled["plugin"], f"reply {out['state']}: {out['last_error']}")
                awaited = f"its reply (id {reply['id']}) is {out['state']!r} but was not seen on the air"
                return ShopReply(await _on_air(queue, out["refs"]), handled["plugin"], handled["last_error"])
        except TimeoutError:
            if not deadline.expired():
                raise
            raise TimeoutError(f"no answer to {text!r} from {number} within {self.wait:g} s: {awaited}") from None
        finally:
            self.modem.unsubscribe(queue)

    async def text(self, phone: str, text: str) -> str | None:
        return (await self.send(phone, text)).text

    def _next_stamp(self) -> datetime:
        """An SMSC time stamp no other SMS from this shop has: the key that finds the SMS's row
        (an SMSC stamps to the second, so sends within one second take the next seconds)."""
        now = self.modem.core.clock().replace(microsecond=0)
        self._stamp = now if self._stamp is None or now > self._stamp else self._stamp + timedelta(seconds=1)
        return self._stamp

    async def _stored(self, number: str, when: datetime, after: int) -> int | None:
        """The id of the inbound row of the SMS from ``number`` stamped ``when``, once it is stored."""
        rows = await self.db.fetchall("SELECT id, address, smsc_time FROM messages WHERE direction = 'in' "
                                      "AND id > ? AND smsc_time IS NOT NULL", (after,))
        return next((r["id"] for r in rows
                     if datetime.fromisoformat(r["smsc_time"]) == when and same_number(r["address"], number)), None)


async def _poll(read: Callable[[], Awaitable[T | None]]) -> T:
    """``read()`` until it gives something (the caller bounds the wait)."""
    while (found := await read()) is None:
        await asyncio.sleep(POLL)  # the daemon commits on its own tasks: read again until it has
    return found


async def _on_air(queue: asyncio.Queue[SubmittedSms], refs: str) -> str:
    """The text of the SMS whose parts went out with the message references ``refs`` (as the outbox
    row keeps them: ``"12,13"``), parts joined; other SMS on ``queue`` (replies to other messages
    from the same number) are passed over."""
    wanted = {int(ref) for ref in refs.split(",")}
    parts: dict[int, str] = {}
    while len(parts) < len(wanted):
        record = await queue.get()  # each part was on the air before its row was marked sent
        if record.reference in wanted:
            concat = record.decoded.concat
            parts[concat.sequence if concat else 1] = record.decoded.text
    return "".join(parts[i] for i in sorted(parts))


@contextlib.asynccontextmanager
async def routed_shop(folder: Path, config: str | Mapping[str, Any] = "", *,
                      plugins: Mapping[str, ModuleType] | None = None,
                      clock: Callable[[], datetime] = utc_now) -> AsyncIterator[RoutedShop]:
    """A shop without modems: the built-in plugins, ``plugins`` and their config from ``config``."""
    settings = shop_settings(folder, config)
    async with offline_session(settings, clock, third_party=False, plugins=_given(plugins)) as (host, db):
        await host.call_all("startup", strict=True)
        try:
            yield RoutedShop(settings, host, db, clock)
        finally:
            await host.call_all("shutdown", reverse=True)
            host.end_left_behind()


@contextlib.asynccontextmanager
async def running_shop(folder: Path, config: str | Mapping[str, Any] = "", *,
                       plugins: Mapping[str, ModuleType] | None = None) -> AsyncIterator[RunningShop]:
    """The daemon in this process on one emulated modem, ready to be texted; stopped on exit."""
    settings = shop_settings(folder, config)
    stop = asyncio.Event()
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_daemon(settings, stop, third_party=False, plugins=_given(plugins),
                                          on_ready=lambda running: ready.set_result(running)))
    try:
        async with asyncio.timeout(WAIT):
            waits: set[asyncio.Future[Any]] = {task, ready}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # a start-up error, raised here
            running = ready.result()
            await asyncio.wait_for(asyncio.shield(_modems_ready(running)), WAIT)
        yield RunningShop(running)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, WAIT)


async def _modems_ready(running: Running) -> None:
    for modem in running.pool.modems:
        await modem.ready.wait()
