"""Find, validate and register plugins; build the keyword registry; call hooks, awaiting.

pluggy never awaits, so runtime hooks are never called through ``pm.hook.x()``:
:meth:`PluginHost.call_first` and :meth:`PluginHost.call_all` walk the hook
implementations in pluggy's order and await what is awaitable, each under a timeout.
"""

from __future__ import annotations

import asyncio
import contextvars
import difflib
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import re
import sys
import time
import traceback
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, AsyncIterator, Callable, Collection, Mapping

import pluggy
from pydantic import ValidationError

from . import hookspecs, phones
from .config import Settings, describe_errors
from .context import CoreServices, PluginContext, handling_message
from .errors import ConfigError, PluginError, StartupError
from .masking import Masker
from .models import BUILTIN_PLUGINS, ApiRoute, Command, Keyword, Migration, Page, View
from .plugin_config import PluginConfig
from .tasks import Escaped, contained

LOGGER = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "smsd_crm"
# Events emitted inside a transaction wait here until it commits (dropped on rollback).
_deferred: contextvars.ContextVar[list | None] = contextvars.ContextVar("smsd_crm_deferred", default=None)
# How deep events emitted from track_event may nest (an event about an event about an event ...).
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("smsd_crm_event_depth", default=0)
MAX_EVENT_DEPTH = 4
PLUGIN_TIMEOUT = 10.0  # seconds a hook may take
BLOCKING = 1.0  # seconds a hook may hold the event loop before it is logged
CANCEL_GRACE = 1.0  # seconds a hook that timed out (or the daemon stopping) gives it to unwind

# The distribution whose entry points are the built-in services (the top-level plugins/ folder).
# They are found exactly like a third party's; only their order is fixed: first, in this order
# (installers sort entry points by name), so that a third-party plugin, registered later, is
# called before them (pluggy calls the last registered first) and help is asked last.
PROJECT_DISTRIBUTION = "smsd-crm"
BUILTIN_ORDER = BUILTIN_PLUGINS


@dataclass
class PluginInfo:
    """One discovered plugin: where it came from and whether config enables it."""

    name: str
    source: str  # builtin (the smsd-crm distribution's entry points) | entrypoint | given | file
    origin: str  # plugins/<package> for a built-in, the distribution of another entry point, or a file path
    version: str
    module: ModuleType | None  # None: disabled in the config, so never imported
    enabled: bool = True
    config: PluginConfig | None = None
    hooks: list[str] = field(default_factory=list)


def _where(exc: BaseException) -> str:
    """`` at FILE:LINE`` of the line that raised (in the plugin's own code), for an import failure."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" at {exc.filename}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    return f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def _load_file(path: Path) -> ModuleType:
    module_name = f"smsd_crm_plugins.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise StartupError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # sys.exit() or KeyboardInterrupt at import must not end every command
        sys.modules.pop(module_name, None)
        raise StartupError(f"plugin file {path} failed to import: {type(exc).__name__}: {exc}{_where(exc)} "
                           f"(fix it, move it out of plugins_dir, or set plugins.{path.stem}.enabled: false)") from None
    return module


def _normal(name: str) -> str:
    """A distribution name as installers compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _is_project(ep: importlib.metadata.EntryPoint) -> bool:
    return ep.dist is not None and _normal(ep.dist.name) == PROJECT_DISTRIBUTION


def _disabled(settings: Settings, name: str) -> bool:
    """The config says ``plugins.<name>.enabled: false``: the plugin is not even imported (a plugin that
    cannot be imported is switched off this way until it is fixed or uninstalled)."""
    return (settings.plugins.get(name) or {}).get("enabled") is False


def _load_entry_point(ep: importlib.metadata.EntryPoint, settings: Settings) -> PluginInfo:
    version = ep.dist.version if ep.dist else ""
    ours = _is_project(ep)
    origin = f"plugins/{ep.value.split('.')[0].split(':')[0]}" if ours else (ep.dist.name if ep.dist else ep.value)
    source = "builtin" if ours else "entrypoint"
    if _disabled(settings, ep.name):
        return PluginInfo(ep.name, source, origin, version, None, enabled=False)
    try:
        module = ep.load()
    except BaseException as exc:  # sys.exit() or KeyboardInterrupt at import must not end every command
        remedy = (f"reinstall {PROJECT_DISTRIBUTION}" if ours else
                  f"fix it, uninstall it (pip uninstall {origin})")
        raise StartupError(f"plugin {ep.name!r} ({ep.value}, from {origin} {version}) failed to import: "
                           f"{type(exc).__name__}: {exc}{_where(exc)} ({remedy}, or set "
                           f"plugins.{ep.name}.enabled: false in {settings.source})") from None
    return PluginInfo(ep.name, source, origin, version, module)


def _check_builtins(ours: list[importlib.metadata.EntryPoint]) -> None:
    """The smsd-crm metadata found first on sys.path decides which built-ins load: a stale copy (an old
    egg-info, a stray dist-info on PYTHONPATH) must not silently drop or add one."""
    names = [ep.name for ep in ours]
    where = ""
    if ours and ours[0].dist is not None:
        where = f" ({ours[0].dist.name} {ours[0].dist.version} at {ours[0].dist.locate_file('')})"
    if not names:
        raise StartupError(f"no built-in plugin found: is {PROJECT_DISTRIBUTION} installed (pip install -e .)?")
    missing = [n for n in BUILTIN_ORDER if n not in names]
    extra = [n for n in names if n not in BUILTIN_ORDER]
    if missing or extra:
        what = "; ".join([*([f"lacks {', '.join(missing)}"] if missing else []),
                          *([f"lists unknown built-in(s) {', '.join(extra)}"] if extra else [])])
        raise StartupError(f"the installed {PROJECT_DISTRIBUTION} metadata{where} {what}: it is stale or not "
                           f"this copy's; reinstall (pip install -e . in a checkout) or remove it")


def discover(settings: Settings, *, third_party: bool = True,
             given: Mapping[str, ModuleType] | None = None) -> list[PluginInfo]:
    """The ``smsd_crm`` entry-point group (the built-ins first), then ``given`` plugin modules by
    name (a plugin's own tests, :mod:`smsd_crm.testing`; one of them replaces an installed entry
    point of its name), then ``*.py`` files in ``plugins_dir``.

    ``third_party=False`` keeps only the built-ins, ``given`` and ``plugins_dir`` (tests, whatever
    else is installed in the environment).
    """
    given = dict(given or {})
    points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    ours = sorted((ep for ep in points if _is_project(ep)),
                  key=lambda ep: (BUILTIN_ORDER.index(ep.name) if ep.name in BUILTIN_ORDER else len(BUILTIN_ORDER)))
    _check_builtins(ours)
    found = [_load_entry_point(ep, settings) for ep in ours]
    if third_party:
        found += [_load_entry_point(ep, settings) for ep in points if not _is_project(ep) and ep.name not in given]
    found += [PluginInfo(name, "given", module.__name__, "", module) for name, module in given.items()]
    if settings.plugins_dir is not None:
        if not settings.plugins_dir.is_dir():
            raise ConfigError(f"{settings.source}: plugins_dir: {settings.plugins_dir} is not a folder")
        for path in sorted(settings.plugins_dir.glob("*.py")):
            if not path.name.startswith("_"):
                module = None if _disabled(settings, path.stem) else _load_file(path)
                found.append(PluginInfo(path.stem, "file", str(path), "", module, enabled=module is not None))
    seen: dict[str, PluginInfo] = {}
    for info in found:
        if info.name in seen:
            raise StartupError(f"two plugins are named {info.name!r}: {seen[info.name].origin} and {info.origin}")
        seen[info.name] = info
    return found


def _validation_text(exc: pluggy.PluginValidationError) -> str:
    """pluggy's complaint in one line, with the arguments the hook takes (docs/plugins.md, "Hooks")."""
    text = " ".join(str(exc).split())
    hook = re.search(r"for hook '(\w+)'", text)
    spec = getattr(hookspecs, hook.group(1), None) if hook else None
    if spec is not None:
        text += f"; {hook.group(1)} takes ({', '.join(inspect.signature(spec).parameters)})"
    return text


def _close(task: asyncio.Task, context: contextvars.Context) -> bool:
    """Close a task's coroutine where it waits (GeneratorExit), in the task's ``context`` (what its frames
    reset on the way out was set there), then cancel the task so that it ends; False when it cannot be
    closed (it caught GeneratorExit and went on waiting)."""
    try:
        context.run(task.get_coro().close)
    except BaseException as exc:  # RuntimeError: coroutine ignored GeneratorExit
        LOGGER.debug("closing %s: %r", task.get_name(), exc, exc_info=exc)
        return False
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())  # nothing left to report
    return True


def _failure(plugin: str, hook: str, exc: BaseException) -> PluginError:
    """What a hook raised, as ``plugin``'s PluginError: a PluginError it raised itself (naming any plugin)
    is its own failure, so that the router leaves *this* plugin out."""
    if isinstance(exc, PluginError) and exc.plugin == plugin:
        return exc
    if isinstance(exc, Escaped):
        return PluginError(plugin, hook, str(exc))
    return PluginError(plugin, hook, f"{type(exc).__name__}: {exc}")


def _unknown_hook_text(exc: pluggy.PluginValidationError) -> str:
    """pluggy's "unknown hook 'x' in plugin <module ...>" as: the hook, what it may have meant, the hooks there are."""
    found = re.search(r"unknown hook '(\w+)'", str(exc))
    if found is None:
        return " ".join(str(exc).split())
    hooks = sorted(name for name, value in vars(hookspecs).items()
                   if callable(value) and hasattr(value, f"{hookspecs.PROJECT}_spec"))
    near = difflib.get_close_matches(found.group(1), hooks, n=1)
    return (f"unknown hook {found.group(1)!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
            + f"; the hooks are: {', '.join(hooks)} (docs/plugins.md, \"Hooks\")")


class PluginHost:
    """The plugin manager, the enabled plugins, their contexts and the keyword registry."""

    def __init__(self, settings: Settings, plugins: list[PluginInfo]) -> None:
        self.settings = settings
        self.plugins = plugins
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.keyword_table: dict[str, Keyword] = {}
        self.contexts: dict[str, PluginContext] = {}
        # Core listeners (the web pages' live refresh), told of every event after the plugins.
        self.observers: list[Callable[[object], None]] = []
        self._left_behind: dict[asyncio.Task, contextvars.Context] = {}  # hooks that ignored their cancellation

    @classmethod
    def load(cls, settings: Settings, *, third_party: bool = True,
             given: Mapping[str, ModuleType] | None = None) -> "PluginHost":
        """Discover (see :func:`discover`), validate every enabled plugin's section, register, build keywords."""
        host = cls(settings, discover(settings, third_party=third_party, given=given))
        host._check_sections()
        for info in host.plugins:
            host._register(info)
        try:
            host.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise StartupError(f"plugin {host.pm.get_name(exc.plugin)!r}: {_unknown_hook_text(exc)}") from None
        host.keyword_table = host._build_keywords()
        return host

    def _check_sections(self) -> None:
        names = {p.name for p in self.plugins}
        for name in self.settings.plugins:
            if name not in names:
                raise ConfigError(f"{self.settings.source}: plugins.{name}: no plugin of that name "
                                  f"(found: {', '.join(sorted(names))})")

    def _register(self, info: PluginInfo) -> None:
        section = dict(self.settings.plugins.get(info.name, {}))
        enabled = section.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{self.settings.source}: plugins.{info.name}.enabled: expected true or false")
        info.enabled = enabled and info.module is not None
        if not info.enabled:
            return
        assert info.module is not None
        if (twin := self.pm.get_name(info.module)) is not None:  # pluggy's own message lists its whole registry
            raise StartupError(f"plugin {info.name!r} ({info.origin}) is the module already loaded as {twin!r}")
        try:
            self.pm.register(info.module, name=info.name)
        except pluggy.PluginValidationError as exc:  # a hook's argument the hookspec does not have
            raise StartupError(f"plugin {info.name!r} ({info.origin}): {_validation_text(exc)}") from None
        except ValueError as exc:
            raise StartupError(f"plugin {info.name!r} cannot be registered: {exc}") from None
        model = self._call_one("register_config_model", info.name) or PluginConfig
        if not (isinstance(model, type) and issubclass(model, PluginConfig)):
            raise StartupError(f"plugin {info.name!r}: register_config_model must return a PluginConfig subclass")
        try:
            info.config = model.model_validate(section)
        except ValidationError as exc:
            raise ConfigError(f"{self.settings.source}: {describe_errors(exc, ('plugins', info.name))}") from None
        except BaseException as exc:  # a validator that raises something pydantic does not turn into an error
            raise StartupError(f"plugin {info.name!r}: its config model failed on plugins.{info.name}: "
                               f"{type(exc).__name__}: {exc}") from None
        info.hooks = sorted(i.name for i in self.pm.get_hookcallers(info.module) or [])

    def _call_one(self, hook: str, plugin: str, **kwargs: Any) -> Any:
        """Call one plugin's synchronous start-up hook (``register_*``); a raise is a one-line StartupError."""
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin_name == plugin:
                try:
                    return impl.function(**{a: kwargs[a] for a in impl.argnames})
                except BaseException as exc:  # SystemExit too: one line, and the core commands still work
                    raise StartupError(f"plugin {plugin!r} failed in {hook}: {type(exc).__name__}: {exc}") from None
        return None

    def check(self) -> None:
        """Call every start-up hook that the daemon calls later (migrations, pages, API, commands,
        dashboards, segments), so that ``check-config`` finds a failing one before ``migrate`` or ``run``
        does. StartupError."""
        self.migrations()
        self.pages()
        self.api_routes()
        self.commands()
        self.dashboards()
        for info in self.enabled():
            self._call_one("register_segments", info.name)

    def _build_keywords(self) -> dict[str, Keyword]:
        table: dict[str, Keyword] = {}
        for info in self.enabled():
            assert info.config is not None
            for command, by_lang in info.config.keywords.items():
                for lang, words in by_lang.items():
                    for word in words:
                        key = word.upper()
                        other = table.get(key)
                        if other is not None and (other.plugin, other.command) != (info.name, command):
                            here, there = (info.name, command, lang), (other.plugin, other.command, other.language)
                            if self._written(*there) and not self._written(*here):
                                here, there = there, here  # name the line the operator wrote
                            whose = f"plugin {there[0]!r}" if there[0] != here[0] else "this plugin"
                            raise ConfigError(
                                f"{self.settings.source}: plugins.{here[0]}.keywords.{here[1]}.{here[2]}: {key!r} "
                                f"is already a keyword of {whose} (command {there[1]}); a word may start "
                                "one command only: choose another")
                        table[key] = Keyword(key, command, info.name, lang,
                                             getattr(info.config, "secret_words", {}).get(command, 0))
        return table

    def _written(self, plugin: str, command: str, language: str) -> bool:
        """Whether the config file itself sets ``plugins.<plugin>.keywords.<command>.<language>``."""
        keywords = (self.settings.plugins.get(plugin) or {}).get("keywords")
        return isinstance(keywords, dict) and isinstance(keywords.get(command), dict) and language in keywords[command]

    def number_secrets(self) -> dict[str, tuple[str, ...]]:
        """E.164 number -> the secret values its texts may carry (``PluginConfig.secret_values``)."""
        region = self.settings.store.country
        out: dict[str, tuple[str, ...]] = {}
        for info in self.enabled():
            for secret in info.config.secret_values() if info.config else []:
                for raw in secret.numbers:
                    phone = phones.normalize(raw, region)
                    if phone is not None:
                        out[phone] = out.get(phone, ()) + (secret.value,)
        return out

    def masker(self) -> Masker:
        """What masks secrets in inbound texts: the keywords of commands with ``secret_words`` and the
        numbers' own secrets (``masking.py``)."""
        return Masker((w for w, kw in self.keyword_table.items() if kw.secret_words), self.number_secrets())

    def enabled(self) -> list[PluginInfo]:
        """The enabled plugins, in load order."""
        return [p for p in self.plugins if p.enabled]

    def _registered(self, hook: str, kind: type) -> list[tuple[str, Any]]:
        """(plugin, item) for what every enabled plugin's ``hook`` returns: a list of ``kind``
        (StartupError naming the plugin for anything else)."""
        out = []
        for info in self.enabled():
            items = self._call_one(hook, info.name)
            if items is None:
                continue
            if not isinstance(items, (list, tuple)) or not all(isinstance(i, kind) for i in items):
                raise StartupError(f"plugin {info.name!r}: {hook} must return a list of {kind.__name__}, "
                                   f"not {items!r:.80}")
            out += [(info.name, item) for item in items]
        return out

    def migrations(self) -> list[tuple[str, Migration]]:
        """Every enabled plugin's migrations as (plugin name, migration)."""
        found = self._registered("register_migrations", Migration)
        for plugin, m in found:
            if (not isinstance(m.name, str) or not isinstance(m.sql, str)
                    or not isinstance(m.postgresql, (str, type(None)))):
                raise StartupError(f"plugin {plugin!r}: register_migrations: Migration(name: str, sql: str, "
                                   f"postgresql: str | None = None), "
                                   f"not {m!r:.80}")
        return found

    def bind(self, services: CoreServices) -> None:
        """Create one context per enabled plugin (after the database is open)."""
        self.contexts = {p.name: PluginContext(p.name, p.config or PluginConfig(), services)
                         for p in self.enabled()}

    # ------------------------------------------------------------ events

    async def emit(self, event: object) -> None:
        """Tell every ``track_event``; inside :meth:`deferred_events`, after it ends without error."""
        pending = _deferred.get()
        if pending is not None:
            pending.append(event)
            return
        depth = _depth.get()
        if depth >= MAX_EVENT_DEPTH:  # a track_event that emits for every event it sees: stop the chain
            LOGGER.error("event %s dropped: events emitted from track_event nest %d deep", type(event).__name__, depth)
            return
        token = _depth.set(depth + 1)
        try:
            with handling_message():  # what the observers send about one event is bounded like a reply's
                await self.call_all("track_event", event=event)
        finally:
            _depth.reset(token)
        for observer in self.observers:
            observer(event)

    @asynccontextmanager
    async def deferred_events(self) -> AsyncIterator[None]:
        """Hold events emitted inside (a transaction) and deliver them only if it succeeds."""
        events: list = []
        token = _deferred.set(events)
        try:
            yield
        finally:
            _deferred.reset(token)
        for event in events:
            await self.emit(event)

    def pages(self) -> list[tuple[str, Any]]:
        """(plugin, Page) for every page the enabled plugins add to the web pages."""
        return self._registered("register_pages", Page)

    def dashboards(self) -> list[tuple[str, Any]]:
        """(plugin, View) for every dashboard the enabled plugins add."""
        return self._registered("register_dashboards", View)

    def api_routes(self) -> list[tuple[str, Any]]:
        """(plugin, ApiRoute) for every JSON API endpoint the enabled plugins add."""
        return self._registered("register_api", ApiRoute)

    def commands(self) -> list[tuple[str, Any]]:
        """(plugin, Command) for every staff command the enabled plugins add to the CLI."""
        return self._registered("register_commands", Command)

    # ------------------------------------------------------------ calling hooks

    def _impls(self, hook: str) -> list[pluggy.HookImpl]:
        # get_hookimpls() is in registration order; pluggy calls the reverse.
        return list(reversed(getattr(self.pm.hook, hook).get_hookimpls()))

    async def _call(self, impl: pluggy.HookImpl, hook: str, kwargs: dict[str, Any]) -> Any:
        args = dict(kwargs, ctx=self.contexts.get(impl.plugin_name))
        started = time.monotonic()
        try:
            result = impl.function(**{a: args[a] for a in impl.argnames})
        except BaseException as exc:  # SystemExit, KeyboardInterrupt, CancelledError from a plain def: its failure
            raise _failure(impl.plugin_name, hook, exc) from exc
        finally:
            if (took := time.monotonic() - started) > BLOCKING:
                # a plain def runs on the loop itself: nothing can time it out, and every SMS waited meanwhile
                LOGGER.warning("plugin %r: %s held the daemon for %.1f s before returning (no SMS is read or "
                               "answered meanwhile; make it async and await slow work)", impl.plugin_name, hook, took)
        if not inspect.isawaitable(result):
            return result
        return await self._await(result, impl.plugin_name, hook)

    async def _await(self, awaitable: Any, plugin: str, hook: str) -> Any:
        """Await a hook as a task of its own (which works in the caller's transaction while it is open:
        ``storage/db.py``), for at most ``PLUGIN_TIMEOUT`` s. A hook that swallows its cancellation is
        left behind, logged, after ``CANCEL_GRACE`` s: the caller's transaction ends and the next SMS is
        routed all the same (the task may not write any more)."""
        context = contextvars.copy_context()  # kept: a coroutine is closed in the context it runs in
        task = asyncio.get_running_loop().create_task(contained(awaitable), name=f"plugin {plugin!r}: {hook}",
                                                      context=context)
        try:
            done, _ = await asyncio.wait({task}, timeout=PLUGIN_TIMEOUT)
        except asyncio.CancelledError:  # the daemon is stopping: so is the hook, within the grace
            await self._stop(task, context, plugin, hook)
            raise
        if not done:
            await self._stop(task, context, plugin, hook)
            raise PluginError(plugin, hook, f"no answer within {PLUGIN_TIMEOUT:g} s")
        try:
            return task.result()
        except asyncio.CancelledError as exc:  # the hook cancelled itself
            raise PluginError(plugin, hook, "cancelled") from exc
        except BaseException as exc:  # GeneratorExit and other BaseExceptions a hook raised are its failure
            raise _failure(plugin, hook, exc) from exc

    async def _stop(self, task: asyncio.Task, context: contextvars.Context, plugin: str, hook: str) -> None:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=CANCEL_GRACE)
        if done:
            if not task.cancelled():
                task.exception()  # retrieved: what it raised while being stopped is not news
            return
        # It swallowed the cancellation: close its coroutine where it waits (GeneratorExit, which an
        # ``except CancelledError`` does not catch), so that its ``async with`` blocks end now, a
        # transaction of its own rolled back and the database free again.
        if _close(task, context):
            LOGGER.error("plugin %r: %s ignores cancellation; closed (fix the plugin: it must let "
                         "asyncio.CancelledError through)", plugin, hook)
            return
        LOGGER.error("plugin %r: %s ignores cancellation, even its closing; left running in the background (fix "
                     "the plugin: it must let asyncio.CancelledError and GeneratorExit through)", plugin, hook)
        self._left_behind[task] = context
        task.add_done_callback(lambda done: self._left_ended(done, plugin, hook))

    def _left_ended(self, task: asyncio.Future, plugin: str, hook: str) -> None:
        if self._left_behind.pop(task, None) is None:  # ended on purpose (end_left_behind)
            return
        if not task.cancelled() and (exc := task.exception()) is not None:
            LOGGER.warning("plugin %r: %s, left behind, ended with %s: %s", plugin, hook, type(exc).__name__, exc)

    def end_left_behind(self) -> None:
        """End the hooks left behind (on the way out), as far as they can be: nothing of theirs may keep
        the event loop from closing (a test run, the daemon's exit)."""
        for task, context in list(self._left_behind.items()):
            del self._left_behind[task]
            name = task.get_name()
            if _close(task, context):
                LOGGER.warning("%s, left behind: closed on the way out", name)
            else:
                LOGGER.error("%s could not be ended (it catches GeneratorExit too); the loop's grace is all that "
                             "is left", name)

    async def call_first(self, hook: str, *, only: str | None = None, skip: Collection[str] = (),
                         **kwargs: Any) -> tuple[str | None, Any]:
        """(plugin, result) of the first non-None result; ``only`` asks one plugin, ``skip`` leaves some out.
        A failing implementation raises PluginError (the caller decides whether to ask the next)."""
        for impl in self._impls(hook):
            if (only is not None and impl.plugin_name != only) or impl.plugin_name in skip:
                continue
            result = await self._call(impl, hook, kwargs)
            if result is not None:
                return impl.plugin_name, result
        return None, None

    async def collect(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """(plugin, result) of every implementation that returned something; a failing one is logged."""
        out = []
        for impl in self._impls(hook):
            try:
                result = await self._call(impl, hook, kwargs)
            except PluginError as exc:
                LOGGER.error("%s", exc, exc_info=exc.__cause__)
                continue
            if result is not None:
                out.append((impl.plugin_name, result))
        return out

    async def call_all(self, hook: str, *, reverse: bool = False, strict: bool = False,
                       **kwargs: Any) -> None:
        """Call every implementation. A failing one is logged and never stops the others,
        unless ``strict`` (start-up), where it raises StartupError."""
        impls = self._impls(hook)
        for impl in reversed(impls) if reverse else impls:
            try:
                await self._call(impl, hook, kwargs)
            except PluginError as exc:
                if strict:
                    raise StartupError(str(exc)) from exc.__cause__
                LOGGER.error("%s", exc, exc_info=exc.__cause__)
