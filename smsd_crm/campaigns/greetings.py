"""Birthday and holiday greetings (and optional win-back messages), made into campaigns once per
occasion: the occasion name is unique in the campaigns table and a campaign's recipients are
unique, so each customer is greeted once per occasion however often the daemon restarts."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta

from ..shop_time import sql_day
from ..storage import campaigns as store
from ..storage import consent

LOGGER = logging.getLogger(__name__)


def birthday_key(day: date) -> list[str]:
    """The MM-DD birthdays greeted on ``day`` (29 February is greeted on 28 February in other years)."""
    keys = [day.strftime("%m-%d")]
    if day.month == 2 and day.day == 28 and not _leap(day.year):
        keys.append("02-29")
    return keys


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class Greetings:
    """Makes the day's greeting campaigns after ``send_at`` local time."""

    def __init__(self, db, config, clock) -> None:
        self._db = db
        self._config = config  # CampaignsConfig.greetings
        self._clock = clock
        self._done_for: date | None = None

    async def schedule(self, local: datetime) -> list[int]:
        """Create and start today's greetings not made yet; return the new campaign ids."""
        today = local.date()
        if self._done_for == today or local.time() < self._config.send_at:
            return []
        made = []
        if self._config.birthday:
            keys = birthday_key(today)
            rows = await self._db.fetchall(
                "SELECT phone FROM customers WHERE birthday IS NOT NULL AND substr(birthday, 6, 5) IN "
                f"(SELECT value FROM {self._db.json_values('?')})", (json.dumps(keys),))
            made += await self._make(f"birthday-{today}", "Ulang tahun / Birthday", self._config.birthday_text,
                                     [r[0] for r in rows])
        for holiday in self._config.holidays:
            if holiday.date == today:
                rows = await self._db.fetchall("SELECT phone FROM customers")
                made += await self._make(f"holiday-{holiday.name}-{today.year}", holiday.name, holiday.text,
                                         [r[0] for r in rows])
        if self._config.winback_days:
            lapsed = (today - timedelta(days=self._config.winback_days)).isoformat()
            rows = await self._db.fetchall(
                f"SELECT phone FROM (SELECT phone, MAX(day) AS last FROM (SELECT phone, {sql_day('sold_at')} AS day "
                f"FROM sales WHERE phone IS NOT NULL UNION ALL SELECT phone, {sql_day('created_at')} FROM orders "
                "WHERE state != 'cancelled') AS bought GROUP BY phone) AS latest "
                "WHERE last = ? AND phone IN (SELECT phone FROM customers)",
                (lapsed,))
            made += await self._make(f"winback-{today}", "Sapaan / Win-back", self._config.winback_text,
                                     [r[0] for r in rows], kind="winback")
        self._done_for = today
        return made

    async def _make(self, occasion: str, name: str, text: dict[str, str], phones: list[str],
                    kind: str = "greeting") -> list[int]:
        if await store.by_occasion(self._db, occasion) is not None or not phones:
            return []
        allowed = [p for p in phones if await consent.may_promote(self._db, p)]
        now = self._clock()
        campaign_id = await store.create(self._db, name=name, text=text, audience={"kind": "occasion",
                                         "value": occasion}, now=now, kind=kind, occasion=occasion,
                                         created_by="greetings")
        count = await store.start(self._db, campaign_id, allowed, now)
        LOGGER.info("greeting %s: %d recipient(s)", occasion, count)
        return [campaign_id]
