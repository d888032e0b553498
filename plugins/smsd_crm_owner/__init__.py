"""Built-in plugin: the owner's SMS commands, from the owner numbers in config, each with the PIN.

``PROMO <PIN> [@target] text`` broadcasts to opted-in customers (a campaign; the reply says how
many, a summary follows when it is done), ``LAPORAN <PIN>`` answers today's sales, orders and open
complaints, ``STOK <PIN> <code or name> <qty>`` sets a product's stock. A stranger or a wrong PIN gets a
refusal and nothing else; ``lockout_attempts`` wrong PINs in a row lock that number out for
``lockout_minutes``. The PIN is masked by core before the SMS is stored (``secret_words`` after a
keyword from any number; ``secret_values``: any digit group equal to it from the owner's numbers),
so it is never on a page, in a webhook, in the simulator or in the database.
"""

from __future__ import annotations

import hmac
from datetime import timedelta, timezone
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from smsd_crm import (
    CreditAlert,
    Listing,
    Message,
    Migration,
    PluginConfig,
    PluginContext,
    Reply,
    SecretValue,
    clip,
    format_rupiah,
    hookimpl,
    split_fields,
)

MASK = "****"
# "PROMO <pin> @tokoini ...": only the customers of the store whose modem got the SMS (a chain's store).
STORE_WORDS = frozenset({"tokoini", "toko", "sini", "thisstore", "here"})


class OwnerConfig(PluginConfig):
    """Owner numbers, the PIN, the lockout, keywords and replies."""

    numbers: list[str] = Field(default_factory=list, description="the owner's numbers, any spelling")
    pin: SecretStr | None = Field(None, description="4-12 digits; put it in the environment: {$env: OWNER_PIN}")
    lockout_attempts: int = Field(3, ge=1, description="wrong PINs in a row before the number is locked out")
    lockout_minutes: float = Field(30, gt=0)
    secret_words: ClassVar[dict[str, int]] = {"promo": 1, "report": 1, "stock": 1}
    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "promo": {"id": ["PROMO"], "en": ["BROADCAST"]},
        "report": {"id": ["LAPORAN"], "en": ["REPORT"]},
        "stock": {"id": ["STOK"], "en": ["STOCK"]},
    })
    replies: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "id": {
            "refused": "Perintah ini hanya untuk pemilik toko.",
            "wrong_pin": "PIN salah. {left} kali lagi salah, nomor ini dikunci {minutes} menit.",
            "locked": "Terlalu banyak PIN salah. Coba lagi nanti.",
            "resend": "PIN tidak terbaca (pesan tertunda). Kirim ulang perintahnya.",
            "promo_usage": "Format: PROMO PIN [@segmen] [@tokoini] teks. Contoh: PROMO 1234 Diskon 10% minyak goreng s/d Minggu!",
            "unknown_target": "Segmen @{target} tidak dikenal. Pilih: {choices}.",
            "promo_queued": "Promo #{id} dikirim ke {count} pelanggan ({parts} SMS/orang, {encoding}, "
                            "sekitar {cost}). Ringkasan menyusul.",
            "promo_later": " Jam tenang: mulai dikirim pukul {time}.",
            "promo_empty": "Tidak ada pelanggan yang bisa menerima promo ini.",
            "report": "Laporan {date}: kasir {sales} ({receipts} struk); pesanan SMS {orders} ({orders_total}), "
                      "baru {new}, siap {ready}; keluhan terbuka {complaints}.",
            "stock_usage": "Format: STOK PIN kode/nama jumlah. Contoh: STOK 1234 B01 40",
            "stock_set": "Stok {code} ({name}) sekarang {qty}.",
            "unknown_product": "Barang {code} tidak ditemukan.",
            "credit_low": "Pulsa kartu {modem} tinggal {balance}. Isi ulang agar SMS toko tetap terkirim.",
            "credit_expiring": "Masa aktif kartu {modem} habis {date}. Isi pulsa sebelum itu.",
            "credit_package": "Paket SMS kartu {modem} hampir habis: sisa {sms} SMS, berlaku s/d {date}.",
            "credit_refused": "Operator menolak SMS dari kartu {modem}; pulsanya mungkin habis. Cek dan isi ulang.",
        },
        "en": {
            "refused": "This command is for the shop owner only.",
            "wrong_pin": "Wrong PIN. {left} more wrong and this number is locked for {minutes} minutes.",
            "locked": "Too many wrong PINs. Try again later.",
            "resend": "The PIN could not be read (a delayed message). Please send the command again.",
            "promo_usage": "Format: BROADCAST PIN [@segment] [@thisstore] text. Example: BROADCAST 1234 10% off cooking oil!",
            "unknown_target": "Unknown segment @{target}. Choose: {choices}.",
            "promo_queued": "Promo #{id} goes to {count} customers ({parts} SMS each, {encoding}, about {cost}). "
                            "A summary follows when it is done.",
            "promo_later": " Quiet hours: sending starts at {time}.",
            "promo_empty": "No customer can receive this promotion.",
            "report": "Report {date}: till {sales} ({receipts} receipts); SMS orders {orders} ({orders_total}), "
                      "new {new}, ready {ready}; open complaints {complaints}.",
            "stock_usage": "Format: STOCK PIN code/name quantity. Example: STOCK 1234 B01 40",
            "stock_set": "Stock of {code} ({name}) is now {qty}.",
            "unknown_product": "No item {code}.",
            "credit_low": "The SIM {modem} has {balance} left. Top it up so the shop's SMS keep going out.",
            "credit_expiring": "The SIM {modem} expires on {date}. Top it up before then.",
            "credit_package": "The SMS package of SIM {modem} is nearly used up: {sms} SMS left, until {date}.",
            "credit_refused": "The operator refuses SMS from SIM {modem}; it may be out of credit. Check and top up.",
        },
    })

    @field_validator("pin")
    @classmethod
    def _digits(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not (value.get_secret_value().isdigit() and 4 <= len(value.get_secret_value()) <= 12):
            raise ValueError("the owner PIN must be 4 to 12 digits")
        return value

    def secret_values(self) -> list[SecretValue]:
        """The PIN, masked in every SMS from the owner's numbers whatever the keyword or typo."""
        return [SecretValue(self.pin.get_secret_value(), tuple(self.numbers))] if self.pin and self.numbers else []


@hookimpl
def register_config_model():
    """The owner plugin's config section."""
    return OwnerConfig


@hookimpl
def register_migrations():
    """Owner command attempts, for the lockout (numbers and outcomes only, never a PIN)."""
    return [Migration("m001_attempts", """
CREATE TABLE owner_attempts (
    id      INTEGER PRIMARY KEY,
    phone   TEXT NOT NULL,
    ok      INTEGER NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX owner_attempts_phone ON owner_attempts (phone, id);
""")]


def _day(text: str | None) -> str:
    return f"{text[8:10]}-{text[5:7]}-{text[:4]}" if text else "?"


@hookimpl
async def track_event(event, ctx: PluginContext) -> None:
    """A SIM about to stop sending (core's credit alerts, raised once): each owner number is told."""
    if not isinstance(event, CreditAlert) or not ctx.config.numbers:
        return
    date = event.sms_until if event.reason == "package" else event.active_until
    text = ctx.text(f"credit_{event.reason}", ctx.store.language, modem=event.modem_id,
                    balance=format_rupiah(event.balance or 0), date=_day(date), sms=event.sms_left or 0)
    for number in ctx.config.numbers:
        await ctx.send(number, text)


@hookimpl
async def startup(ctx: PluginContext) -> None:
    """Say plainly when owner commands cannot work."""
    if not ctx.config.numbers or ctx.config.pin is None:
        ctx.log.info("owner commands are off: set plugins.owner.numbers and plugins.owner.pin to use them")
    else:
        ctx.log.info("owner commands are on for %d number(s)", len(ctx.config.numbers))


async def _locked(ctx: PluginContext, phone: str) -> bool:
    since = (ctx.now() - timedelta(minutes=ctx.config.lockout_minutes)).isoformat()
    rows = await ctx.db.fetchall("SELECT ok FROM owner_attempts WHERE phone = ? AND at >= ? ORDER BY id DESC LIMIT ?",
                                 (phone, since, ctx.config.lockout_attempts))
    return len(rows) >= ctx.config.lockout_attempts and not any(r["ok"] for r in rows)


async def _attempts_left(ctx: PluginContext, phone: str) -> int:
    """Wrong PINs this number may still type before it is locked out."""
    since = (ctx.now() - timedelta(minutes=ctx.config.lockout_minutes)).isoformat()
    rows = await ctx.db.fetchall("SELECT ok FROM owner_attempts WHERE phone = ? AND at >= ? ORDER BY id DESC LIMIT ?",
                                 (phone, since, ctx.config.lockout_attempts))
    wrong = 0
    for row in rows:  # the wrong ones since the last right one
        if row["ok"]:
            break
        wrong += 1
    return max(ctx.config.lockout_attempts - wrong, 0)


async def _record(ctx: PluginContext, phone: str, ok: bool) -> None:
    await ctx.db.execute("INSERT INTO owner_attempts (phone, ok, at) VALUES (?, ?, ?)",
                         (phone, int(ok), ctx.now().isoformat()))


def _is_owner(ctx: PluginContext, phone: str) -> bool:
    return phone in {ctx.phone(n) for n in ctx.config.numbers}


@hookimpl
async def handle_message(message: Message, ctx: PluginContext) -> Reply | None:
    """PROMO, LAPORAN, STOK: check the number, the lockout and the PIN, then do it."""
    if message.phone is None or message.command not in ("promo", "report", "stock"):
        return None
    lang = message.language
    pin = ctx.config.pin
    if pin is None or not _is_owner(ctx, message.phone):
        ctx.log.warning("owner command %s from a number that is not an owner's", message.keyword)
        return Reply(ctx.text("refused", lang))
    if await _locked(ctx, message.phone):
        return Reply(ctx.text("locked", lang))
    typed, _, rest = message.args.strip().partition(" ")
    if typed == MASK:  # stored before a restart: the PIN was never kept, so it cannot be checked
        return Reply(ctx.text("resend", lang))
    if not hmac.compare_digest(typed.encode(), pin.get_secret_value().encode()):
        await _record(ctx, message.phone, False)
        ctx.log.warning("owner command %s with a wrong PIN", message.keyword)
        if await _locked(ctx, message.phone):
            return Reply(ctx.text("locked", lang))
        # the owner's own phone asked: say it was the PIN (a stranger's number is refused above)
        return Reply(ctx.text("wrong_pin", lang, left=await _attempts_left(ctx, message.phone),
                              minutes=f"{ctx.config.lockout_minutes:g}"))
    await _record(ctx, message.phone, True)
    rest = rest.strip()
    if message.command == "promo":
        return await _promo(ctx, message, rest)
    if message.command == "report":
        return Reply(await _report(ctx, lang))
    return await _stock(ctx, message, rest)


async def _promo(ctx: PluginContext, message: Message, rest: str) -> Reply:
    lang = message.language
    target, this_store = None, False
    while rest.startswith("@"):  # "@setia @tokoini ...": a class or segment, and this store's customers
        word, _, rest = rest.partition(" ")
        rest = rest.strip()
        if word[1:].lower() in STORE_WORDS:
            this_store = True
        elif target is None:
            target = word
        else:
            return Reply(ctx.text("promo_usage", lang))
    if not rest:
        return Reply(ctx.text("promo_usage", lang))
    try:
        started = await ctx.campaigns.broadcast(rest, target=target, notify_phone=message.phone,
                                                name=f"SMS PROMO {ctx.store.time.format(ctx.now(), lang)}",
                                                this_store=this_store)
    except LookupError as exc:
        return Reply(ctx.text("unknown_target", lang, target=clip((target or "").lstrip("@"), 20),
                              choices=Listing(str(exc).split(", ") + ["@tokoini"])))
    if started is None:
        return Reply(ctx.text("promo_empty", lang))
    p = started.preview
    later = ctx.text("promo_later", lang, time=ctx.store.time.format_time(started.waits_until, lang)) if started.waits_until else ""
    return Reply(ctx.text("promo_queued", lang, id=started.id, count=p.recipients, parts=p.parts_each.parts,
                          encoding=p.parts_each.encoding, cost=format_rupiah(round(p.cost))) + later)


async def _report(ctx: PluginContext, lang: str) -> str:
    shop = ctx.store.time
    start = ctx.today_start()
    end = shop.start_of(start.date() + timedelta(1))
    since, until = (t.astimezone(timezone.utc).isoformat() for t in (start, end))
    # this store's till and orders (cancelled orders are in neither the count nor the total)
    till = await ctx.db.fetchone("SELECT COUNT(*) AS n, COALESCE(SUM(total), 0) AS t FROM sales "
                                 "WHERE sold_at >= ? AND sold_at < ? AND store_id = ?", (since, until, ctx.store.id))
    count, total, new, ready = await ctx.orders.figures(start, end)
    return ctx.text("report", lang, date=shop.format_day(start.date(), lang), sales=format_rupiah(till["t"]), receipts=till["n"],
                    orders=count, orders_total=format_rupiah(total), new=new, ready=ready,
                    complaints=await ctx.complaints.open_count())


async def _stock(ctx: PluginContext, message: Message, rest: str) -> Reply:
    lang = message.language
    fields = split_fields(rest, " ")
    if len(fields) < 2 or not fields[-1].isdigit() or int(fields[-1]) > 1_000_000:
        return Reply(ctx.text("stock_usage", lang))
    # a code or a name, as HARGA reads it ("STOK 1234 B01 40", "STOK 1234 gula pasir 40")
    query, qty = " ".join(fields[:-1])[:60], int(fields[-1])
    meant, _ = await ctx.catalog.resolve(query)
    product = await ctx.catalog.set_stock(meant.code if meant else query.upper(), qty)
    if product is None:
        return Reply(ctx.text("unknown_product", lang, code=clip(query, 20)))
    return Reply(ctx.text("stock_set", lang, code=product.code, name=clip(product.name, 40), qty=qty))
