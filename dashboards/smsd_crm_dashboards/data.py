"""What every dashboard view reads, shared by all open views: the purchase arrays and the line
arrays (extended, not reloaded, when orders and sales arrive), results memoised until the purchase
tables change, and model fits kept for a few minutes across changes."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from datetime import date

from smsd_crm.analytics import lines as line_arrays
from smsd_crm.analytics.extract import sms_parts_per_customer
from smsd_crm.analytics.lines import Lines
from smsd_crm.analytics.purchases import Purchases, changes, fingerprint, load, merge

RECHECK_SECONDS = 30.0  # with change notices, the purchase tables are still looked at this often


class DashboardData:
    """``db`` is read-only, off the daemon's connection (``readonly.py``), or a PostgreSQL
    :class:`~smsd_crm.storage.db.Database` of the worker's own; ``costs`` is the
    ``costs`` config section (SMS tariff, complaint cost); ``delivery_reports`` is
    ``outbox.delivery_reports``: without reports nobody knows whether a sent SMS arrived."""

    def __init__(self, db, costs=None, delivery_reports: bool = False, told: bool = False) -> None:
        from smsd_crm.config import CostsConfig

        self.db = db
        self.costs = costs or CostsConfig()
        self.delivery_reports = delivery_reports
        self._key: tuple | None = None
        self._purchases: Purchases | None = None
        self._lines: Lines | None = None
        self._line_customers = None  # lines.line_customers of the arrays, extended with them
        self._memo: dict = {}
        self._lasting: dict = {}
        self._sms: tuple[date, int, Counter] | None = None
        self._lock = asyncio.Lock()
        self._shop = getattr(db, "shop", None)  # the shop's zone, for days (shop_time)
        # ``told``: the owner of this object calls ``changed()`` on every change notice, so the purchase
        # tables' fingerprint (two COUNT(*), 75 ms at 200,000 customers, asked a dozen times per
        # refresh) is read again only after a notice, or RECHECK_SECONDS after the last read.
        self._told = told
        self._dirty = True
        self._checked = -math.inf

    def _source(self):
        """Where the line arrays are read: the SQLite file's path (read in batches on a connection of
        their own), or the server's database itself."""
        return str(self.db.path) if self.db.engine == "sqlite" else self.db

    def changed(self) -> None:
        """Something may have changed in the database (a change notice): look at the next use."""
        self._dirty = True

    async def _fresh(self) -> tuple:
        if self._told and not self._dirty and self._key is not None \
                and time.monotonic() - self._checked < RECHECK_SECONDS:
            return self._key
        self._dirty = False  # before the read: a notice that comes while it runs asks for another
        self._checked = time.monotonic()
        key = await fingerprint(self.db)
        if key != self._key:
            old, self._key, self._memo = self._key, key, {}
            # Orders and sales are added, and orders cancelled; anything else (rows deleted, the order
            # plugin switched on or off) reloads everything.
            if old is not None and len(old) == len(key) and (key[1] or 0) >= (old[1] or 0) \
                    and (len(key) < 5 or (key[4] or 0) >= (old[4] or 0)):
                if self._purchases is not None:
                    self._purchases = merge(self._purchases, await changes(self.db, old, key))
                if self._lines is not None:
                    self._lines = await line_arrays.changes(self._source(), self._lines, old, key,
                                                              self._shop)
            else:
                self._purchases = self._lines = self._line_customers = None
        return key

    def today(self) -> date:
        """The shop's today (``store.timezone``), the day the views count up to."""
        from datetime import datetime, timezone

        from smsd_crm.shop_time import for_zone
        return (self._shop or for_zone()).day(datetime.now(timezone.utc))

    async def purchases(self) -> Purchases:
        """The current purchase arrays (one row per customer and day)."""
        async with self._lock:
            await self._fresh()
            if self._purchases is None:
                self._purchases = await load(self.db)
            return self._purchases

    async def lines(self) -> Lines:
        """The current line arrays (one row per order or sale line)."""
        async with self._lock:
            await self._fresh()
            if self._lines is None:
                self._lines = await line_arrays.load(self._source(), self._shop)
            return self._lines

    async def line_customers(self):
        """``lines.line_customers`` of the current arrays, kept and extended as they grow."""
        lines, purchases = await self.lines(), await self.purchases()
        async with self._lock:
            self._line_customers = line_arrays.line_customers(lines, purchases, self._line_customers)
            return self._line_customers

    async def drill(self):
        """The sales drill-down over the current lines (``sales.Drill``)."""
        from smsd_crm.analytics.sales import Drill

        async def make():
            categories = {r[0]: r[1] for r in await self.db.fetchall("SELECT id, category FROM products")}
            return Drill(await self.lines(), categories)
        return await self.cached(("drill",), make)

    async def cached(self, key: tuple, compute):
        """``await compute()`` once per state of the purchase tables."""
        async with self._lock:
            await self._fresh()
        if key not in self._memo:
            self._memo[key] = await compute()
        return self._memo[key]

    async def lasting(self, key: tuple, max_age_s: float, compute):
        """``await compute()`` at most once per ``max_age_s`` seconds, whatever changed in between: for
        model fits, which move little with one more order and take a second or more; a past month's
        counts; the customers' names."""
        now = time.monotonic()
        kept = self._lasting.get(key)
        if kept is None or now - kept[0] > max_age_s:
            # each result ages by its own measure (a minute for names, ten for past months)
            self._lasting = {k: v for k, v in self._lasting.items() if now - v[0] <= v[1]}
            kept = self._lasting[key] = (now, max_age_s, await compute())
        return kept[2]

    def forget(self, key: tuple) -> None:
        """Compute a ``lasting`` result again at its next use."""
        self._lasting.pop(key, None)

    async def sms_parts(self, since: date) -> dict[str, int]:
        """SMS parts sent to each number since ``since``: counted in full once per ``since`` (a day),
        then only the messages added since the last call."""
        top = (await self.db.fetchone("SELECT MAX(id) FROM messages"))[0] or 0
        if self._sms is None or self._sms[0] != since:
            self._sms = (since, 0, Counter())
        _, last, counts = self._sms
        if top > last:
            counts = counts + Counter(await sms_parts_per_customer(self.db, since, last, top))
            self._sms = (since, top, counts)
        return dict(counts)
