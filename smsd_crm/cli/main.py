"""The ``smsd-crm`` command: one small function per subcommand.

User mistakes (bad config, unreachable daemon) print one line and exit non-zero;
tracebacks are kept for bugs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Callable

from .. import __version__, files
from ..config import Settings, load_config
from ..config_files import find_config
from ..errors import ConfigError, SmsdError
from ..i18n import LANGUAGES
from ..tasks import run_loop
from . import access as cli_access
from . import analytics as cli_analytics
from . import backups as cli_backups
from . import campaigns as cli_campaigns
from . import doctor as cli_doctor
from . import logs
from . import service as cli_service
from . import tools as cli_tools
from .data import cmd_catalog_export, cmd_catalog_import, cmd_sales_import

LOGGER = logging.getLogger("smsd_crm")
DEMO_HISTORY_CUSTOMERS = 800  # three years of history so every dashboard has something on first start


def _setup_logging(settings: Settings | None, verbose: bool = False) -> None:
    level = "DEBUG" if verbose else (settings.logging.level if settings else "INFO")
    logs.set_up(level, settings.logging.file if settings else None)


def _run_until_signal(settings: Settings, on_ready=None) -> int:
    from ..daemon import run_daemon

    def ready(running) -> None:
        # What starting made (modules, plugins, settings, templates) lives as long as the daemon: out of
        # the cyclic collector's reach, its full collections stop walking it (30 ms for the 68,000
        # objects of the imports alone on the benchmark machine: a pause in every reply in flight).
        gc.freeze()
        if on_ready:
            on_ready(running)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_daemon(settings, stop, on_ready=ready)

    run_loop(main())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM or Ctrl-C."""
    settings = load_config(args.config)
    _setup_logging(settings, args.verbose)
    return _run_until_signal(settings)


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed demo data, run the daemon with emulated modems, print how to talk to it."""
    from ..demo.shop import demo_banner, seed_demo, seed_history

    settings = load_config(args.config)
    if not any(m.port == "emulator" for m in settings.modems):
        raise ConfigError(f"{args.config}: demo needs at least one modem with 'port: emulator'")
    _setup_logging(settings, args.verbose)
    created = run_loop(seed_demo(settings))
    LOGGER.info("demo data: %d customer(s) added", created)
    history = run_loop(seed_history(settings, years=3, customers=DEMO_HISTORY_CUSTOMERS))
    if history:
        LOGGER.info("demo history: %s", ", ".join(f"{n} {t}" for t, n in history.items()))
    return _run_until_signal(settings, on_ready=lambda running: print(
        demo_banner(running, args.config), flush=True))


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate the config and every enabled plugin's section without opening a modem."""
    from smsd_crm_dashboards.views import all_views

    from ..plugins import PluginHost

    settings = load_config(args.config)
    host = PluginHost.load(settings)
    host.check()
    all_views(host.dashboards())  # a plugin's view named like another: the daemon would not start
    plugins = ", ".join(p.name for p in host.enabled())
    for info in host.enabled():
        if info.config is not None and info.config.keywords and "handle_message" not in info.hooks:
            print(f"warning: plugin {info.name!r} has keywords but no handle_message hook: nothing answers them "
                  f"(is @hookimpl missing?)", file=sys.stderr)
    if not any("handle_message" in p.hooks for p in host.enabled()):
        print("warning: no enabled plugin answers SMS (every built-in service is disabled): customers' "
              "texts are stored and never answered", file=sys.stderr)
    print(f"{args.config}: OK ({len(settings.modems)} modem(s); plugins: {plugins}; "
          f"{len(host.keyword_table)} keywords)")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """List every plugin found: source, version, enabled, hooks and keywords."""
    from ..plugins import PluginHost

    host = PluginHost.load(load_config(args.config, secrets=False))
    for info in host.plugins:
        words = sorted(k.word for k in host.keyword_table.values() if k.plugin == info.name)
        state = "enabled" if info.enabled else "disabled"
        version = f" {info.version}" if info.version else ""
        print(f"{info.name}{version} [{state}] ({info.source}: {info.origin})")
        if info.enabled:
            print(f"    hooks: {', '.join(info.hooks) or '-'}")
            print(f"    keywords: {', '.join(words) or '-'}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print each modem's health and the outbox, as the running daemon last published them."""
    from datetime import datetime, timezone

    from ..status import format_status
    from ..storage import daemon_status, messages
    from ..storage.db import Database

    settings = load_config(args.config, secrets=False)
    if settings.database.engine == "sqlite" and not settings.database.path.exists():
        print(f"error: no database at {settings.database.path} (config {settings.source}; -c names another): "
              "start the daemon first", file=sys.stderr)
        return 1

    async def main() -> str:
        db = await Database.open(settings.database.target, settings.store.time, settings.store.id)
        try:
            rows = await messages.modem_rows(db)
            return format_status(rows, await messages.outbox_counts(db), datetime.now(timezone.utc),
                                 await daemon_status.read(db), settings.store.time)
        except Exception as exc:  # an old database without the table
            raise SmsdError(f"cannot read status from {settings.database.shown()}: {exc}") from None
        finally:
            await db.close()

    print(run_loop(main()))
    return 0


def cmd_emulator(args: argparse.Namespace) -> int:
    """Run one emulated modem on its own, for a daemon started separately."""
    from ..emulator.control import serve_control
    from ..emulator.pty_modem import PtyModem

    _setup_logging(None, args.verbose)

    async def main() -> None:
        emu = PtyModem(args.id, link=args.link, send_delay=args.send_delay)
        emu.core.store_send = not args.no_store_send

        def on_air(record) -> None:  # every SMS the daemon put on the air, to count duplicates by
            concat = record.decoded.concat
            part = f" part {concat.sequence}/{concat.total} ref {concat.reference}" if concat else ""
            print(f"on the air: to {record.decoded.destination.number}{part} MR {record.reference}: "
                  f"{record.decoded.text[:60]!r}", flush=True)

        emu.watch(on_air)
        await emu.start()
        server = await serve_control(Path(args.control), [emu])
        print(f"emulated modem {args.id}: port {emu.device}; simulator socket {args.control}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            server.close()
            await emu.stop()
            Path(args.control).unlink(missing_ok=True)

    run_loop(main())
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Create or upgrade the database schema, then exit."""
    from ..daemon import open_database
    from ..plugins import PluginHost

    settings = load_config(args.config, secrets=False)
    _setup_logging(settings, args.verbose)

    async def main() -> None:
        db = await open_database(settings, PluginHost.load(settings))
        await db.close()

    run_loop(main())
    print(f"{settings.database.shown()}: schema up to date")
    return 0


def _plugin_commands(argv: list[str] | None) -> tuple[list[tuple[str, object]], SmsdError | None]:
    """Staff commands of the enabled plugins of the config named on the command line, if it loads;
    else no commands and the config's error (core commands still work; ``main`` reports the error
    when the command asked for is none of them, rather than argparse's "invalid choice")."""
    from ..plugins import PluginHost

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-c", "--config", default=None)
    known, _ = pre.parse_known_args(argv)
    try:
        return PluginHost.load(load_config(find_config(known.config), secrets=False)).commands(), None
    except SmsdError as exc:
        return [], exc


def _run_plugin_command(plugin: str, command) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from ..daemon import offline_session

        settings = load_config(args.config, secrets=False)

        async def main() -> int:
            async with offline_session(settings) as (host, _):
                return await command.run(args, host.contexts[plugin])

        return run_loop(main())
    return run


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand (plugins' staff commands included)."""
    parser = argparse.ArgumentParser(
        prog="smsd-crm", description="smsd-crm: an SMS-gateway CRM for small shops. "
        "Run 'smsd-crm COMMAND --help' for the options of each command.")
    parser.add_argument("--version", action="version", version=f"smsd-crm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # -c, else $SMSD_CRM_CONFIG, else ./config.yaml, else /etc/smsd-crm/config.yaml (config_files)
    default_config = str(find_config())

    def add(name: str, func, help_text: str, config: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=func.__doc__)
        if config:
            p.add_argument("-c", "--config", default=default_config,
                           help=f"config file (default: {default_config}: $SMSD_CRM_CONFIG, else ./config.yaml, "
                           "else /etc/smsd-crm/config.yaml)")
        p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        p.set_defaults(func=func)
        return p

    add("run", cmd_run, "run the daemon")
    add("demo", cmd_demo, "seed demo data and run with emulated modems")
    add("check-config", cmd_check_config, "validate the config file and plugin sections")
    add("plugins", cmd_plugins, "list plugins, their hooks and keywords")
    add("migrate", cmd_migrate, "create or upgrade the database schema")
    add("status", cmd_status, "show each modem's health, the outbox and the daemon's event loop lag")
    cat = sub.add_parser("catalog", help="import or export the product catalogue (CSV)",
                         description="Import or export the product catalogue as CSV.")
    cat_sub = cat.add_subparsers(dest="catalog_command", required=True, metavar="CATALOGCOMMAND")
    imp = cat_sub.add_parser("import", help="add or update products from a CSV file",
                             description=cmd_catalog_import.__doc__ + " Columns: code,name,aliases,"
                             "category,unit,price,cost,stock,active; aliases separated by |.")
    imp.add_argument("file", help="the CSV file (comma or semicolon separated, UTF-8)")
    exp = cat_sub.add_parser("export", help="write the catalogue as CSV", description=cmd_catalog_export.__doc__)
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")
    for p, f in ((imp, cmd_catalog_import), (exp, cmd_catalog_export)):
        p.add_argument("-c", "--config", default=default_config, help="config file")
        p.set_defaults(func=f, verbose=False)
    cli_access.add_parsers(sub, default_config)
    cli_campaigns.add_parsers(sub, default_config)
    cli_analytics.add_parsers(sub, default_config)
    cli_tools.add_parsers(sub, default_config)
    cli_backups.add_parsers(sub, default_config)
    cli_service.add_parsers(sub)
    cli_doctor.add_parsers(sub, default_config)
    sales_p = sub.add_parser("sales", help="import till sales (CSV)", description="Till sales.")
    sales_sub = sales_p.add_subparsers(dest="sales_command", required=True, metavar="SALESCOMMAND")
    simp = sales_sub.add_parser("import", help="import till sales from a CSV file",
                                description=cmd_sales_import.__doc__ + " Columns: receipt,date,phone,code,"
                                "quantity,price (one row per item; phone and price optional).")
    simp.add_argument("file", help="the CSV file")
    simp.add_argument("--utc-offset", type=int, default=None,
                      help="the till's time zone when it is not store.timezone (7 = WIB, 8 = WITA, 9 = WIT)")
    simp.add_argument("-c", "--config", default=default_config, help="config file")
    simp.set_defaults(func=cmd_sales_import, verbose=False)
    commands, config_error = _plugin_commands(argv)
    parser.set_defaults(config_error=config_error)
    parser.core_commands = set(sub.choices)  # type: ignore[attr-defined]
    for plugin, command in commands:
        p = sub.add_parser(command.name, help=f"{command.help} [plugin {plugin}]", description=command.help)
        command.arguments(p)
        p.add_argument("-c", "--config", default=default_config, help="config file")
        # staff work, said in the shop's language as the pages are; --lang is the pages' ID / EN switch
        # (ctx.speaker(args.lang)), unless the plugin has a --lang of its own
        try:
            p.add_argument("--lang", choices=LANGUAGES, default=None,
                           help="the language of the output: id or en (default: the shop's, store.language)")
        except argparse.ArgumentError:
            pass
        p.set_defaults(func=_run_plugin_command(plugin, command), verbose=False)
    emu = add("emulator", cmd_emulator, "run a standalone emulated modem", config=False)
    emu.add_argument("--id", default="emu1", help="modem id")
    emu.add_argument("--link", help="also make this symlink to the pty (a stable port path)")
    emu.add_argument("--control", default="var/emulator.sock", help="simulator socket path")
    emu.add_argument("--send-delay", type=float, default=0.0, metavar="SECONDS",
                     help="seconds per SMS on the air (a real modem takes about 3)")
    emu.add_argument("--no-store-send", action="store_true",
                     help="a modem without AT+CMGW/AT+CMSS (sends with AT+CMGS only)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    files.private_process()  # what smsd-crm creates (database, logs, exports) is the shop user's alone
    argv = argv if argv is not None else sys.argv[1:]
    parser = build_parser(argv)
    config_error = parser.get_default("config_error")
    words = [a for a in argv if not a.startswith("-")]
    if config_error is not None and words and words[0] not in parser.core_commands \
            and not any(a in ("-h", "--help", "--version") for a in argv[:1]):
        # a plugin's command (order, complaint) whose config does not load: say what is wrong
        print(f"error: {config_error}", file=sys.stderr)
        print(f"('{words[0]}' is a plugin's command: it is available once the config loads)", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SmsdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `smsd-crm order list | head`: the reader left; not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0
