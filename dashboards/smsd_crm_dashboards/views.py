"""Every dashboard the daemon serves, in menu order: the built-in views (titles: ``dash.view.*`` in the
catalogue), then those plugins add with ``register_dashboards``. ``BUILTIN`` names each view's module
without importing it: the daemon stays free of Bokeh; the worker imports what it serves."""

from __future__ import annotations

from smsd_crm.errors import StartupError
from smsd_crm.models import View

from .spec import ViewSpec

BUILTIN = [ViewSpec(name, f"dash.view.{name}", f"smsd_crm_dashboards.{name}:make")
           for name in ("sales", "customers", "profit", "future", "retention", "crosssell", "service", "messages")]


def builtin_views() -> list[View]:
    """The built-in views with their ``make`` imported (imports Bokeh)."""
    return [View(s.name, s.title_name, s.load()) for s in BUILTIN]


def all_views(added: list[tuple[str, View]]) -> list[ViewSpec]:
    """The built-in views and the plugins' (``PluginHost.dashboards()``) as the worker loads them.
    StartupError when two views share a name."""
    specs = list(BUILTIN)
    for plugin, view in added:
        clash = next((s for s in specs if s.name == view.name), None)
        if clash is not None:
            owner = f"plugin {clash.plugin!r}" if clash.plugin else "a built-in dashboard"
            raise StartupError(f"plugin {plugin!r}: register_dashboards: the name {view.name!r} is taken by {owner}")
        specs.append(ViewSpec.of(view, plugin))
    return specs
