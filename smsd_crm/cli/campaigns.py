"""``smsd-crm campaign create|preview|start|pause|resume|cancel|list|show``: promotions from the
command line. The CLI writes to the database; the running daemon notices within two seconds and
sends (a campaign never needs the daemon to be restarted)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from ..config import load_config
from ..errors import CampaignError
from ..tasks import run_loop

BAR = 30


def _audience(args: argparse.Namespace, store: str):
    from ..campaigns.audience import Audience
    chosen = [(k, v) for k, v in (("segment", args.segment), ("class", args.klass), ("category", args.category),
                                  ("inactive", args.inactive_days), ("plugin", args.plugin_segment)) if v is not None]
    if len(chosen) > 1:
        raise CampaignError("choose one audience (--segment, --class, --category, --inactive-days, --plugin-segment)")
    kind, value = (chosen[0][0], str(chosen[0][1])) if chosen else ("all", None)
    return Audience(kind, value, store if args.this_store else None)


def _start_at(text: str | None, zone: ZoneInfo) -> datetime | None:
    if not text:
        return None
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise CampaignError(f"--start {text!r}: use YYYY-MM-DD HH:MM (shop time)") from None
    return (local if local.tzinfo else local.replace(tzinfo=zone)).astimezone(timezone.utc)


def bar(counts: dict[str, int]) -> str:
    """``[#########.....]  12/40 sent, 2 skipped``: done = sent, delivered, failed or skipped."""
    total = counts.get("recipients", 0)
    done = sum(counts.get(k, 0) for k in ("sent", "delivered", "failed", "skipped"))
    filled = round(BAR * done / total) if total else BAR
    return (f"[{'#' * filled}{'.' * (BAR - filled)}] {done}/{total}: {counts.get('sent', 0) + counts.get('delivered', 0)}"
            f" sent ({counts.get('delivered', 0)} delivered), {counts.get('failed', 0)} failed, "
            f"{counts.get('skipped', 0)} skipped, {counts.get('pending', 0) + counts.get('queued', 0) + counts.get('sending', 0)} to go")


def cmd_campaign(args: argparse.Namespace) -> int:
    """Create, preview, start, pause, resume, cancel, list or follow campaigns."""
    from ..campaigns.audience import Audience
    from ..campaigns.service import CampaignService
    from ..daemon import offline_session
    from ..storage import campaigns as store

    settings = load_config(args.config, secrets=False)

    async def main() -> int:
        async with offline_session(settings) as (host, db):
            service = CampaignService(db, settings, lambda: datetime.now(timezone.utc), host)
            if args.action == "create":
                if not args.text:
                    raise CampaignError("--text is required (or --text-en as well, for English customers)")
                texts = {settings.store.language: args.text}
                if args.text_en:
                    texts["en"] = args.text_en
                campaign_id = await service.create(name=args.name or "campaign", text=texts, audience=_audience(args, settings.store.id),
                                                   start_at=_start_at(args.start, service.zone),
                                                   promo_code=args.promo_code, created_by="cli")
                print(f"campaign {campaign_id} created (draft)")
                args.id = campaign_id
                return await _preview(service, store, Audience, campaign_id)
            if args.action == "list":
                for c in await store.listing(db):
                    counts = await store.progress(db, c.id)
                    print(f"{c.id:>4} {c.state:<9} {c.kind:<8} {c.name[:30]:<30} "
                          f"{Audience.from_dict(c.audience).describe():<22} {bar(counts)}")
                return 0
            if args.id is None:
                raise CampaignError(f"'campaign {args.action}' needs a campaign id")
            if args.action == "preview":
                return await _preview(service, store, Audience, args.id)
            if args.action == "start":
                count = await service.start(args.id)
                c = await store.get(db, args.id)
                print(f"campaign {args.id} {c.state} for {count} recipient(s)" +
                      (f" from {c.start_at.astimezone(service.zone):%Y-%m-%d %H:%M}" if c.state == "scheduled" else ""))
                return 0
            if args.action in ("pause", "resume", "cancel"):
                done = await getattr(service, args.action)(args.id)
                c = await store.get(db, args.id)
                if not done:
                    print(f"error: campaign {args.id} is {c.state if c else 'unknown'}; cannot {args.action}",
                          file=sys.stderr)
                    return 1
                print(f"campaign {args.id} {c.state}")
                return 0
            return await _show(db, store, args.id, args.follow)

    try:
        return run_loop(main())
    except CampaignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _preview(service, store, Audience, campaign_id: int) -> int:
    c = await store.get(service.db, campaign_id)
    if c is None:
        raise CampaignError(f"no campaign {campaign_id}")
    phones = await service.recipients(Audience.from_dict(c.audience))
    p = await service.preview(c.text, phones)
    print(f"campaign {c.id} ({Audience.from_dict(c.audience).describe()}): {p.describe()}")
    print(f"sample: {p.sample}")
    return 0


async def _show(db, store, campaign_id: int, follow: bool) -> int:
    c = await store.get(db, campaign_id)
    if c is None:
        raise CampaignError(f"no campaign {campaign_id}")
    interactive = follow and sys.stdout.isatty()
    while True:
        c = await store.get(db, campaign_id)
        line = f"campaign {c.id} {c.state:<9} {bar(await store.progress(db, campaign_id))}"
        print(("\r" + line) if interactive else line, end="" if interactive else "\n", flush=True)
        if not follow or c.state in ("done", "cancelled"):
            break
        await asyncio.sleep(1.0)  # a person watching; the daemon sends meanwhile
    if interactive:
        print()
    from ..analytics.campaign_results import DAYS, results
    if c.state != "draft":
        [r] = await results(db, campaign_id=campaign_id)
        rupiah = f"Rp{r.revenue:,}".replace(",", ".")
        print(f"within {DAYS} days of the SMS: {r.buyers} recipient(s) bought ({r.purchases} purchase(s), {rupiah}), "
              f"{r.opted_out_after} opted out" + (f"; orders citing {c.promo_code}: {r.code_orders}"
                                                   if c.promo_code else ""))
    return 0


def add_parsers(sub, default_config: str) -> None:
    """Add ``campaign`` to the CLI."""
    p = sub.add_parser("campaign", help="promotions to many customers", description=cmd_campaign.__doc__)
    p.add_argument("action", choices=["create", "preview", "start", "pause", "resume", "cancel", "list", "show"])
    p.add_argument("id", nargs="?", type=int, help="the campaign (all but create and list)")
    p.add_argument("--name", help="create: a name for people")
    p.add_argument("--text", help="create: the message; {nama} = the customer's name, {poin} = points")
    p.add_argument("--text-en", help="create: the message for customers who use English")
    p.add_argument("--segment", help="create: an RFM segment (Champions, At Risk, ...)")
    p.add_argument("--class", dest="klass", choices=["regular", "deal_seeker", "inactive", "switcher", "other"],
                   help="create: one of the four classes")
    p.add_argument("--category", help="create: customers who bought this category in the last year")
    p.add_argument("--inactive-days", type=int, help="create: customers with no purchase for this many days")
    p.add_argument("--plugin-segment", help="create: a segment a plugin offers")
    p.add_argument("--this-store", action="store_true",
                   help="create: only this store's customers (a chain: those who texted, bought or ordered here)")
    p.add_argument("--start", help="create: when to start, YYYY-MM-DD HH:MM shop time (default: when started)")
    p.add_argument("--promo-code", help="create: a code customers can cite in orders (results per campaign)")
    p.add_argument("--follow", action="store_true", help="show: a progress bar until the campaign ends")
    p.add_argument("-c", "--config", default=default_config, help="config file")
    p.set_defaults(func=cmd_campaign, verbose=False)
