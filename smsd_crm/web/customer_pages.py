"""Customers: search by name or number, a profile with everything about one customer, edit details."""

from __future__ import annotations

import re
from datetime import date

from aiohttp import web

from ..i18n import Speaker
from ..storage import consent, customers, messages
from .base import CTX, USER, int_or_404, language, page_error, render

BIRTHDAY = re.compile(r"\d{4}-\d{2}-\d{2}")
LIMITS = {"name": 60, "address": 200}
FIELDS = {"name": "name", "address": "address"}  # catalogue names of the fields


async def customer_list(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    query = request.query.get("q", "")
    found = await customers.search(ctx.db, query, country_code=_country_code(ctx))
    return render(request, "customers.html", customers=found, q=query[:100], live="messages")


def _country_code(ctx) -> str:
    import phonenumbers  # only for the region's calling code

    return str(phonenumbers.country_code_for_region(ctx.store.country) or 62)


async def _profile_values(request: web.Request, customer) -> dict:
    ctx = request.app[CTX]
    sections = []
    if ctx.host is not None:
        order = [p.name for p in ctx.host.enabled()]
        found = await ctx.host.collect("customer_profile", customer=customer, language=language(request))
        for plugin, section in sorted(found, key=lambda item: order.index(item[0])):
            sections.append({"plugin": plugin, "title": section.titles.get(language(request), section.title),
                             "columns": section.columns, "rows": section.rows, "summary": section.summary})
    return {
        "customer": customer,
        "messages": await messages.list_messages(ctx.db, phone=customer.phone, limit=200),
        "may_promote": await consent.may_promote(ctx.db, customer.phone),
        "consent_history": await consent.history(ctx.db, customer.phone),
        "sections": sections,
    }


async def customer_profile(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    customer = await customers.get_by_id(ctx.db, int_or_404(request.match_info["id"]))
    if customer is None:
        raise page_error(web.HTTPNotFound, "error.not_found")
    if request.method == "POST":
        form = await request.post()
        errors, fields = _check(form, Speaker(language(request)))
        if not errors:
            await customers.upsert(ctx.db, customer.phone, ctx.clock(), **fields)
            wanted = form.get("promotions") == "1"
            if wanted != await consent.may_promote(ctx.db, customer.phone):
                await consent.set_promotions(ctx.db, customer.phone, wanted, ctx.clock(), message_id=None,
                                             source=f"staff:{request[USER]['username']}")
            raise web.HTTPFound(f"/customers/{customer.id}?saved=1")
        return render(request, "customer.html", status=400, errors=errors, saved=False,
                      form=fields, **await _profile_values(request, customer))
    return render(request, "customer.html", errors=[], saved="saved" in request.query, form=None,
                  live="messages", **await _profile_values(request, customer))


def _check(form, speak: Speaker) -> tuple[list[str], dict[str, str | None]]:
    """Validate the edit form: (errors, cleaned fields)."""
    errors, fields = [], {}
    for key, limit in LIMITS.items():
        value = " ".join(str(form.get(key, "")).split())
        if len(value) > limit:
            errors.append(speak.t("error.field_too_long", field=speak.t(FIELDS[key]), limit=limit))
        fields[key] = value or None
    birthday = str(form.get("birthday", "")).strip()
    if birthday:
        try:
            if not BIRTHDAY.fullmatch(birthday) or date.fromisoformat(birthday) > date.today():
                raise ValueError
        except ValueError:
            errors.append(speak.t("error.birthday"))
    fields["birthday"] = birthday or None
    lang = str(form.get("language", "id"))
    if lang not in ("id", "en"):
        errors.append(speak.t("error.language"))
    fields["language"] = lang
    return errors, fields


def add_routes(app: web.Application) -> list[dict]:
    """Mount the customer pages; return their navigation entry."""
    app.router.add_get("/customers", customer_list)
    app.router.add_route("GET", "/customers/{id}", customer_profile)
    app.router.add_route("POST", "/customers/{id}", customer_profile)
    return [{"path": "/customers", "key": "nav.customers", "role": "staff"}]
