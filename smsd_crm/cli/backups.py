"""``smsd-crm backup`` and ``smsd-crm restore``: the SQLite database, safely, while the daemon runs
(storage/sqlite_backup.py says how). A shop on PostgreSQL backs up with the server's own tools."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from ..config import Settings, load_config
from ..storage import sqlite_backup

POSTGRESQL_ADVICE = ("the database is on PostgreSQL: back it up with the server's tools, e.g. "
                     "'pg_dump -Fc -f smsd-crm.dump DATABASE' and 'pg_restore -d DATABASE smsd-crm.dump' "
                     "(docs/deployment.md, Backups)")


def _sqlite_only(settings: Settings) -> bool:
    if settings.database.engine != "sqlite":
        print(f"error: {POSTGRESQL_ADVICE}", file=sys.stderr)
        return False
    return True


def _shop_now(settings: Settings) -> datetime:
    return datetime.now(timezone.utc).astimezone(settings.store.time.zone)


def _summary(found: sqlite_backup.BackupFile) -> str:
    return f"{found.size / 1e6:.1f} MB, {found.rows} rows in {len(found.tables)} tables, integrity ok"


def cmd_backup(args: argparse.Namespace) -> int:
    """Back the database up into backup.folder (or --to), consistent while the daemon runs; keeps the
    backup.keep newest there."""
    settings = load_config(args.config, secrets=False)
    if not _sqlite_only(settings):
        return 2
    folder = Path(args.to) if args.to else settings.backup.folder
    made = sqlite_backup.backup(settings.database.path, folder / sqlite_backup.backup_name(_shop_now(settings)))
    print(f"{made.path}: {_summary(made)}")
    for gone in sqlite_backup.prune(folder, settings.backup.keep):
        print(f"removed {gone} (backup.keep is {settings.backup.keep})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Replace the database by a backup (the daemon must be stopped); the replaced one is kept."""
    settings = load_config(args.config, secrets=False)
    if not _sqlite_only(settings):
        return 2
    source = Path(args.file)
    if args.file == "latest":
        found = sqlite_backup.latest(settings.backup.folder)
        if found is None:
            print(f"error: no backup in {settings.backup.folder}", file=sys.stderr)
            return 1
        source = found
    restored, kept = sqlite_backup.restore(source, settings.database.path, _shop_now(settings))
    if kept is not None:
        print(f"the database it replaced is kept as {kept}")
    print(f"{restored.path}: restored from {source}: {_summary(restored)}")
    return 0


def add_parsers(sub, default_config: str) -> None:
    """``backup`` and ``restore``."""
    b = sub.add_parser("backup", help="back the SQLite database up (safe while the daemon runs)",
                       description=cmd_backup.__doc__)
    b.add_argument("--to", metavar="FOLDER", help="the folder to write it in (default: backup.folder)")
    r = sub.add_parser("restore", help="replace the database by a backup (stop the daemon first)",
                       description=cmd_restore.__doc__)
    r.add_argument("file", help="the backup file, or 'latest' for the newest in backup.folder")
    for p, func in ((b, cmd_backup), (r, cmd_restore)):
        p.add_argument("-c", "--config", default=default_config, help="config file")
        p.set_defaults(func=func, verbose=False)
