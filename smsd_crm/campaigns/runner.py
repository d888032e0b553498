"""Feed running campaigns into the outbox at the pool's pace.

The runner keeps only a small window of campaign messages queued (``window_per_modem`` per sending
modem), topping it up each time a message leaves. So replies to customers (higher priority) never
wait behind a broadcast, a pause or quiet hours take effect within one message per modem, and an
opt-out or a weekly cap is checked just before each message is queued (and consent once more by the
outbox just before it is sent). Everything is in the database: after a crash the runner simply
carries on from the recipients still pending.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from ..errors import StorageUnavailable
from ..events import CampaignFinished, MessageSent
from ..models import SmsQueue
from ..storage import campaigns as store
from ..storage import consent
from ..storage.messages import CAMPAIGN_PRIORITY
from .preview import render

LOGGER = logging.getLogger(__name__)
IDLE_WAIT = 2.0  # seconds between looks when no campaign runs: a campaign started from the CLI
# (another process) is noticed this fast; one look is two indexed queries


def quiet_until(local: datetime, start: time, end: time) -> datetime | None:
    """When the quiet hours around ``local`` end, or None outside them (``start`` > ``end`` spans
    midnight: 21:00-08:00)."""
    t = local.time()
    inside = (t >= start or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=end.second, microsecond=0)
    return until if until > local else until + timedelta(days=1)


def local_midnight(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of ``now``'s day in ``zone``."""
    return now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


def summary_text(replies: dict, language: str, campaign_id: int, name: str, counts: dict, reports: bool) -> str:
    """The owner's SMS when a campaign is done, from the ``campaigns.replies`` templates. Without
    delivery reports nobody knows how many arrived: ``done_no_reports`` says so (a config that
    replaced the templates without it gets ``done`` with "?" as the delivered count, never a 0)."""
    templates = replies.get(language, {})
    template = templates.get("done" if reports else "done_no_reports") or templates.get("done", "")
    values = {"id": str(campaign_id), "name": name, **{k: str(v) for k, v in counts.items()}}
    if not reports:
        values["delivered"] = "?"
    return render(template, values) if template else ""


class CampaignRunner:
    """One task of the daemon; ``wake()`` after a change made elsewhere (web page, CLI via the
    database is noticed within a second while a campaign runs)."""

    def __init__(self, db, settings, host, outbox: SmsQueue, clock: Callable[[], datetime], sending_modems: int,
                 greetings=None) -> None:
        self._db = db
        self._config = settings.campaigns
        self._store_name = settings.store.name
        self._default_language = settings.store.language
        self._reports = settings.outbox.delivery_reports
        self._host = host
        self._outbox = outbox
        self._clock = clock
        self._zone = ZoneInfo(settings.store.timezone)
        self.window = max(1, self._config.window_per_modem * max(sending_modems, 1))
        self._greetings = greetings
        self._wake = asyncio.Event()
        self._quiet_told: datetime | None = None  # the end of the quiet hours already logged

    def wake(self) -> None:
        """Look again now."""
        self._wake.set()

    def observe(self, event: object) -> None:
        """A sent message frees a place in the window."""
        if isinstance(event, MessageSent):
            self._wake.set()

    async def run(self) -> None:
        """Feed until cancelled; one failing look is logged and the next one tries again."""
        while True:
            self._wake.clear()
            try:
                wait = await self.tick()
            except StorageUnavailable:  # said once by the database
                wait = 5.0
            except Exception:
                LOGGER.exception("campaigns: feeding failed; trying again shortly")
                wait = 5.0
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def tick(self) -> float:
        """One look: greetings due, scheduled campaigns due, quiet hours, top up the window, finish
        what is complete. Returns how long to wait at most before the next look."""
        now = self._clock()
        local = now.astimezone(self._zone)
        if self._greetings is not None:
            await self._greetings.schedule(local)
        await store.activate_due(self._db, now)
        quiet = self._config.quiet_hours
        if quiet is not None and (until := quiet_until(local, quiet.start, quiet.end)) is not None:
            withdrawn = await store.withdraw_all(self._db, now, "quiet hours")
            waiting = await store.running(self._db)
            if waiting and self._quiet_told != until:
                self._quiet_told = until
                LOGGER.info("campaigns: quiet hours until %s local time; campaign(s) %s wait (%d queued message(s) "
                            "taken back)", until.strftime("%H:%M"), ", ".join(str(c.id) for c in waiting), withdrawn)
            return min(IDLE_WAIT, max((until - local).total_seconds(), 0.5))
        active = await store.running(self._db)
        room = self.window - await store.in_flight(self._db)
        fed = 0
        for campaign in active:
            stopped = False
            while room > 0 and not stopped:
                phones = await store.next_pending(self._db, campaign.id, room)
                if not phones:
                    break
                for phone in phones:
                    outcome = await self._feed(campaign, phone, now)
                    if outcome == "stopped":  # paused or cancelled meanwhile (the CLI, the page)
                        stopped = True
                        break
                    if outcome == "queued":
                        room -= 1
                        fed += 1
            if await store.finish_if_complete(self._db, campaign.id, now):
                await self._finished(campaign, now)
        return 1.0 if active else IDLE_WAIT

    async def _feed(self, campaign: store.Campaign, phone: str, now: datetime) -> str:
        """Queue one recipient's message, or skip them with the reason: "queued", "skipped", or
        "stopped" when the campaign no longer runs."""
        if not await consent.may_promote(self._db, phone):
            await store.skip(self._db, campaign.id, phone, "opted out")
            return "skipped"
        if campaign.kind != "greeting" and self._config.weekly_cap is not None and \
                await store.promotions_since(self._db, phone, now - timedelta(days=7)) >= self._config.weekly_cap:
            await store.skip(self._db, campaign.id, phone, "weekly cap")
            return "skipped"
        customer = await self._db.fetchone("SELECT name, language FROM customers WHERE phone = ?", (phone,))
        if customer is None:
            await store.skip(self._db, campaign.id, phone, "no longer a customer")
            return "skipped"
        language = customer["language"] or self._default_language
        values = {"nama": customer["name"] or self._config.default_name.get(language, ""), "name": customer["name"] or
                  self._config.default_name.get(language, ""), "toko": self._store_name, "store": self._store_name}
        for _, fields in await self._host.collect("campaign_fields", phone=phone, language=language):
            values.update({str(k): str(v) for k, v in dict(fields).items()})
        template = campaign.text.get(language) or campaign.text.get(self._default_language) \
            or next(iter(campaign.text.values()))
        async with self._db.transaction():  # the row and the recipient's mark commit together
            if not await store.still_pending(self._db, campaign.id, phone):
                return "stopped"
            message_id = await self._outbox.enqueue(phone, render(template, values), priority=CAMPAIGN_PRIORITY,
                                                    plugin="core:campaign", campaign_id=campaign.id)
            await store.mark_queued(self._db, campaign.id, phone, message_id)
        return "queued"

    async def _finished(self, campaign: store.Campaign, now: datetime) -> None:
        counts = await store.progress(self._db, campaign.id)
        LOGGER.info("campaign %d (%s) done: %s", campaign.id, campaign.name, counts)
        if campaign.notify_phone:
            text = summary_text(self._config.replies, self._default_language, campaign.id, campaign.name, counts,
                                self._reports)
            if text:
                await self._outbox.enqueue(campaign.notify_phone, text, plugin="core:campaign")
        await self._host.emit(CampaignFinished(campaign.id, campaign.name, counts))
