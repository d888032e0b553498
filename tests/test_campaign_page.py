"""The campaign page says how many SMS arrived only when the network reports deliveries: with
``outbox.delivery_reports`` off (the default) "0 delivered" would read as a failure, so it says
"not known", as the dashboards and the owner's PROMO summary do."""

from __future__ import annotations

import re

import pytest

from smsd_crm.campaigns.audience import Audience
from smsd_crm.campaigns.service import CampaignService
from smsd_crm.config import parse_config
from smsd_crm.daemon import offline_session
from smsd_crm.storage import campaigns as store
from smsd_crm.storage import messages, users
from smsd_crm.web.app import WebContext, start_web
from smsd_crm.web.passwords import hash_password

from .test_web_auth import Clock, client, log_in

PHONES = ["+6281200000001", "+6281200000002", "+6281200000003", "+6281200000004"]
SENT = {"+6281200000001": "sent", "+6281200000002": "sent", "+6281200000003": "delivered"}  # one still to go


async def _progress(tmp_path, reports: bool, lang: str) -> str:
    """The campaign page's progress line, as the owner reads it, for a campaign with 4 recipients:
    2 sent, 1 delivered (a report came), 1 still to go."""
    settings = parse_config(f"web: {{port: 0}}\noutbox: {{delivery_reports: {str(reports).lower()}}}\n",
                            tmp_path / "c.yaml")
    clock = Clock()
    async with offline_session(settings, clock, third_party=False) as (host, db):
        await users.add_user(db, "pemilik", hash_password("mawar-sore-48"), "owner", clock())
        service = CampaignService(db, settings, clock, host)
        campaign = await service.create(name="Diskon minyak", text="Halo {nama}", audience=Audience())
        assert await store.start(db, campaign, PHONES, clock()) == 4
        for phone, state in SENT.items():
            message = await messages.queue_outbound(db, phone, "Halo", clock())
            await db.execute("UPDATE messages SET state = ?, campaign_id = ? WHERE id = ?", (state, campaign, message))
            await db.execute("UPDATE campaign_recipients SET state = 'queued', message_id = ? "
                             "WHERE campaign_id = ? AND phone = ?", (message, campaign, phone))
        runner = await start_web(WebContext(db, settings.web, settings.store, clock, host, settings=settings,
                                            campaigns=service))
        base = "http://%s:%d" % runner.addresses[0][:2]
        try:
            async with client() as s:
                await log_in(s, base, "pemilik")
                if lang == "en":
                    await s.get(f"{base}/lang/en")
                page = await (await s.get(f"{base}/campaigns/{campaign}")).text()
        finally:
            await runner.cleanup()
    progress = re.search(r'<p id="progress">(.*?)</p>', page, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", "", progress).split())


@pytest.mark.parametrize("lang", ["id", "en"])
async def test_delivered_is_not_known_without_delivery_reports(tmp_path, lang):
    progress = await _progress(tmp_path, reports=False, lang=lang)  # the default
    if lang == "id":
        assert "3 terkirim (sampai: tidak diketahui)" in progress, progress
        assert "1 sampai" not in progress and "0 sampai" not in progress
    else:
        assert "3 sent (delivered: not known)" in progress, progress
        assert "1 delivered" not in progress and "0 delivered" not in progress
    assert re.search(r"\b1 (menunggu|to go)\b", progress), progress


@pytest.mark.parametrize("lang", ["id", "en"])
async def test_delivered_is_counted_with_delivery_reports(tmp_path, lang):
    progress = await _progress(tmp_path, reports=True, lang=lang)
    if lang == "id":
        assert "3 terkirim (1 sampai)" in progress and "tidak diketahui" not in progress, progress
    else:
        assert "3 sent (1 delivered)" in progress and "not known" not in progress, progress
