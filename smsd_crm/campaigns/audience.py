"""Who a campaign is for: everyone, an RFM segment, one of the four classes, buyers of a category,
customers inactive for N days, or a plugin's segment. Only customers (numbers in the customers
table) are ever chosen: a number that merely texted the shop is not an audience."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ..analytics.extract import purchases_sql
from ..analytics.purchases import load
from ..analytics.rfm import CLASSES, SEGMENTS, classify_arrays
from ..errors import CampaignError

KINDS = ("all", "segment", "class", "category", "inactive", "plugin")
# What an owner may type after @ in a PROMO SMS, besides segment names and plugin segments.
CLASS_WORDS = {"semua": ("all", None), "all": ("all", None),
               "tetap": ("class", "regular"), "setia": ("class", "regular"), "regular": ("class", "regular"),
               "promo": ("class", "deal_seeker"), "deal": ("class", "deal_seeker"),
               "pasif": ("class", "inactive"), "inactive": ("class", "inactive"),
               "hilang": ("class", "switcher"), "switcher": ("class", "switcher")}
SEGMENT_NAMES = sorted(set(SEGMENTS.values()))


@dataclass(frozen=True)
class Audience:
    """A target: ``kind`` with its ``value`` (segment name, class, category, days, plugin segment);
    ``store`` a store id of a chain to keep only that store's customers (None: the chain's)."""

    kind: str = "all"
    value: str | None = None
    store: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise CampaignError(f"unknown audience {self.kind!r} (one of {', '.join(KINDS)})")
        if self.kind == "class" and self.value not in CLASSES:
            raise CampaignError(f"unknown class {self.value!r} (one of {', '.join(CLASSES)})")
        if self.kind == "segment" and self.value not in SEGMENT_NAMES:
            raise CampaignError(f"unknown segment {self.value!r} (one of {', '.join(SEGMENT_NAMES)})")
        if self.kind == "inactive" and not (self.value or "").isdigit():
            raise CampaignError("inactive needs a number of days")
        if self.kind in ("category", "plugin") and not self.value:
            raise CampaignError(f"{self.kind} needs a name")

    def as_dict(self) -> dict:
        """For storage."""
        return {"kind": self.kind, "value": self.value} | ({"store": self.store} if self.store else {})

    @classmethod
    def from_dict(cls, d: dict) -> "Audience":
        """From storage."""
        return cls(d.get("kind", "all"), d.get("value"), d.get("store"))

    def describe(self) -> str:
        """For people: "everyone", "class regular", "inactive 60 days", "... at store a"."""
        what = "everyone" if self.kind == "all" else (
            f"{self.kind} {self.value}" + (" days" if self.kind == "inactive" else ""))
        return what + (f" at store {self.store}" if self.store else "")


def from_word(word: str, plugin_segments: list[str]) -> Audience | None:
    """The audience an owner meant by ``@word`` in an SMS, or None."""
    w = word.lower().lstrip("@")
    if w in CLASS_WORDS:
        return Audience(*CLASS_WORDS[w])
    flat = {s.lower().replace(" ", "").replace("'", ""): s for s in SEGMENT_NAMES}
    if w.replace("-", "") in flat:
        return Audience("segment", flat[w.replace("-", "")])
    for name in plugin_segments:
        if name.lower() == w:
            return Audience("plugin", name)
    return None


async def customers(db) -> dict[str, dict]:
    """Every customer's number -> name and language."""
    return {r["phone"]: {"name": r["name"], "language": r["language"]}
            for r in await db.fetchall("SELECT phone, name, language FROM customers")}


async def resolve(db, audience: Audience, today: date, plugin_segment=None) -> list[str]:
    """The customers' numbers (sorted) the audience covers today. ``plugin_segment(name)`` resolves a
    plugin's segment (async, returns numbers)."""
    known = await customers(db)
    if audience.kind == "all":
        phones = set(known)
    elif audience.kind in ("segment", "class"):
        p = await load(db)
        a = p.activity_arrays(today)
        _, _, _, segment, kind = classify_arrays(a["days"], a["occasions"], a["spend"], a["orders"], a["promo"])
        chosen = segment if audience.kind == "segment" else kind
        phones = {p.phones[c] for c, v in zip(a["customer"].tolist(), chosen.tolist()) if v == audience.value}
    elif audience.kind == "category":
        phones = await _category_buyers(db, audience.value or "", today - timedelta(days=365))
    elif audience.kind == "inactive":
        cutoff = (today - timedelta(days=int(audience.value or 0))).isoformat()
        rows = await db.fetchall(f"SELECT phone FROM ({await purchases_sql(db)}) AS p GROUP BY phone HAVING MAX(day) < ?",
                                 (cutoff,))
        phones = {r[0] for r in rows}
    else:
        if plugin_segment is None:
            raise CampaignError(f"no plugin offers the segment {audience.value!r}")
        phones = set(await plugin_segment(audience.value))
    if audience.store is not None:
        phones &= await store_customers(db, audience.store)
    return sorted(phones & set(known))


async def store_customers(db, store: str) -> set[str]:
    """The numbers that are one store's customers: they texted its modems, bought at its till or
    ordered there. (Customers are the chain's; this is who knows that store.)"""
    parts = ["SELECT phone FROM messages WHERE direction = 'in' AND store_id = ? AND phone IS NOT NULL",
             "SELECT phone FROM sales WHERE store_id = ? AND phone IS NOT NULL",
             "SELECT phone FROM orders WHERE store_id = ?"]
    return {r[0] for r in await db.fetchall(" UNION ".join(parts), [store] * len(parts))}


async def _category_buyers(db, category: str, since: date) -> set[str]:
    parts = ["SELECT s.phone FROM sales s JOIN sale_lines l ON l.sale_id = s.id JOIN products p ON p.id = l.product_id "
             "WHERE s.phone IS NOT NULL AND s.sold_at >= shop_start(?) AND p.category = ?",
             "SELECT o.phone FROM orders o JOIN order_lines l ON l.order_id = o.id "
             "JOIN products p ON p.id = l.product_id WHERE o.state != 'cancelled' AND o.created_at >= shop_start(?) "
             "AND p.category = ?"]
    params = [since.isoformat(), category] * 2
    return {r[0] for r in await db.fetchall(" UNION ".join(parts), params)}
