"""Logins on the web: the owner's users page (add, disable, enable, change role, reset a password) and
everyone's account page (change one's own password).

The rules are storage/users.py's, shared with ``smsd-crm user ...``; the password rule is
passwords.py's. Every action answers on the same page: a notice when done, the refusal when not.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from ..storage import users
from ..storage.users import UserRefused
from .auth import SESSION_COOKIE, sessions_ended
from .base import CTX, HASHING, THROTTLE, USER, owner_only, page_error, render, speaker
from .passwords import MIN_LENGTH, password_problem

Notice = tuple[str, dict[str, Any]]  # a catalogue name and its values


def _new_password(request: web.Request, form, name: str) -> str:
    """The new password typed twice, or a refusal (the one rule, as ``smsd-crm user add`` has it): not
    made of the login's ``name`` or the shop's."""
    password, again = str(form.get("password", "")), str(form.get("password2", ""))
    if password != again:
        raise UserRefused("users.refused.passwords_differ")
    problem = password_problem(password, (name, request.app[CTX].store.name))
    if problem:
        raise UserRefused(problem[0], **problem[1])
    return password


def _name(form) -> str:
    return str(form.get("username", "")).strip()[:users.MAX_NAME + 1]


async def _add(request: web.Request, form) -> Notice:
    ctx = request.app[CTX]
    name, role = _name(form), str(form.get("role", ""))
    if not users.valid_name(name):
        raise UserRefused("users.refused.bad_name", max=users.MAX_NAME)
    password = _new_password(request, form, name)
    await users.add_user(ctx.db, name, await request.app[HASHING].hash(password), role, ctx.clock())
    return "users.done.added", {"name": name}


async def _disable(request: web.Request, form) -> Notice:
    ctx, name = request.app[CTX], _name(form)
    await sessions_ended(ctx, await users.disable(ctx.db, name, ctx.clock()))
    if name == request[USER]["username"]:  # another owner is left; this one is logged out now
        raise web.HTTPFound("/login")
    return "users.done.disabled", {"name": name}


async def _enable(request: web.Request, form) -> Notice:
    name = _name(form)
    await users.enable(request.app[CTX].db, name)
    return "users.done.enabled", {"name": name}


async def _role(request: web.Request, form) -> Notice:
    ctx, name, role = request.app[CTX], _name(form), str(form.get("role", ""))
    await sessions_ended(ctx, await users.set_role(ctx.db, name, role))  # staff see no dashboards
    if name == request[USER]["username"] and role != "owner":
        raise web.HTTPFound("/")  # no longer the owner: this page is not theirs any more
    return "users.done.role", {"name": name, "role": speaker(request).word("role", role)}


async def _reset(request: web.Request, form) -> Notice:
    ctx, name = request.app[CTX], _name(form)
    if await users.get_user(ctx.db, name) is None:
        raise UserRefused("users.refused.unknown", name=name)
    password = _new_password(request, form, name)
    keep = request.cookies.get(SESSION_COOKIE) if name == request[USER]["username"] else None
    user_id = await users.set_password(ctx.db, name, await request.app[HASHING].hash(password), keep)
    await sessions_ended(ctx, user_id)
    return "users.done.password", {"name": name}


ACTIONS: dict[str, Callable[[web.Request, Any], Awaitable[Notice]]] = {
    "add": _add, "disable": _disable, "enable": _enable, "role": _role, "password": _reset}


@owner_only
async def users_page(request: web.Request) -> web.Response:
    """Every login with its role and state; the owner's forms to add and change them."""
    ctx = request.app[CTX]
    notice, error, status, form = None, None, 200, {}
    if request.method == "POST":
        form = await request.post()
        action = ACTIONS.get(str(form.get("action", "")))
        if action is None:
            raise page_error(web.HTTPBadRequest, "error.bad_request")
        try:
            notice = await action(request, form)
        except UserRefused as exc:
            error, status = (exc.name, exc.values), 409 if exc.name == "users.refused.last_owner" else 400
    added = notice is None and form.get("action") == "add"  # a refused new login keeps its name and role
    return render(request, "users.html", status=status, users=await users.list_users(ctx.db), notice=notice,
                  error=error, now=ctx.clock().isoformat(), min_length=MIN_LENGTH,
                  new={"username": _name(form), "role": str(form.get("role", "staff"))} if added else None)


async def account_page(request: web.Request) -> web.Response:
    """One's own login: change the password (the current one first); other sessions end."""
    notice, error, status = None, None, 200
    if request.method == "POST":
        try:
            notice = await _change_own(request, await request.post())
        except UserRefused as exc:
            error, status = (exc.name, exc.values), 400
    return render(request, "account.html", status=status, notice=notice, error=error, min_length=MIN_LENGTH)


async def _change_own(request: web.Request, form) -> Notice:
    ctx, me = request.app[CTX], request[USER]
    user = await users.get_user(ctx.db, me["username"])
    now, throttle = ctx.clock(), request.app[THROTTLE]
    # Wrong current passwords are counted like wrong logins, on this login: a borrowed session cannot
    # guess the password for ever (it waits as a stranger would), and nobody else is slowed down.
    keys = [("account", user["username"].casefold())]
    if throttle.wait(keys, now):
        raise UserRefused("login_locked")
    throttle.wrong(keys, now)
    current = str(form.get("current", ""))[:1024]
    if not await request.app[HASHING].verify(current, user["password_hash"]):
        raise UserRefused("account.wrong_current")
    throttle.right(keys, clear=keys[0])
    password = _new_password(request, form, me["username"])
    keep = request.cookies.get(SESSION_COOKIE)
    await users.set_password(ctx.db, me["username"], await request.app[HASHING].hash(password), keep)
    await sessions_ended(ctx, user["id"])
    return "account.done", {}


def add_routes(app: web.Application) -> list[dict]:
    """Mount the users and account pages; return their navigation entries."""
    for method in ("GET", "POST"):
        app.router.add_route(method, "/admin/users", users_page)
        app.router.add_route(method, "/account", account_page)
    return [{"path": "/admin/users", "key": "nav.users", "role": "owner"},
            {"path": "/account", "key": "nav.account", "role": "staff"}]
