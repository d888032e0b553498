"""Every hook a plugin may implement. Each docstring says when it runs and what its result means.

Hooks may be plain functions or ``async def``: core awaits what is awaitable
(pluggy itself never awaits). A hook asks only for the arguments it names.
"""

from __future__ import annotations

import pluggy

PROJECT = "smsd_crm"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_config_model():
    """Start-up: return the pydantic model (a ``PluginConfig`` subclass) of this plugin's section.

    Its ``keywords`` default declares the plugin's keywords; its ``replies`` default
    its reply templates. Without this hook the section is validated as a bare
    ``PluginConfig``.
    """


@hookspec
def register_migrations():
    """Start-up: return a list of ``Migration`` creating or changing this plugin's own tables.

    Names must stay stable forever: an applied name is never run again.
    """


@hookspec
def register_commands():
    """Start-up of the CLI: return a list of ``Command`` (staff commands such as ``smsd-crm order``).

    They run in their own process with the plugin's context; SMS they queue are
    sent by the running daemon.
    """


@hookspec
def register_pages():
    """Start-up of the web pages: return a list of ``Page`` this plugin adds (the order desk, ...).

    Every page needs a login; POSTs carry the CSRF token (``{{ csrf_field() }}`` in a form);
    values rendered in templates are escaped.
    """


@hookspec
def register_api():
    """Start-up of the web server: return a list of ``ApiRoute`` this plugin adds to the JSON API.

    Each route needs a client token holding its scope (``read`` for GET, ``send`` otherwise, unless
    ``ApiRoute.scope`` says), is validated by its pydantic models and is
    described in ``/api/openapi.json``. Raise ``ApiProblem(status, message)`` for a
    clear 4xx answer.
    """


@hookspec
def register_dashboards():
    """Start-up of the web server: return a list of ``View``, the owner's dashboards this plugin adds
    under ``/dash/<name>`` (owner login only). Each view runs in the dashboards worker process on the
    database opened read-only; its ``make`` must be a function at the top of a module.
    """


@hookspec
def customer_profile(customer, ctx, language):
    """A customer's web page is shown: return a ``ProfileSection`` (or ``None``) for it.

    ``customer`` is a ``Customer``; ``language`` is the page's (``id`` or ``en``): write the
    section's columns and words in it (``smsd_crm.Speaker(language, time=ctx.store.time)`` speaks the
    pages' catalogue and shows times in shop time). Orders, complaints and points show up this way.
    """


@hookspec
def home_section(ctx, language, now):
    """The home page is shown: return a ``HomeSection`` (or ``None``) about today's work.

    ``language`` is the page's (``id`` or ``en``); ``now`` is the current instant (aware, UTC):
    ``smsd_crm.Speaker(language, time=ctx.store.time).age(instant, now)`` says how long ago
    something happened ("3 jam"). New orders and open complaints show up this way.
    """


@hookspec
def register_segments():
    """Return a list of ``Segment``: campaign audiences this plugin knows (``@name`` in PROMO)."""


@hookspec
def campaign_fields(phone, language, ctx):
    """A campaign message to ``phone`` is being written: return ``{field: value}`` for its
    template (the points plugin gives ``{poin}``), or ``None``. Called once per recipient, just
    before the message is queued; keep it to one quick query."""


@hookspec
def startup(ctx):
    """Called once after migrations, before any message is routed. Raise to refuse to start."""


@hookspec
def shutdown(ctx):
    """Called once when the daemon stops, in reverse order of start-up."""


@hookspec(firstresult=True)
def handle_message(message, ctx):
    """Answer an inbound ``Message``: return a ``Reply``, or ``None`` to let the next plugin try.

    The keyword's owner is asked first; then every plugin in order, the built-in
    ``help`` plugin last. Stops at the first non-None result. Runs inside the
    transaction that marks the message handled: database writes through
    ``ctx.db`` commit together with the reply, or not at all.
    """


@hookspec
def track_event(event, ctx):
    """Observe a typed event (``MessageReceived``, ``MessageHandled``, ``MessageSent``, ...).

    Called after the change is committed; an exception here is logged and never
    stops other observers.
    """
