"""The OpenAPI 3.1 description of the JSON API, built from the routes' pydantic models (pure)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from .. import __version__

REF = "#/components/schemas/{model}"
ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
# What every route may answer, described the same way each time (a route's own ``problems`` say more).
GENERIC = {"200": "OK", "201": "OK", "400": "not JSON", "401": "no valid token",
           "403": "the token lacks the route's scope", "404": "no such item", "415": "not application/json",
           "422": "a field is missing or not valid", "429": "too many calls with this token"}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before calling again",
                               "schema": {"type": "integer", "minimum": 1}}}


def _schema(kind: Any, components: dict, mode: str, inline: bool = False) -> dict:
    schema = TypeAdapter(kind).json_schema(ref_template=REF, mode=mode)
    components.update(schema.pop("$defs", {}))
    if isinstance(kind, type) and issubclass(kind, BaseModel) and not inline:
        components[kind.__name__] = schema  # named models are shared components
        return {"$ref": REF.format(model=kind.__name__)}
    return schema


def _without_null(prop: dict) -> dict:
    """A parameter's schema without ``null``: an optional query parameter is left out, never null."""
    prop = {k: v for k, v in prop.items() if k != "title" and not (k == "default" and v is None)}
    options = [o for o in prop.pop("anyOf", []) if o != {"type": "null"}]
    if len(options) == 1:
        prop.update(options[0])
    elif options:
        prop["anyOf"] = options
    return prop


def _parameters(model: type[BaseModel] | None, where: str, components: dict) -> list[dict]:
    if model is None:
        return []
    schema = _schema(model, components, "validation", inline=True)
    required = set(schema.get("required", []))
    return [{"name": name, "in": where, "required": where == "path" or name in required,
             "schema": _without_null(prop),
             **({"description": prop["description"]} if "description" in prop else {})}
            for name, prop in schema.get("properties", {}).items()]


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}}


def describe(routes: list[Any], title: str) -> dict:
    """OpenAPI 3.1 for ``routes`` (``ApiRoute`` values)."""
    components: dict[str, Any] = {"Error": ERROR}
    paths: dict[str, dict] = {}
    for route in routes:
        op: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.method.lower() + re.sub(r"\W+", "_", route.path).rstrip("_"),
            "parameters": _parameters(route.path_params, "path", components)
            + _parameters(route.query, "query", components),
            "responses": {"401": _error(GENERIC["401"]), "403": _error(GENERIC["403"]),
                          "429": {**_error(GENERIC["429"]), "headers": RETRY_AFTER}},
            "security": [{"token": [route.needs]}],  # OpenAPI 3.1: the role (scope) a bearer token needs
        }
        if route.tag:
            op["tags"] = [route.tag]
        if route.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": _schema(route.body, components, "validation")}}}
            op["responses"]["400"] = _error(GENERIC["400"])
            op["responses"]["415"] = _error(GENERIC["415"])
        if route.body is not None or route.query is not None or route.path_params is not None:
            op["responses"]["422"] = _error(GENERIC["422"])
        if route.path_params is not None:
            op["responses"]["404"] = _error(GENERIC["404"])
        ok: dict[str, Any] = {"description": GENERIC["200"]}
        if route.response is not None:
            ok["content"] = {"application/json": {"schema": _schema(route.response, components, "serialization")}}
        op["responses"][str(route.status)] = ok
        for status, description in getattr(route, "problems", {}).items():  # a route's own words say more
            op["responses"][str(status)] = _error(description)
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__,
                 "description": "smsd-crm JSON API. Every call needs `Authorization: Bearer <token>` "
                                "(`smsd-crm api-client add NAME [--scope read] [--scope send]` prints one). "
                                "A route needs the scope its `security` names: `read` (GET) or `send` "
                                "(sends SMS or changes something); a token has a rate limit (429 with "
                                "`Retry-After`)."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
    }
