"""CLI commands for the shop's data: the catalogue, till sales and web users.

Each prints one line per user mistake (a bad row names its line) and returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import load_config
from ..tasks import run_loop


def _read_file(path: str) -> str | None:
    """A user's file as text (UTF-8, with or without BOM); None after printing why not."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return None


def _write_file(path: str, text: str) -> bool:
    """Write a user's file (UTF-8); False after printing why not (no folder, no permission, a folder)."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def _report(path: str, errors: list[str]) -> int:
    """Print a broken file's problems, a line each, and the verdict; the exit code."""
    for error in errors[:50]:
        print(f"{path}: {error}", file=sys.stderr)
    more = f" (and {len(errors) - 50} more)" if len(errors) > 50 else ""
    print(f"error: {len(errors)} problem(s){more}; nothing was imported", file=sys.stderr)
    return 1


def cmd_catalog_import(args: argparse.Namespace) -> int:
    """Add or update products from a CSV file; a broken file imports nothing."""
    from datetime import datetime, timezone

    from ..csv_io.catalog import parse_products
    from ..daemon import offline_session
    from ..storage import catalog

    settings = load_config(args.config, secrets=False)
    text = _read_file(args.file)
    if text is None:
        return 1
    rows, errors = parse_products(text)
    if errors:
        return _report(args.file, errors)

    async def main() -> tuple[int, int]:
        async with offline_session(settings) as (_, db):
            return await catalog.import_rows(db, rows, datetime.now(timezone.utc))

    added, updated = run_loop(main())
    print(f"{args.file}: {added} product(s) added, {updated} updated")
    return 0


def cmd_catalog_export(args: argparse.Namespace) -> int:
    """Write the catalogue as CSV (the import format) to a file or standard output."""
    from ..csv_io.catalog import write_products
    from ..daemon import offline_session
    from ..storage import catalog

    settings = load_config(args.config, secrets=False)

    async def main() -> str:
        async with offline_session(settings) as (_, db):
            return write_products(await catalog.all_products(db))

    text = run_loop(main())
    if args.output:
        if not _write_file(args.output, text):
            return 1
    else:
        sys.stdout.write(text)
    return 0


def cmd_sales_import(args: argparse.Namespace) -> int:
    """Import till sales from CSV; receipts already imported are skipped; a broken file imports nothing."""
    from datetime import datetime, timedelta, timezone

    from ..csv_io.sales import parse_sales
    from ..daemon import offline_session
    from ..events import TillSale
    from ..storage import catalog, sales

    settings = load_config(args.config, secrets=False)
    text = _read_file(args.file)
    if text is None:
        return 1

    async def main() -> int:
        async with offline_session(settings) as (host, db):
            products = {p.code: p for p in await catalog.all_products(db)}
            # the till writes shop time: read it in store.timezone unless --utc-offset says otherwise
            tz = settings.store.time.zone if args.utc_offset is None else timezone(timedelta(hours=args.utc_offset))
            parsed, errors = parse_sales(text, products, tz, settings.store.country)
            if errors:
                return _report(args.file, errors)
            new = await sales.import_sales(db, parsed, datetime.now(timezone.utc))
            for sale_id, sale in new:  # points and other observers, once per new sale
                await host.emit(TillSale(sale_id, sale.phone, sale.total))
            print(f"{args.file}: {len(new)} sale(s) imported, {len(parsed) - len(new)} already there")
            return 0

    return run_loop(main())
