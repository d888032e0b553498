"""Pages that plugins add (``register_pages``): mounted with login, roles and CSRF like core pages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from ..errors import StartupError
from ..storage import form_uses
from .base import CTX, USER, csrf_field, language, local, render, speaker, translator

RESERVED = ("/login", "/logout", "/static", "/admin", "/api", "/favicon.ico", "/live", "/lang",
            "/customers", "/messages", "/simulator", "/dash", "/campaigns")
__all__ = ["PageView", "csrf_field", "loader", "mount", "template_dirs"]


class PageView:
    """What a plugin page sees of one request."""

    def __init__(self, request: web.Request, form: dict[str, str], live: str | None) -> None:
        self.method = request.method
        self.query = dict(request.query)
        self.form = form
        self.user = request[USER]
        self.lang = language(request)
        self.tr = translator(self.lang)  # tr("Indonesian", "English") in the page's language
        self.speak = speaker(request)  # the catalogue, numbers, money and shop time in the page's language
        self._request = request
        self._live = live

    def t(self, name: str, /, **values: Any) -> str:
        """A text from the message catalogue in the page's language."""
        return self.speak.t(name, **values)

    async def first_time(self) -> bool:
        """Whether this POST is the first with its form's ``once`` token (``{{ once_field() }}``): a double
        tap, a resent form or a racing request is a repeat and must not act again (answer it as done)."""
        ctx = self._request.app[CTX]
        return await form_uses.claim(ctx.db, self.form.get("once", ""), ctx.clock())

    async def not_done(self) -> None:
        """The action this POST claimed did not happen (refused): the same form may act when sent again."""
        await form_uses.give_back(self._request.app[CTX].db, self.form.get("once", ""))

    def render(self, template: str, *, live: bool = True, **values: Any) -> web.Response:
        """The plugin's template (it extends ``base.html``) with escaped values. ``live=False`` for a
        page that must not reload itself: a question waiting for an answer, a form sent back with
        an error (a reload would throw away what the person typed)."""
        return render(self._request, template, live=self._live if live else None, **values)

    def redirect(self, path: str) -> web.Response:
        """Back to a page on this site after a POST (post/redirect/get); anything else goes home
        (``base.local``: never another site, whatever a form or query string put in ``path``)."""
        raise web.HTTPFound(local(path))


def template_dirs(host) -> list[str]:
    """The ``templates`` folder beside each enabled plugin's module, where there is one."""
    dirs = []
    for info in host.enabled():
        folder = Path(sys.modules[info.module.__name__].__file__).parent / "templates"
        if folder.is_dir() and str(folder) not in dirs:
            dirs.append(str(folder))
    return dirs


def mount(app: web.Application, host) -> list[dict[str, Any]]:
    """Add every plugin page to ``app``; return the navigation entries (path, titles, role)."""
    nav, seen = [], set()
    for plugin, page in host.pages():
        if not page.path.startswith("/") or page.path.startswith(RESERVED) or page.path in seen:
            raise StartupError(f"plugin {plugin!r}: page path {page.path!r} is reserved or taken")
        seen.add(page.path)
        ctx = host.contexts[plugin]

        async def handler(request: web.Request, page=page, ctx=ctx) -> web.StreamResponse:
            form = {k: str(v) for k, v in (await request.post()).items()} if request.method == "POST" else {}
            return await page.handler(PageView(request, form, page.live), ctx)

        if page.role == "owner":
            handler.owner_only = True  # type: ignore[attr-defined]
        for method in page.methods:
            app.router.add_route(method, page.path, handler)
        nav.append({"path": page.path, "title": page.title, "titles": dict(page.titles), "role": page.role})
    return nav


def loader(core: jinja2.BaseLoader, extra_dirs: list[str]) -> jinja2.BaseLoader:
    """Core templates first (``base.html``), then the plugins'."""
    return jinja2.ChoiceLoader([core, *(jinja2.FileSystemLoader(d) for d in extra_dirs)])
