"""Demo data and the banner ``smsd-crm demo`` prints once the daemon is up."""

from __future__ import annotations

import os
import secrets
from datetime import date, datetime, timezone
from importlib import resources
from pathlib import Path

from ..config import Settings
from ..csv_io.catalog import parse_products
from ..files import private_dir
from ..plugins import PluginHost
from ..storage import catalog, customers, users
from ..web.passwords import hash_password

DEMO_CUSTOMERS = [
    ("+6281200000001", "Siti Aminah", "Jl. Melati 3 RT 01", "1985-04-12"),
    ("+6281200000002", "Agus Setiawan", "Gg. Kenanga 7", "1979-11-02"),
    ("+6281200000003", "Dewi Lestari", "Jl. Anggrek 12", "1992-08-17"),
    ("+6285700000004", "Joko Susilo", "Perum Griya Asri B-4", "1988-01-30"),
    ("+6287800000005", "Rina Wulandari", "Jl. Kamboja 21", "1995-06-05"),
]


async def seed_demo(settings: Settings) -> int:
    """Add the demo customers, catalogue and logins that are missing; return how many customers were added."""
    from ..daemon import open_database

    db = await open_database(settings, PluginHost.load(settings))
    added = 0
    try:
        now = datetime.now(timezone.utc)
        for phone, name, address, birthday in DEMO_CUSTOMERS:
            if await customers.get_by_phone(db, phone) is None:
                await customers.upsert(db, phone, now, name=name, address=address, birthday=birthday)
                added += 1
        if not await catalog.all_products(db):
            rows, errors = parse_products(
                resources.files("smsd_crm.demo").joinpath("data/products.csv").read_text(encoding="utf-8"))
            assert not errors, errors  # the shipped sample is checked by the tests
            await catalog.import_rows(db, rows, now)
        if not await db.fetchall("SELECT id FROM users LIMIT 1"):
            await _demo_logins(db, logins_file(settings), now)
    finally:
        await db.close()
    return added


DEMO_USERS = (("pemilik", "owner"), ("kasir", "staff"))


def logins_file(settings: Settings) -> Path:
    """Where the demo's generated logins are written (beside the database, readable by the owner only)."""
    return settings.database.path.parent / "demo-logins.txt"


async def _demo_logins(db, path: Path, now: datetime) -> None:
    """Create an owner and a staff login with random passwords; write them to ``path`` (mode 0600)."""
    lines = []
    for name, role in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        await users.add_user(db, name, hash_password(password), role, now)
        lines.append(f"{name} ({role}): {password}")
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")


def demo_banner(running, config: str) -> str:
    """Where to look and how to send the daemon an SMS."""
    lines = ["", "=" * 72, "smsd-crm demo is running.",
             f"  database:        {running.settings.database.path}"]
    for emu in running.emulators:
        lines.append(f"  emulated modem:  {emu.modem_id} on {emu.device}")
    if running.web_url:
        logins = logins_file(running.settings)
        lines.append(f"  web pages:       {running.web_url}")
        lines.append(f"  phone simulator: {running.web_url}simulator  (type as a customer, see the replies)")
        if logins.exists():
            lines.append(f"  demo logins:     {logins} (as first set; a password changed since is not here) ->")
            lines += [f"                     {line}" for line in logins.read_text().splitlines()]
        else:
            lines.append("  add a login:     .venv/bin/smsd-crm user add NAME --role owner")
        lines.append(f"  dashboards:      {running.web_url}dash  (the owner: sales, customers, future value, ...)")
        lines.append(f"  campaigns:       {running.web_url}campaigns  (the owner: promotions with a preview and cost)")
        lines.append(f"  JSON API:        {running.web_url}api  (the owner: every route, how to get a token)")
        lines.append(f"                   programs: {running.web_url}api/openapi.json with a token from "
                     f".venv/bin/smsd-crm api-client add NAME -c {config}")
    lines += [
        "",
        "Send it an SMS as a customer would (in another terminal):",
        f"  .venv/bin/smsd-crm sim send -c {config} +6281234567890 \"DAFTAR Budi#Jl. Mawar 5\"",
        f"  .venv/bin/smsd-crm sim send -c {config} 081234567890 BANTUAN",
        f"  .venv/bin/smsd-crm sim send -c {config} 081234567890 \"PESAN beras 2, minyak goreng 1\"",
        f"  .venv/bin/smsd-crm order list -c {config}      (staff: orders waiting; 'order ready N' tells the customer)",
        "",
        "A promotion to the regulars (the owner; none leaves 21:00-08:00 shop time):",
        f"  .venv/bin/smsd-crm campaign create -c {config} --class regular --name Minyak "
        "--text \"Halo {nama}, diskon 10% minyak goreng s/d Minggu!\"",
        f"  .venv/bin/smsd-crm campaign start ID -c {config}   (ID: the number 'create' printed; "
        "then 'campaign show ID --follow')",
        "",
        "Stop with Ctrl-C.",
        "=" * 72, "",
    ]
    return "\n".join(lines)


async def seed_history(settings: Settings, *, years: float, customers: int, seed: int = 1,
                       end: date | None = None) -> dict[str, int] | None:
    """Generate and load a store history; None (nothing written) if the database already holds
    orders or sales: generated data is never mixed into a shop's real records."""
    import asyncio

    from ..daemon import open_database
    from .history import generate
    from .history_load import load_history, load_history_into

    db = await open_database(settings, PluginHost.load(settings))
    try:
        existing = await db.fetchone("SELECT (SELECT COUNT(*) FROM sales) + (SELECT COUNT(*) FROM orders)")
        if existing[0]:
            return None
        products = [dict(id=p.id, code=p.code, name=p.name, category=p.category, price=p.price, cost=p.cost)
                    for p in await catalog.all_products(db)]
        if not products:
            raise ValueError("the catalogue is empty: import products first (smsd-crm catalog import)")
        now = datetime.now(timezone.utc)
        shop = settings.store.time
        history = generate(products, customers=customers, years=years, end=end or shop.day(now), seed=seed,
                           zone=shop.zone)
        if db.engine == "postgresql":  # a server: through the storage API
            counts = await load_history_into(db, history, now.isoformat())
    finally:
        await db.close()
    if settings.database.engine == "sqlite":  # a file: one sqlite3 transaction in a thread, far quicker
        counts = await asyncio.to_thread(load_history, settings.database.path, history, now.isoformat())
    counts["points_ledger"] = await _points_from_history(settings)
    return counts


async def _points_from_history(settings: Settings) -> int:
    """The seeded purchases earn points as live ones would (the points plugin's own rule), so POIN
    and {poin} in promotions show what the history earned; 0 when the points plugin is off."""
    import smsd_crm_points as points

    from ..daemon import offline_session

    async with offline_session(settings) as (host, _):
        ctx = host.contexts.get("points")
        return await points.earn_from_history(ctx) if ctx is not None else 0
