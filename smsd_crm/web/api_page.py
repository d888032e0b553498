"""``/api``: the JSON API described for people (the owner): how to get a token, the API clients, and every
route read from the same OpenAPI description that ``/api/openapi.json`` serves to programs."""

from __future__ import annotations

from aiohttp import web

from ..storage import api_clients
from . import api_doc
from .api import OPENAPI
from .base import CTX, owner_only, render


@owner_only
async def api_page(request: web.Request) -> web.Response:
    spec = request.app[OPENAPI]
    return render(request, "api.html", groups=api_doc.routes_by_tag(spec), shapes=api_doc.shapes(spec),
                  clients=await api_clients.list_clients(request.app[CTX].db),
                  base=f"{request.scheme}://{request.host}")


def add_routes(app: web.Application) -> list[dict]:
    """Mount ``/api`` (it reads the description ``api.add_routes`` makes); return its navigation entry."""
    app.router.add_get("/api", api_page)
    return [{"path": "/api", "key": "nav.api", "role": "owner"}]
