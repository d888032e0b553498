"""The API page's reading of the OpenAPI description (pure): types, parameters, body fields, answers, tags."""

from __future__ import annotations

from smsd_crm.web import api_doc
from smsd_crm.web.api import CORE_ROUTES
from smsd_crm.web.openapi import describe

SPEC = describe(CORE_ROUTES, "Toko Uji")


def test_types_read_as_a_person_writes_them():
    assert api_doc.type_text({"type": "string"}) == ("string", None)
    assert api_doc.type_text({"anyOf": [{"type": "string"}, {"type": "null"}]}) == ("string | null", None)
    assert api_doc.type_text({"enum": ["in", "out"], "type": "string"}) == ('"in" | "out"', None)
    assert api_doc.type_text({"type": "array", "items": {"$ref": "#/components/schemas/OrderLineOut"}}) == (
        "OrderLineOut[]", "OrderLineOut")
    assert api_doc.type_text({"type": "array", "items": {"enum": [1, 2]}}) == ("(1 | 2)[]", None)
    assert api_doc.type_text({}) == ("any", None)


def test_every_route_is_grouped_by_its_tag_with_parameters_body_and_answers():
    groups = dict(api_doc.routes_by_tag(SPEC))
    assert list(groups) == ["messages", "customers"]
    described = {(r.method, r.path) for routes in groups.values() for r in routes}
    assert described == {(r.method, r.path) for r in CORE_ROUTES}
    listing, send, one = groups["messages"]
    assert (listing.method, listing.path, listing.summary) == ("GET", "/api/messages", "List messages, newest first")
    limit = next(p for p in listing.parameters if p.name == "limit")
    assert (limit.where, limit.type, limit.required) == ("query", "integer", False)
    assert dict(limit.limits) == {"minimum": "1", "maximum": "500", "default": "100"}
    phone = next(p for p in listing.parameters if p.name == "phone")
    assert phone.description.startswith("any spelling") and phone.type == "string"  # null is never sent
    assert send.body.type == "SendSms" and [(f.name, f.required) for f in send.body_fields] == [("to", True),
                                                                                             ("text", True)]
    answers = {a.status: a for a in send.answers}
    assert list(answers) == ["201", "400", "401", "403", "415", "422", "429"]
    assert (listing.scope, send.scope) == ("read", "send")  # what a token needs, read from the description
    assert (answers["201"].type, answers["201"].shape) == ("MessageOut", "MessageOut")
    assert answers["401"].description == ""  # said the same for every route: the page words it
    assert answers["422"].description == "not a phone number, or the text is empty or too long"  # the route's own
    assert one.anchor == "get-api-messages-id" and one.parameters[0].where == "path" and one.parameters[0].required


def test_data_shapes_list_their_fields():
    shapes = {s.name: s for s in api_doc.shapes(SPEC)}
    assert {"Error", "MessageOut", "SendSms", "CustomerOut"} <= set(shapes)
    message = shapes["MessageOut"]
    assert "``" not in message.description and message.description.startswith("An SMS in or out.")
    fields = {f.name: f for f in message.fields}
    assert fields["phone"].type == "string | null" and fields["phone"].required
    assert fields["direction"].type == '"in" | "out"'
