"""Built-in plugin: loyalty points. POIN balance, HADIAH rewards, TUKAR redemption with a voucher code.

An append-only ledger: every change is a row with a reason (order, till, redeem,
expiry, adjust). The balance is the sum of the ledger and never negative:
redemption checks and writes inside one write transaction. Points earned more
than ``expiry_days`` ago expire oldest first (what was spent used the oldest).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from smsd_crm import (
    Listing,
    Message,
    OrderStateChanged,
    PluginConfig,
    PluginContext,
    ProfileSection,
    Reply,
    Speaker,
    TillSale,
    clip,
    hookimpl,
    split_keyword,
)

VOUCHER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L to misread on a phone


class Reward(BaseModel):
    """Something points buy."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[A-Za-z0-9]{1,10}$")
    name: str = Field(min_length=1, max_length=30, description="as the replies name it (one SMS holds it)")
    cost: int = Field(gt=0)
    value: int = Field(0, ge=0, description="what the reward costs the shop in rupiah (the profitability view)")


class PointsConfig(PluginConfig):
    """Earning rule, expiry, rewards, keywords and replies."""

    earn_per: int = Field(1000, gt=0, description="rupiah per point on completed orders and till sales")
    expiry_days: int = Field(365, gt=0)
    rewards: list[Reward] = Field(default_factory=lambda: [
        Reward(code="V10", name="Voucher Rp10.000", cost=100, value=10_000),
        Reward(code="V25", name="Voucher Rp25.000", cost=230, value=25_000),
        Reward(code="GULA", name="Gula Pasir 1kg", cost=170, value=16_000),
    ])
    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "balance": {"id": ["POIN"], "en": ["POINT", "POINTS"]},
        "rewards": {"id": ["HADIAH"], "en": ["REWARDS"]},
        "redeem": {"id": ["TUKAR"], "en": ["REDEEM"]},
    })
    replies: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "id": {
            "balance": "Poin Anda: {balance}.{expiring} Ketik HADIAH untuk daftar hadiah.",
            "expiring": " {points} poin hangus {date}.",
            "rewards": "Hadiah: {list}. Tukar: TUKAR kode. Poin Anda: {balance}.",
            "redeemed": "Berhasil! Kode voucher {voucher} untuk {reward}. Tunjukkan di kasir. Sisa poin {balance}.",
            "not_enough": "Poin Anda {balance}, perlu {cost} untuk {reward}.",
            "unknown_reward": "Kode hadiah '{code}' tidak ada. Ketik HADIAH untuk daftar.",
            "redeem_usage": "Format: TUKAR kode hadiah. Contoh: TUKAR V10. Ketik HADIAH untuk daftar.",
        },
        "en": {
            "balance": "Your points: {balance}.{expiring} Text REWARDS for the list.",
            "expiring": " {points} points expire {date}.",
            "rewards": "Rewards: {list}. To redeem: REDEEM code. Your points: {balance}.",
            "redeemed": "Done! Voucher code {voucher} for {reward}. Show it at the till. Points left {balance}.",
            "not_enough": "You have {balance} points; {reward} needs {cost}.",
            "unknown_reward": "No reward '{code}'. Text REWARDS for the list.",
            "redeem_usage": "Format: REDEEM reward code. Example: REDEEM V10. Text REWARDS for the list.",
        },
    })


@hookimpl
def register_config_model():
    """The points plugin's config section."""
    return PointsConfig


async def balance(ctx: PluginContext, phone: str) -> int:
    """The sum of the ledger."""
    row = await ctx.db.fetchone("SELECT COALESCE(SUM(delta), 0) AS b FROM points_ledger WHERE phone = ?", (phone,))
    return row["b"]


async def earn(ctx: PluginContext, phone: str, points: int, reason: str, ref: str) -> bool:
    """Add points once per (reason, ref); False if already earned or nothing to add."""
    if points <= 0:
        return False
    async with ctx.db.transaction():
        if await ctx.db.fetchone("SELECT 1 FROM points_ledger WHERE reason = ? AND ref = ?", (reason, ref)):
            return False
        await ctx.db.execute("INSERT INTO points_ledger (phone, delta, reason, ref, at) VALUES (?, ?, ?, ?, ?)",
                             (phone, points, reason, ref, ctx.now().isoformat()))
    return True


async def earn_from_history(ctx: PluginContext) -> int:
    """Points for every done order and every till sale with a number that earned none yet (a
    history loaded in bulk, such as the demo's), by the rule ``track_event`` applies one at a time
    (``total // earn_per``, reason and ref alike, dated when earned), then the expiry as of now.
    Returns how many ledger rows were added."""
    per = ctx.config.earn_per
    sources = ["SELECT phone, total / ? AS points, 'till' AS reason, CAST(id AS TEXT) AS ref, sold_at AS at "
               "FROM sales WHERE phone IS NOT NULL",
               "SELECT phone, total / ?, 'order', CAST(id AS TEXT), updated_at FROM orders WHERE state = 'done'"]
    count = "SELECT COUNT(*) AS n FROM points_ledger"
    before = (await ctx.db.fetchone(count))["n"]
    async with ctx.db.transaction():
        await ctx.db.execute(
            f"INSERT INTO points_ledger (phone, delta, reason, ref, at) SELECT * FROM ({' UNION ALL '.join(sources)}) s "
            "WHERE s.points > 0 AND NOT EXISTS (SELECT 1 FROM points_ledger l WHERE l.reason = s.reason AND l.ref = s.ref)",
            (per,) * len(sources))
    now = ctx.now()
    for row in await ctx.db.fetchall("SELECT DISTINCT phone FROM points_ledger"):
        await expire(ctx, row["phone"], now)
    return (await ctx.db.fetchone(count))["n"] - before


async def redeem(ctx: PluginContext, phone: str, reward: Reward) -> tuple[str | None, int]:
    """(voucher code, balance after) or (None, balance): all or nothing, in one write transaction."""
    async with ctx.db.transaction():
        await ctx.db.lock("points", phone)  # the chain's stores share the balance: one redemption at a time
        current = await balance(ctx, phone)
        if current < reward.cost:
            return None, current
        code = "".join(secrets.choice(VOUCHER_ALPHABET) for _ in range(8))
        now = ctx.now().isoformat()
        await ctx.vouchers.issue(code=code, phone=phone, reward=reward.code, cost=reward.cost, value=reward.value)
        await ctx.db.execute("INSERT INTO points_ledger (phone, delta, reason, ref, at) VALUES (?, ?, 'redeem', ?, ?)",
                             (phone, -reward.cost, code, now))
    return code, current - reward.cost


async def expire(ctx: PluginContext, phone: str, now: datetime) -> int:
    """Append the expiry of points older than ``expiry_days`` not yet spent; return how many."""
    cutoff = (now - timedelta(days=ctx.config.expiry_days)).isoformat()
    async with ctx.db.transaction():
        await ctx.db.lock("points", phone)
        old = await ctx.db.fetchone(
            "SELECT COALESCE(SUM(delta), 0) AS n FROM points_ledger WHERE phone = ? AND delta > 0 AND at < ?",
            (phone, cutoff))
        used = await ctx.db.fetchone(
            "SELECT COALESCE(-SUM(delta), 0) AS n FROM points_ledger WHERE phone = ? AND delta < 0", (phone,))
        due = old["n"] - used["n"]  # spending and earlier expiry used the oldest points first
        if due > 0:
            await ctx.db.execute(
                "INSERT INTO points_ledger (phone, delta, reason, ref, at) VALUES (?, ?, 'expiry', NULL, ?)",
                (phone, -due, now.isoformat()))
    return max(due, 0)


async def _expiring_soon(ctx: PluginContext, phone: str, lang: str) -> str:
    """Points that expire in the next 30 days, as a phrase for the balance reply."""
    now = ctx.now()
    days = ctx.config.expiry_days
    soon = (now - timedelta(days=days - 30)).isoformat()
    old = await ctx.db.fetchone(
        "SELECT COALESCE(SUM(delta), 0) AS n, MIN(at) AS first FROM points_ledger "
        "WHERE phone = ? AND delta > 0 AND at < ?", (phone, soon))
    used = await ctx.db.fetchone(
        "SELECT COALESCE(-SUM(delta), 0) AS n FROM points_ledger WHERE phone = ? AND delta < 0", (phone,))
    points = old["n"] - used["n"]
    if points <= 0:
        return ""
    date = (datetime.fromisoformat(old["first"]) + timedelta(days=days)).strftime("%d-%m-%Y")
    return ctx.text("expiring", lang, points=points, date=date)


@hookimpl
async def handle_message(message: Message, ctx: PluginContext) -> Reply | None:
    """POIN, HADIAH, TUKAR."""
    if message.phone is None or message.command not in ("balance", "rewards", "redeem"):
        return None
    lang, phone = message.language, message.phone
    await expire(ctx, phone, ctx.now())
    if message.command == "balance":
        return Reply(ctx.text("balance", lang, balance=await balance(ctx, phone),
                              expiring=await _expiring_soon(ctx, phone, lang)))
    rewards = {r.code.upper(): r for r in ctx.config.rewards}
    if message.command == "rewards":
        listing = Listing([f"{r.code} {r.name} = {r.cost} poin" for r in ctx.config.rewards], "; ")  # as many as fit
        return Reply(ctx.text("rewards", lang, list=listing, balance=await balance(ctx, phone)))
    code = split_keyword(message.args)[0]
    if not code:
        return Reply(ctx.text("redeem_usage", lang))
    reward = rewards.get(code)
    if reward is None:
        return Reply(ctx.text("unknown_reward", lang, code=clip(code, 10)))
    voucher, left = await redeem(ctx, phone, reward)
    if voucher is None:
        return Reply(ctx.text("not_enough", lang, balance=left, cost=reward.cost, reward=reward.name))
    return Reply(ctx.text("redeemed", lang, voucher=voucher, reward=reward.name, balance=left))


@hookimpl
async def track_event(event, ctx: PluginContext) -> None:
    """Earn points when an order is done and for a till sale with a phone (once each)."""
    if isinstance(event, OrderStateChanged) and event.state == "done":
        await earn(ctx, event.phone, event.total // ctx.config.earn_per, "order", str(event.order_id))
    elif isinstance(event, TillSale) and event.phone:
        await earn(ctx, event.phone, event.total // ctx.config.earn_per, "till", str(event.sale_id))


@hookimpl
async def customer_profile(customer, ctx: PluginContext, language: str):
    """The customer's points balance and ledger on their page, in the page's language."""
    speak = Speaker(language, time=ctx.store.time)
    rows = await ctx.db.fetchall("SELECT * FROM points_ledger WHERE phone = ? ORDER BY id DESC LIMIT 100",
                                 (customer.phone,))
    table = [[speak.when(r["at"]), f"{r['delta']:+d}", speak.word("points_reason", r["reason"]), r["ref"] or ""]
             for r in rows]
    return ProfileSection(speak.t("points"), [speak.t("time"), speak.t("points"), speak.t("reason"), "Ref"], table,
                          summary=speak.number(await balance(ctx, customer.phone)))


@hookimpl
async def campaign_fields(phone: str, language: str, ctx: PluginContext) -> dict[str, str]:
    """``{poin}`` (and ``{points}``) in campaign texts: the customer's balance."""
    points = await balance(ctx, phone)
    return {"poin": str(points), "points": str(points)}
