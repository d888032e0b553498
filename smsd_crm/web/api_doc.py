"""The OpenAPI description turned into what a person reads: routes grouped by tag, each with its
method, path, summary, parameters, body fields and answers, and the data shapes they name (pure).

Nothing is written twice: the page (``api_page``) shows exactly what ``/api/openapi.json`` says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .openapi import GENERIC

LIMITS = ("minLength", "maxLength", "minimum", "maximum", "default")  # shown as catalogue texts api.limit.*


@dataclass(frozen=True)
class FieldDoc:
    """A parameter or a field of a data shape."""

    name: str
    type: str  # "string", "integer | null", '"in" | "out"', "OrderLineOut[]"
    required: bool
    description: str = ""
    limits: tuple[tuple[str, str], ...] = ()  # (one of LIMITS, the value as JSON)
    where: str = ""  # "path" or "query" for a parameter
    shape: str | None = None  # the data shape the type names, for a link


@dataclass(frozen=True)
class Answer:
    """One possible answer of a route; ``description`` only where the route says more than any route."""

    status: str
    description: str
    type: str = ""
    shape: str | None = None


@dataclass(frozen=True)
class Route:
    """One method on one path."""

    method: str
    path: str
    summary: str
    parameters: tuple[FieldDoc, ...]
    body: FieldDoc | None  # the body's type
    body_fields: tuple[FieldDoc, ...]  # the fields of the body's shape
    answers: tuple[Answer, ...]
    scope: str = ""  # what a token needs: "read" or "send"

    @property
    def anchor(self) -> str:
        """An id for the page: ``post-api-orders-id-state``."""
        return "-".join([self.method.lower(), *(p.strip("{}") for p in self.path.split("/") if p)])


@dataclass(frozen=True)
class Shape:
    """A named data shape (a component schema)."""

    name: str
    description: str
    fields: tuple[FieldDoc, ...]


def type_text(schema: dict) -> tuple[str, str | None]:
    """A schema as a short type (``string | null``, ``MessageOut[]``) and the shape it names, if any."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return name, name
    if "anyOf" in schema or "oneOf" in schema:
        parts = [type_text(s) for s in schema.get("anyOf", schema.get("oneOf", []))]
        return " | ".join(t for t, _ in parts), next((s for _, s in parts if s), None)
    if "enum" in schema:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"]), None
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False), None
    kind = schema.get("type")
    if kind == "array":
        inner, shape = type_text(schema.get("items", {}))
        return (f"({inner})[]" if " | " in inner else f"{inner}[]"), shape
    if isinstance(kind, list):
        return " | ".join(kind), None
    return str(kind or "any"), None


def _limits(schema: dict) -> tuple[tuple[str, str], ...]:
    return tuple((key, json.dumps(schema[key], ensure_ascii=False)) for key in LIMITS
                 if key in schema and schema[key] is not None)


def _field(name: str, schema: dict, required: bool, where: str = "", description: str = "") -> FieldDoc:
    kind, shape = type_text(schema)
    return FieldDoc(name, kind, required, description or schema.get("description", ""), _limits(schema), where, shape)


def _fields(schema: dict) -> tuple[FieldDoc, ...]:
    required = set(schema.get("required", []))
    return tuple(_field(name, prop, name in required) for name, prop in schema.get("properties", {}).items())


def _route(method: str, path: str, op: dict, components: dict) -> Route:
    parameters = tuple(_field(p["name"], p.get("schema", {}), bool(p.get("required")), p.get("in", ""),
                              p.get("description", "")) for p in op.get("parameters", []))
    body, body_fields = None, ()
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content:
        body = _field("body", content.get("schema", {}), True)
        body_fields = _fields(components.get(body.shape, content.get("schema", {})))
    answers = []
    for status, answer in sorted(op.get("responses", {}).items(), key=lambda item: item[0]):
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        kind, shape = type_text(schema) if schema else ("", None)
        description = answer.get("description", "")
        answers.append(Answer(status, "" if description == GENERIC.get(status) else description, kind, shape))
    needs = [s for requirement in op.get("security", []) for s in requirement.get("token", [])]
    return Route(method.upper(), path, op.get("summary", ""), parameters, body, body_fields, tuple(answers),
                 needs[0] if needs else "")


def routes_by_tag(spec: dict) -> list[tuple[str, list[Route]]]:
    """Every route, grouped by its first tag ("" for none) in the order the description has them."""
    groups: dict[str, list[Route]] = {}
    components = spec.get("components", {}).get("schemas", {})
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            tag = (op.get("tags") or [""])[0]
            groups.setdefault(tag, []).append(_route(method, path, op, components))
    return list(groups.items())


def shapes(spec: dict) -> list[Shape]:
    """Every named data shape with its fields (``required`` as the schema says)."""
    return [Shape(name, " ".join(schema.get("description", "").replace("``", "").split()), _fields(schema))
            for name, schema in spec.get("components", {}).get("schemas", {}).items()]
