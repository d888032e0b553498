"""What the CLI, the web page and the owner's PROMO SMS do with campaigns: create, preview, start,
pause, resume, cancel. The runner does the sending."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from ..errors import CampaignError
from ..storage import campaigns as store
from ..storage import consent
from .audience import CLASS_WORDS, SEGMENT_NAMES, Audience, from_word, resolve
from .preview import FIELD, Preview, preview, render
from .runner import quiet_until

SAMPLE_FIELD = "12345"  # a plugin's field ({poin}) as sized in a preview


@dataclass(frozen=True)
class Started:
    """A campaign that started, and what it will cost."""

    id: int
    preview: Preview
    waits_until: datetime | None = None  # the end of the quiet hours it starts in (shop time)


class CampaignService:
    """``host`` (the plugin host) resolves plugin segments; ``wake`` tells the runner."""

    def __init__(self, db, settings, clock: Callable[[], datetime], host=None,
                 wake: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self._settings = settings
        self._clock = clock
        self._host = host
        self._wake = wake

    @property
    def zone(self) -> ZoneInfo:
        """The shop's time zone."""
        return ZoneInfo(self._settings.store.timezone)

    async def plugin_segments(self) -> dict[str, object]:
        """name -> Segment offered by plugins (``register_segments``)."""
        if self._host is None:
            return {}
        return {seg.name: (plugin, seg) for plugin, segs in await self._host.collect("register_segments")
                for seg in segs}

    async def _plugin_segment(self, name: str) -> list[str]:
        found = (await self.plugin_segments()).get(name)
        if found is None:
            raise CampaignError(f"no plugin offers the segment {name!r}")
        plugin, segment = found
        return list(await segment.resolve(self._host.contexts[plugin]))

    async def recipients(self, audience: Audience) -> list[str]:
        """The audience's customers today, without those who opted out."""
        today = self._clock().astimezone(self.zone).date()
        phones = await resolve(self.db, audience, today, self._plugin_segment)
        return [p for p in phones if await consent.may_promote(self.db, p)]

    async def preview(self, text: dict[str, str], phones: list[str]) -> Preview:
        """Parts, encoding and cost over these recipients' own texts: their names and languages
        filled in, a plugin's fields ({poin}) sized as a five-digit number."""
        rows = {r["phone"]: r for r in await self.db.fetchall("SELECT phone, name, language FROM customers")}
        default = self._settings.store.language
        store_name = self._settings.store.name
        rendered = []
        for phone in phones:
            row = rows.get(phone)
            lang = (row["language"] if row else None) or default
            name = (row["name"] if row else None) or self._settings.campaigns.default_name.get(lang, "")
            template = text.get(lang) or text.get(default) or next(iter(text.values()))
            samples = {m.group(1): SAMPLE_FIELD for m in FIELD.finditer(template)}
            rendered.append(render(template, {**samples, "nama": name, "name": name, "toko": store_name,
                                              "store": store_name}))
        return preview(rendered, self._settings.costs.sms_part, text.get(default) or next(iter(text.values())))

    async def create(self, *, name: str, text: dict[str, str] | str, audience: Audience,
                     start_at: datetime | None = None, promo_code: str | None = None,
                     notify_phone: str | None = None, created_by: str = "") -> int:
        """A draft campaign; ``text`` is one template or one per language."""
        texts = {self._settings.store.language: text} if isinstance(text, str) else dict(text)
        if not any(t.strip() for t in texts.values()):
            raise CampaignError("the campaign text is empty")
        if promo_code is not None and not (promo_code.isalnum() and len(promo_code) <= 20):
            raise CampaignError("a promo code is letters and digits, at most 20")
        return await store.create(self.db, name=name, text=texts, audience=audience.as_dict(), now=self._clock(),
                                  start_at=start_at, promo_code=promo_code and promo_code.upper(),
                                  notify_phone=notify_phone, created_by=created_by)

    async def start(self, campaign_id: int) -> int:
        """Freeze the recipients (opted-out numbers left out) and start or schedule; return how many."""
        campaign = await store.get(self.db, campaign_id)
        if campaign is None:
            raise CampaignError(f"no campaign {campaign_id}")
        if campaign.state != "draft":
            raise CampaignError(f"campaign {campaign_id} is {campaign.state}, not a draft")
        phones = await self.recipients(Audience.from_dict(campaign.audience))
        count = await store.start(self.db, campaign_id, phones, self._clock())
        self._wake()
        return count

    async def broadcast(self, text: str, *, target: str | None, notify_phone: str | None, name: str,
                        this_store: bool = False) -> Started | None:
        """The owner's PROMO: create and start at once; None when nobody can receive it. An unknown
        ``@target`` raises LookupError listing the choices. ``this_store``: this store's customers only."""
        audience = Audience()
        if target:
            found = from_word(target, list(await self.plugin_segments()))
            if found is None:
                choices = sorted(CLASS_WORDS) + [s.lower().replace(" ", "").replace("'", "") for s in SEGMENT_NAMES]
                raise LookupError(", ".join("@" + c for c in choices + list(await self.plugin_segments())))
            audience = found
        if this_store:
            audience = Audience(audience.kind, audience.value, self.db.store)
        phones = await self.recipients(audience)
        if not phones:
            return None
        campaign_id = await self.create(name=name, text=text, audience=audience, notify_phone=notify_phone,
                                        created_by=notify_phone or "")
        texts = (await store.get(self.db, campaign_id)).text
        quiet = self._settings.campaigns.quiet_hours
        local = self._clock().astimezone(self.zone)
        result = Started(campaign_id, await self.preview(texts, phones),
                         quiet_until(local, quiet.start, quiet.end) if quiet else None)
        await store.start(self.db, campaign_id, phones, self._clock())
        self._wake()
        return result

    async def pause(self, campaign_id: int) -> bool:
        """Pause (its unclaimed messages go back to pending)."""
        return await self._changed(await store.pause(self.db, campaign_id, self._clock()))

    async def resume(self, campaign_id: int) -> bool:
        """Run a paused campaign again."""
        return await self._changed(await store.resume(self.db, campaign_id, self._clock()))

    async def cancel(self, campaign_id: int) -> bool:
        """Cancel for good."""
        return await self._changed(await store.cancel(self.db, campaign_id, self._clock()))

    async def _changed(self, changed: bool) -> bool:
        if changed:
            self._wake()
        return changed
