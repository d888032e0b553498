"""Who may use the web pages and the API: ``smsd-crm user add|list|disable|enable|password|role`` and
``smsd-crm api-client add|list|revoke``."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from ..config import load_config
from ..tasks import run_loop


def _read_password(args: argparse.Namespace, store_name: str) -> str | None:
    """The new password from standard input or typed twice; None (said why) if refused (the users page's
    rule: not made of the login's name or the shop's)."""
    import getpass

    from ..web.passwords import check_strength

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return None
    problem = check_strength(password, (args.name, store_name))
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return None
    return password


async def _user_action(db, args: argparse.Namespace, password: str | None) -> str:
    """Do one ``user`` command with the shared rules (storage/users.py); return what to print."""
    from ..i18n import catalogue
    from ..storage import users
    from ..web.passwords import hash_password

    now = datetime.now(timezone.utc)
    done = lambda text, /, **values: catalogue().text(text, "en", **values)  # noqa: E731
    if args.user_command == "add":
        await users.add_user(db, args.name, hash_password(password), args.role, now)
        return f"user {args.name} ({args.role}) created"
    if args.user_command == "disable":
        await users.disable(db, args.name, now)
        return done("users.done.disabled", name=args.name)
    if args.user_command == "enable":
        await users.enable(db, args.name)
        return done("users.done.enabled", name=args.name)
    if args.user_command == "password":
        await users.set_password(db, args.name, hash_password(password))
        return done("users.done.password", name=args.name)
    if args.user_command == "role":
        await users.set_role(db, args.name, args.role)
        return done("users.done.role", name=args.name, role=args.role)
    return "\n".join(f"{u['username']:<20} {u['role']:<6} {'disabled' if u['disabled_at'] else 'active':<9} "
                     f"created {u['created_at'][:10]}" for u in await users.list_users(db))


def cmd_user(args: argparse.Namespace) -> int:
    """Web logins (owner: everything; staff: orders, complaints, customers, messages): add, list, disable,
    enable, set a new password, change the role. The same rules as the users page: a disabled login
    cannot log in and its sessions end; a new password ends its sessions; the shop keeps an active owner."""
    from ..daemon import offline_session

    settings = load_config(args.config, secrets=False)
    password = None
    if args.user_command in ("add", "password"):
        password = _read_password(args, settings.store.name)
        if password is None:
            return 1

    async def main() -> str:
        async with offline_session(settings) as (_, db):
            return await _user_action(db, args, password)

    try:
        out = run_loop(main())
    except ValueError as exc:  # users.UserRefused
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if out:
        print(out)
    return 0


def cmd_api_client(args: argparse.Namespace) -> int:
    """Create, list or revoke JSON API clients. A new client's token is printed once, never stored; it
    may only read unless given --scope send (send SMS, move orders). Each token has a rate limit (api:)."""
    from ..daemon import offline_session
    from ..storage import api_clients

    settings = load_config(args.config, secrets=False)
    now = datetime.now(timezone.utc)

    async def main() -> int:
        async with offline_session(settings) as (_, db):
            if args.action == "add":
                scopes = args.scope or ["read"]
                token = await api_clients.add_client(db, args.name, now, scopes)
                print(f"API client {args.name} created, allowed to {' and '.join(sorted(set(scopes)))}. "
                      f"Its token (shown only now):\n{token}")
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
                print(f"{row['name']:<20} {row['scopes']:<10} {state:<24} created {when(row['created_at'])}  "
                      f"last used {when(row['last_used_at'])}")
            return 0

    try:
        return run_loop(main())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def add_parsers(sub, default_config: str) -> None:
    """Add ``user`` and ``api-client`` to the CLI."""
    user_p = sub.add_parser("user", help="manage web logins", description=cmd_user.__doc__)
    user_sub = user_p.add_subparsers(dest="user_command", required=True, metavar="USERCOMMAND")
    for name, help_text in (("add", "create a web login"), ("list", "list the web logins"),
                            ("disable", "stop a login working and end its sessions"),
                            ("enable", "let a disabled login log in again"),
                            ("password", "set a new password for a login (ends its sessions)"),
                            ("role", "make a login owner or staff")):
        cmd = user_sub.add_parser(name, help=help_text, description=help_text)
        if name != "list":
            cmd.add_argument("name", help="the login name")
        if name == "add":
            cmd.add_argument("--role", choices=["owner", "staff"], default="staff")
        if name == "role":
            cmd.add_argument("role", choices=["owner", "staff"])
        if name in ("add", "password"):
            cmd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        cmd.add_argument("-c", "--config", default=default_config, help="config file")
        cmd.set_defaults(func=cmd_user, verbose=False)
    api_p = sub.add_parser("api-client", help="manage JSON API clients and their tokens",
                           description=cmd_api_client.__doc__)
    api_p.add_argument("action", choices=["add", "list", "revoke"])
    api_p.add_argument("name", nargs="?", help="the client's name (for add and revoke), e.g. kasir-pos")
    api_p.add_argument("--scope", action="append", choices=["read", "send"],
                       help="what the new token may do: read (GET routes; the default) and/or send (send SMS, "
                            "move orders); repeat for both")
    api_p.add_argument("-c", "--config", default=default_config, help="config file")
    api_p.set_defaults(func=_api_client_checked, verbose=False)


def _api_client_checked(args: argparse.Namespace) -> int:
    if args.action != "list" and not (args.name and 1 <= len(args.name) <= 64):
        print(f"error: 'api-client {args.action}' needs a name (1-64 characters)", file=sys.stderr)
        return 2
    return cmd_api_client(args)
