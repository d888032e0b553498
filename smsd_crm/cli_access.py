"""Who may use the web pages and the API: ``smsd-crm user add`` and ``smsd-crm api-client add|list|revoke``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timezone

from .config import load_config


def cmd_user_add(args: argparse.Namespace) -> int:
    """Create a web user (owner: everything; staff: orders, complaints, customers, messages)."""
    import getpass
    from datetime import datetime, timezone

    from .daemon import offline_session
    from .storage import users
    from .web.passwords import check_strength, hash_password

    settings = load_config(args.config, secrets=False)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return 1
    problem = check_strength(password)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1

    async def main() -> None:
        async with offline_session(settings) as (_, db):
            await users.add_user(db, args.name, hash_password(password), args.role, datetime.now(timezone.utc))

    try:
        asyncio.run(main())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"user {args.name} ({args.role}) created")
    return 0


def cmd_api_client(args: argparse.Namespace) -> int:
    """Create, list or revoke JSON API clients. A new client's token is printed once, never stored."""
    from .daemon import offline_session
    from .storage import api_clients

    settings = load_config(args.config, secrets=False)
    now = datetime.now(timezone.utc)

    async def main() -> int:
        async with offline_session(settings) as (_, db):
            if args.action == "add":
                token = await api_clients.add_client(db, args.name, now)
                print(f"API client {args.name} created. Its token (shown only now):\n{token}")
                return 0
            if args.action == "revoke":
                if await api_clients.revoke(db, args.name, now):
                    print(f"API client {args.name} revoked")
                    return 0
                print(f"error: no active API client named {args.name!r}", file=sys.stderr)
                return 1
            when = lambda at: settings.store.time.format(at, settings.store.language)  # noqa: E731
            for row in await api_clients.list_clients(db):
                state = f"revoked {when(row['revoked_at'])}" if row["revoked_at"] else "active"
                print(f"{row['name']:<20} {state:<24} created {when(row['created_at'])}  "
                      f"last used {when(row['last_used_at'])}")
            return 0

    try:
        return asyncio.run(main())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def add_parsers(sub, default_config: str) -> None:
    """Add ``user`` and ``api-client`` to the CLI."""
    user_p = sub.add_parser("user", help="manage web users", description="Web users.")
    user_sub = user_p.add_subparsers(dest="user_command", required=True, metavar="USERCOMMAND")
    uadd = user_sub.add_parser("add", help="create a web user", description=cmd_user_add.__doc__)
    uadd.add_argument("name", help="the login name")
    uadd.add_argument("--role", choices=["owner", "staff"], default="staff")
    uadd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    uadd.add_argument("-c", "--config", default=default_config, help="config file")
    uadd.set_defaults(func=cmd_user_add, verbose=False)
    api_p = sub.add_parser("api-client", help="manage JSON API clients and their tokens",
                           description=cmd_api_client.__doc__)
    api_p.add_argument("action", choices=["add", "list", "revoke"])
    api_p.add_argument("name", nargs="?", help="the client's name (for add and revoke), e.g. kasir-pos")
    api_p.add_argument("-c", "--config", default=default_config, help="config file")
    api_p.set_defaults(func=_api_client_checked, verbose=False)


def _api_client_checked(args: argparse.Namespace) -> int:
    if args.action != "list" and not (args.name and 1 <= len(args.name) <= 64):
        print(f"error: 'api-client {args.action}' needs a name (1-64 characters)", file=sys.stderr)
        return 2
    return cmd_api_client(args)
