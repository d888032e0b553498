"""Owner pages: the modems' health and queues, and the plugins with their keywords and config."""

from __future__ import annotations

import re
from typing import Any

import yaml
from aiohttp import web

from .. import status
from ..storage import daemon_status, messages
from .base import CTX, owner_only, render, speaker
from .credit_words import credit_words

SECRET_KEY = re.compile(r"(^|_)(pin|puk|secret|password|passwd|token|api_?key|auth)($|_)", re.I)
HIDDEN = "********"


def redact(value: Any, key: str = "") -> Any:
    """A config value for display: secrets (by name or by type) replaced by stars."""
    if key and SECRET_KEY.search(key) and value not in (None, "", [], {}):
        return HIDDEN
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str) and value.startswith("**********"):  # a SecretStr dumped by pydantic
        return HIDDEN
    return value


@owner_only
async def modems_page(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    rows = await messages.modem_rows(ctx.db)
    queued = {r["modem_id"]: r["n"] for r in await ctx.db.fetchall(
        "SELECT COALESCE(modem_id, '') AS modem_id, count(*) AS n FROM messages "
        "WHERE direction = 'out' AND state = 'queued' AND store_id = ? GROUP BY 1", (ctx.db.store,))}
    speak = speaker(request)
    modems = [dict(status.describe(r), queued=queued.get(r["modem_id"], 0), credit=credit_words(r, speak))
              for r in rows]
    daemon = await daemon_status.read(ctx.db)
    return render(request, "modems.html", modems=modems, counts=await messages.outbox_counts(ctx.db),
                  any_modem=queued.get("", 0), lag=status.describe_lag(daemon) if daemon else None, live="modems")


@owner_only
async def plugins_page(request: web.Request) -> web.Response:
    host = request.app[CTX].host
    plugins = []
    for info in host.plugins if host else []:
        keywords = sorted(k.word for k in host.keyword_table.values() if k.plugin == info.name)
        config = redact(info.config.model_dump(mode="json")) if info.config else {}
        plugins.append({"name": info.name, "source": info.source, "origin": info.origin,
                        "version": info.version, "enabled": info.enabled, "hooks": info.hooks,
                        "keywords": keywords,
                        "config": yaml.safe_dump(config, allow_unicode=True, sort_keys=False).strip()})
    return render(request, "plugins.html", plugins=plugins)


def add_routes(app: web.Application) -> list[dict]:
    """Mount the owner pages; return their navigation entries."""
    app.router.add_get("/admin/modems", modems_page)
    app.router.add_get("/admin/plugins", plugins_page)
    return [{"path": "/admin/modems", "key": "nav.modems", "role": "owner"},
            {"path": "/admin/plugins", "key": "nav.plugins", "role": "owner"}]
