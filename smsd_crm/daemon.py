"""The composition root: build every component, start them in order, stop them in reverse.

database + migrations -> plugins + startup -> emulated modems -> router, outbox,
modem pool. SIGTERM (the ``stop`` event) lets sends in flight finish, then
unwinds: every wait is bounded and every task is owned by one TaskGroup.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import zlib
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import ModuleType
from typing import AsyncIterator, Callable, Mapping
from zoneinfo import ZoneInfo

from smsd_crm_dashboards.link import WorkerLink
from smsd_crm_dashboards.proxy import DashboardProxy
from smsd_crm_dashboards.spec import WorkerSpec
from smsd_crm_dashboards.views import all_views

from . import credit_alerts, daily_backup, files, limits, status
from .campaigns.greetings import Greetings
from .campaigns.runner import CampaignRunner, local_midnight
from .campaigns.service import CampaignService
from .config import Settings
from .context import CoreServices
from .emulator.control import serve_control
from .emulator.pty_modem import PtyModem
from .emulator.simulator import PhoneSimulator
from .errors import StartupError, StorageUnavailable
from .loop_lag import LoopLag
from .modem.modem import Modem
from .modem.pool import ModemPool
from .outbox import Outbox
from .plugins import PluginHost
from .router import Router
from .service_notify import ServiceNotifier
from .storage import app_secrets
from .storage.db import Database
from .storage.migrate import migrate
from .storage.schema import core_schema
from .storage.send_journal import DbFacts
from .tasks import BackgroundTasks
from .web.app import WebContext, start_web
from .web.live import LiveFeed

LOGGER = logging.getLogger(__name__)
EMULATOR_PORT = "emulator"
DRAIN_TIMEOUT = 10.0


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(timezone.utc)


@dataclass
class Running:
    """What a started daemon exposes to the CLI (and later the web layer)."""

    settings: Settings
    db: Database
    host: PluginHost
    pool: ModemPool
    emulators: list[PtyModem] = field(default_factory=list)
    web_url: str | None = None


async def open_database(settings: Settings, host: PluginHost) -> Database:
    """Open the database and apply core and plugin migrations."""
    db = await Database.open(settings.database.target, settings.store.time, settings.store.id)
    try:
        await migrate(db, core_schema() + host.migrations())
    except BaseException:
        await db.close()
        raise
    return db


async def _open_when_reachable(settings: Settings, host: PluginHost, stop: asyncio.Event,
                               first: float = 0.5, longest: float = 30.0) -> Database | None:
    """The database, opened once its server answers: a PostgreSQL server that starts after this PC's
    daemon (or restarts while it starts) is waited for, said once, not a crash. None when ``stop`` is
    set first. A SQLite file, or a server that refuses us for another reason, raises at once."""
    pause, said = first, False
    while True:
        try:
            db = await open_database(settings, host)
        except StorageUnavailable as exc:
            if not said:
                LOGGER.warning("%s; waiting for it (the modems are opened once it answers)", exc)
                said = True
            try:
                await asyncio.wait_for(stop.wait(), pause)
                return None
            except asyncio.TimeoutError:
                pause = min(pause * 2, longest)
            continue
        if said:
            LOGGER.warning("database %s reachable; starting", settings.database.shown())
        return db


@asynccontextmanager
async def offline_session(settings: Settings, clock: Callable[[], datetime] = utc_now, *,
                          third_party: bool = True, plugins: Mapping[str, ModuleType] | None = None,
                          ) -> AsyncIterator[tuple[PluginHost, Database]]:
    """Plugins bound to the database without modems: for staff commands run from the CLI.

    SMS they queue are committed outbox rows; the running daemon sends them.
    """
    host = PluginHost.load(settings, third_party=third_party, given=plugins)
    db = await open_database(settings, host)
    try:
        # No senders here: what is queued is a committed row that the running daemon sends.
        outbox = Outbox(db, settings.outbox, clock, host.emit, routes=settings.modems, region=settings.store.country)
        host.bind(CoreServices(db=db, store=settings.store, clock=clock, lexicon=settings.texting.lexicon(),
                               keywords=lambda: list(host.keyword_table.values()), emit=host.emit,
                               outbox=outbox, region=settings.store.country,
                               campaigns=CampaignService(db, settings, clock, host)))
        yield host, db
    finally:
        await db.close()


async def _start_emulators(stack: AsyncExitStack, settings: Settings) -> tuple[list[PtyModem], dict[str, str]]:
    emulators, ports = [], {}
    for cfg in settings.modems:
        if cfg.port == EMULATOR_PORT:
            # Two stores of a chain may both have a `sim1`: their emulated SIMs differ all the same.
            name = (cfg.id if settings.store.id == "main" else f"{settings.store.id}/{cfg.id}").encode()
            emu = PtyModem(cfg.id, imei=f"86{zlib.crc32(name):013d}", imsi=f"51010{zlib.crc32(name):010d}",
                           send_delay=settings.emulator.send_delay)
            await emu.start()
            stack.push_async_callback(emu.stop)
            emulators.append(emu)
            ports[cfg.id] = emu.device
    if emulators:
        server = await serve_control(settings.emulator.control_socket, emulators)
        stack.callback(settings.emulator.control_socket.unlink, missing_ok=True)
        stack.push_async_callback(server.wait_closed)
        stack.callback(server.close)
    return emulators, ports


async def _start_dashboards(stack: AsyncExitStack, settings: Settings, host: PluginHost, db: Database,
                            live: LiveFeed, clock: Callable[[], datetime]) -> DashboardProxy:
    """The dashboards: a worker process (started when first wanted, or now by ``dashboards.start``)
    told of every change by the live feed, and the proxy the web pages use; stopped by the exit stack."""
    specs = all_views(host.dashboards())
    spec = WorkerSpec(str(settings.database.target), settings.store.timezone, settings.costs.model_dump(),
                      settings.outbox.delivery_reports, specs,
                      await app_secrets.get_or_create(db, "dashboard_signing_key", clock()),
                      secrets.token_urlsafe(32), settings.web.session_minutes * 60,
                      log_level=logging.getLogger().getEffectiveLevel(), store=settings.store.id)
    worker = WorkerLink(spec, idle_seconds=settings.dashboards.idle_minutes * 60, own_cpu=settings.dashboards.own_cpu)
    live.listeners.append(worker.changed)
    dashboards = DashboardProxy(specs, worker, spec.signing_key)
    await dashboards.start()
    stack.push_async_callback(dashboards.stop)
    return dashboards


async def _keep_store(db: Database, stop: asyncio.Event) -> None:
    """Hold the store's claim (PostgreSQL: taken again after a server restart); if another daemon took
    the store meanwhile, this one stops: two would send each other's replies."""
    try:
        await db.keep_store_claim()
    except StartupError as exc:
        LOGGER.error("%s; this daemon stops", exc)
        stop.set()


async def run_daemon(settings: Settings, stop: asyncio.Event, *,
                     clock: Callable[[], datetime] = utc_now,
                     on_ready: Callable[[Running], None] | None = None,
                     third_party: bool = True, plugins: Mapping[str, ModuleType] | None = None) -> None:
    """Run until ``stop`` is set. Raises SmsdError subclasses for start-up problems.

    ``third_party`` and ``plugins`` choose the plugins as :func:`smsd_crm.plugins.discover` says.
    """
    host = PluginHost.load(settings, third_party=third_party, given=plugins)
    limits.raise_open_file_limit()  # Debian starts programs with 1,024: too few beside web.max_connections
    async with AsyncExitStack() as stack:
        stack.callback(limits.quiet_accept_errors(asyncio.get_running_loop(), limits.Throttled(limits.LOGGER)))
        db = await _open_when_reachable(settings, host, stop)
        if db is None:
            return
        stack.push_async_callback(db.close)
        await db.claim_store()
        if db.engine == "sqlite":  # one shop per file: rows of another store.id mean it was changed
            other = await db.fetchone("SELECT store_id FROM messages WHERE store_id != ? LIMIT 1", (db.store,))
            if other is not None:
                LOGGER.warning("this database holds messages of store.id %r, and this daemon is %r: was store.id "
                               "changed? Their history is not shown and what they queued is not sent; put it "
                               "back (docs/deployment.md)", other[0], db.store)
        folders = ([settings.database.path.parent] if settings.database.engine == "sqlite" else []) + (
            [settings.logging.file.parent] if settings.logging.file else [])
        for warning in files.open_folder_warnings(folders):
            LOGGER.warning("%s", warning)

        # Parts in dependency order: the outbox first (the one way to queue an SMS; its senders, the
        # modem pool, come when it runs), then what queues into it, then the modems that feed the router.
        emit = host.emit
        zone = ZoneInfo(settings.store.timezone)
        outbox = Outbox(db, settings.outbox, clock, emit, routes=settings.modems,
                        daily_campaign_limits={m.id: m.max_per_day for m in settings.modems},
                        day_start=lambda now: local_midnight(now, zone), region=settings.store.country)
        campaigns = CampaignRunner(db, settings, host, outbox, clock, sum(1 for m in settings.modems if m.send),
                                   Greetings(db, settings.campaigns.greetings, clock))
        campaign_service = CampaignService(db, settings, clock, host, wake=campaigns.wake)
        background = BackgroundTasks()
        lexicon = settings.texting.lexicon()
        services = CoreServices(db=db, store=settings.store, clock=clock, lexicon=lexicon,
                                keywords=lambda: list(host.keyword_table.values()), emit=emit,
                                outbox=outbox, region=settings.store.country,
                                spawn=background.spawn, campaigns=campaign_service)
        host.bind(services)
        live = LiveFeed()
        host.observers.append(live.observe)
        stack.push_async_callback(background.aclose)  # tasks a failed start-up left behind stop too
        await host.call_all("startup", strict=True)
        stack.push_async_callback(host.call_all, "shutdown", reverse=True)
        stack.callback(host.end_left_behind)  # on the way out: nothing of theirs may keep the loop from closing

        emulators, ports = await _start_emulators(stack, settings)
        masker = host.masker()  # one rule for what is stored and what the simulator's history shows
        web_url = None
        web_dashboards = None
        if settings.web.enabled:
            simulator = PhoneSimulator(emulators, clock, settings.store.country, on_change=lambda: live.bump("simulator"),
                                       mask=masker.mask) if emulators else None
            dashboards = web_dashboards = await _start_dashboards(stack, settings, host, db, live, clock)
            runner = await start_web(WebContext(
                db, settings.web, settings.store, clock, host, live=live, simulator=simulator, settings=settings,
                outbox=outbox,
                dashboards=dashboards, campaigns=campaign_service))
            stack.push_async_callback(runner.cleanup)
            host_, port = runner.addresses[0][:2]
            web_url = f"http://{host_}:{port}/"
            LOGGER.info("web pages on %s", web_url)
        router = Router(db, host, settings, outbox, clock, lexicon, masker)
        facts = DbFacts(db, clock)  # what each modem model was seen to do, kept across restarts
        modems = [Modem(cfg.model_copy(update={"port": ports.get(cfg.id, cfg.port)}), router.accept,
                        report_sink=outbox.record_report, reports=settings.outbox.delivery_reports, facts=facts)
                  for cfg in settings.modems]
        pool = ModemPool(modems)
        host.observers.append(campaigns.observe)
        running = Running(settings, db, host, pool, emulators, web_url)
        notifier = ServiceNotifier()  # systemd's readiness and watchdog; nothing outside systemd
        lag = LoopLag()  # anything that blocks this loop delays every reply: operators see it in `status`

        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(router.run(), name="router"),
                     tg.create_task(outbox.run(pool), name="outbox"),
                     tg.create_task(pool.run(), name="pool"),
                     tg.create_task(campaigns.run(), name="campaigns"),
                     tg.create_task(lag.run(), name="loop-lag"),
                     tg.create_task(daily_backup.run(settings, clock), name="daily-backup"),
                     tg.create_task(_keep_store(db, stop), name="store-claim"),
                     tg.create_task(notifier.watchdog(), name="service-watchdog"),
                     tg.create_task(credit_alerts.watch(pool.status, db, settings.modems, emit, clock,
                                                        lambda: clock().astimezone(zone).date()),
                                    name="credit-alerts"),
                     tg.create_task(status.publish(pool, db, clock, on_change=lambda: live.bump("modems"), lag=lag),
                                    name="status"),
                     # Another process's commit (a staff command queueing an SMS): pages reload, the
                     # outbox looks at once.
                     tg.create_task(db.watch_changes(lambda: (live.bump(), outbox.notify())), name="changes")]
            if web_dashboards is not None and settings.dashboards.start == "at_startup":
                web_dashboards.worker.prestart()  # it computes every view once, before the owner looks
            LOGGER.info("smsd-crm ready: %d modem(s), plugins: %s", len(modems),
                        ", ".join(p.name for p in host.enabled()))
            notifier.ready(f"answering SMS on {len(modems)} modem(s)" + (f", pages on {web_url}" if web_url else ""))
            if on_ready:
                on_ready(running)
            await stop.wait()
            notifier.stopping()
            LOGGER.info("stopping: letting sends in flight finish (at most %.0f s)", DRAIN_TIMEOUT)
            await outbox.drain(DRAIN_TIMEOUT)
            for task in tasks:
                task.cancel()
    LOGGER.info("smsd-crm stopped")
