"""What the daemon tells the dashboards worker when it starts it: plain values that travel as one JSON
line (no Bokeh, no numpy here: the daemon imports this module and stays small)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from smsd_crm.models import View

PREFIX = "/dash"  # where the dashboards live, on the public server and the worker's
SECRET_HEADER = "X-Smsd-Dashboard"  # the header carrying the secret only the proxy knows


@dataclass(frozen=True)
class ViewSpec:
    """A view as the worker finds it again: ``make`` as ``module:qualname`` (a module-level function),
    and the module's file for plugins loaded from ``plugins_dir`` (not importable by name)."""

    name: str
    title_name: str
    make: str
    titles: dict[str, str] = field(default_factory=dict)
    file: str | None = None
    plugin: str | None = None  # None: a built-in view

    def title(self, speak) -> str:
        """The menu title in ``speak``'s language (a ``Speaker``)."""
        if self.plugin is None:
            return speak.t(self.title_name)
        return self.titles.get(speak.lang, self.title_name)

    @classmethod
    def of(cls, view: View, plugin: str | None = None) -> "ViewSpec":
        """The spec of ``view`` (``View`` checked that ``make`` is a module-level function)."""
        module = view.make.__module__
        file = getattr(sys.modules.get(module), "__file__", None)
        return cls(view.name, view.title_name, f"{module}:{view.make.__qualname__}", dict(view.titles), file, plugin)

    def load(self) -> Callable[..., Any]:
        """The ``make`` function (imported by name, or from its file)."""
        module_name, qualname = self.make.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            if not self.file:
                raise
            spec = importlib.util.spec_from_file_location(module_name, self.file)
            if spec is None or spec.loader is None:
                raise
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        return getattr(module, qualname)


@dataclass(frozen=True)
class WorkerSpec:
    """Everything the worker needs: the database (a SQLite file's path, read-only, or a PostgreSQL URL;
    the spec goes down a pipe, never on a command line), the shop's zone, the cost figures
    (``costs`` config section), the views, the keys Bokeh signs and checks sessions with, and the
    secret header value only the daemon's proxy knows."""

    database: str
    timezone: str
    costs: dict[str, Any]
    delivery_reports: bool
    views: list[ViewSpec]
    signing_key: str
    secret: str
    session_seconds: float
    unused_seconds: float = 15.0  # an unused Bokeh session lingers this long ...
    check_seconds: float = 5.0  # ... checked this often
    log_level: int = 20
    cpus: list[int] | None = None  # the CPUs the worker runs on (cpus.py); None: any
    store: str = "main"  # store.id: a PostgreSQL database may hold a chain's stores

    def dumps(self) -> str:
        """One JSON line."""
        return json.dumps(asdict(self)) + "\n"

    @classmethod
    def loads(cls, line: str | bytes) -> "WorkerSpec":
        values = json.loads(line)
        values["views"] = [ViewSpec(**v) for v in values["views"]]
        return cls(**values)
