"""The owner's campaigns page: create (text, audience, start time, promo code), preview (recipients,
SMS parts, GSM-7 or UCS-2 and why, cost), start, pause, resume, cancel, and progress."""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web

from ..analytics.campaign_results import DAYS as RESULT_DAYS
from ..analytics.campaign_results import results as campaign_results
from ..analytics.rfm import CLASSES
from ..campaigns.audience import KINDS, SEGMENT_NAMES, Audience
from ..errors import CampaignError
from ..i18n import Speaker
from ..storage import campaigns as store
from .base import CTX, USER, int_or_404, language, owner_only, page_error, render

ACTIONS = ("start", "pause", "resume", "cancel")
MAX_TEXT = 1000  # characters: a campaign is a few SMS at most


def _service(request: web.Request):
    service = request.app[CTX].campaigns
    if service is None:
        raise page_error(web.HTTPNotFound, "error.no_campaigns")
    return service


def describe(audience: dict, speak: Speaker) -> str:
    """An audience for people, in the page's language: "everyone", "class: regulars", "inactive 60 days"."""
    kind, value = audience.get("kind"), audience.get("value")
    if kind == "all":
        what = speak.t("audience.all")
    elif kind in ("segment", "class"):
        what = f"{speak.t('audience.' + kind)}: {speak.word(kind, value)}"
    elif kind == "inactive":
        what = speak.t("audience.inactive_days", days=value)
    elif kind in KINDS:
        what = f"{speak.t('audience.' + kind)}: {value}"
    else:
        what = str(value or "")
    store_id = audience.get("store")
    return what + (" · " + speak.t("audience.at_store", store=store_id) if store_id else "")


async def _listing(request: web.Request, error: str | None = None, form=None, status: int = 200) -> web.Response:
    db = request.app[CTX].db
    speak = Speaker(language(request))
    rows = []
    for c in await store.listing(db):
        rows.append({"c": c, "audience": describe(c.audience, speak), "counts": await store.progress(db, c.id)})
    return render(request, "campaigns.html", status=status, campaigns=rows, error=error, form=form or {},
                  kinds=KINDS, classes=CLASSES, segments=SEGMENT_NAMES, live="messages",
                  chain=db.engine == "postgresql", store_id=db.store)


@owner_only
async def campaigns_page(request: web.Request) -> web.Response:
    """Every campaign with its progress, and the form for a new one."""
    return await _listing(request)


@owner_only
async def create(request: web.Request) -> web.Response:
    """A new draft from the form; its page shows the preview."""
    service = _service(request)
    form = await request.post()
    values = {k: str(form.get(k, "")).strip() for k in ("name", "text", "text_en", "kind", "value", "start",
                                                         "promo_code", "reach")}
    try:
        if len(values["text"]) > MAX_TEXT or len(values["text_en"]) > MAX_TEXT:
            raise CampaignError(f"a campaign text is at most {MAX_TEXT} characters")
        if values["reach"] not in ("", "chain", "store"):
            raise CampaignError("choose the chain's customers or this store's")
        audience = Audience(values["kind"] or "all", values["value"] or None,
                            request.app[CTX].db.store if values["reach"] == "store" else None)
        start_at = None
        if values["start"]:
            try:
                local = datetime.fromisoformat(values["start"])
            except ValueError:
                raise CampaignError("the start time is not a date and time") from None
            start_at = local.replace(tzinfo=service.zone).astimezone(timezone.utc)
        texts = {request.app[CTX].store.language: values["text"]}
        if values["text_en"]:
            texts["en"] = values["text_en"]
        campaign_id = await service.create(name=values["name"][:80] or "campaign", text=texts, audience=audience,
                                           start_at=start_at, promo_code=values["promo_code"] or None,
                                           created_by=f"web:{request[USER]['username']}")
    except CampaignError as exc:
        return await _listing(request, str(exc), values, status=400)
    raise web.HTTPFound(f"/campaigns/{campaign_id}")


@owner_only
async def campaign_page(request: web.Request) -> web.Response:
    """One campaign: texts, audience, preview (for a draft) or progress, and its buttons."""
    service = _service(request)
    campaign = await store.get(request.app[CTX].db, int_or_404(request.match_info["id"]))
    if campaign is None:
        raise page_error(web.HTTPNotFound, "error.not_found")
    preview, outcome = None, None
    if campaign.state != "draft":
        found = await campaign_results(request.app[CTX].db, days=RESULT_DAYS, campaign_id=campaign.id)
        outcome = found[0] if found else None
    if campaign.state == "draft":
        audience = Audience.from_dict(campaign.audience)
        preview = await service.preview(campaign.text, await service.recipients(audience))
    return render(request, "campaign.html", c=campaign, preview=preview, outcome=outcome, days=RESULT_DAYS,
                  counts=await store.progress(request.app[CTX].db, campaign.id),
                  audience=describe(campaign.audience, Speaker(language(request))),
                  reports=delivery_reports(request), live="messages")


def delivery_reports(request: web.Request) -> bool:
    """Whether the network reports deliveries (``outbox.delivery_reports``, off by default): without
    reports a sent SMS stays "sent" forever, so how many arrived is not known, not 0 (as the
    dashboards and the owner's PROMO summary say)."""
    settings = request.app[CTX].settings
    return bool(settings and settings.outbox.delivery_reports)


@owner_only
async def act(request: web.Request) -> web.Response:
    """Start, pause, resume or cancel."""
    service = _service(request)
    action = request.match_info["action"]
    campaign_id = int_or_404(request.match_info["id"])
    if action not in ACTIONS:
        raise page_error(web.HTTPNotFound, "error.not_found")
    await request.post()  # the CSRF check has read the token
    try:
        if action == "start":
            await service.start(campaign_id)
        elif not await getattr(service, action)(campaign_id):
            raise page_error(web.HTTPConflict, "error.conflict")
    except CampaignError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    request.app[CTX].live.bump("messages")
    raise web.HTTPFound(f"/campaigns/{campaign_id}")


def add_routes(app: web.Application) -> list[dict]:
    """Mount the campaign pages; return their navigation entry."""
    app.router.add_get("/campaigns", campaigns_page)
    app.router.add_post("/campaigns", create)
    app.router.add_get("/campaigns/{id}", campaign_page)
    app.router.add_post("/campaigns/{id}/{action}", act)
    return [{"path": "/campaigns", "key": "nav.campaigns", "role": "owner"}]
