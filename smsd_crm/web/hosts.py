"""The Host check: pages answer only to the names the shop uses for them (defeats DNS rebinding).

A page on another site can point its own name at 127.0.0.1 (DNS rebinding); the browser then treats
this daemon as that site, and that site's scripts could read the login page and post to it. Such a
request still says the other site's name in its ``Host`` header, so anything but a loopback name or
number, the number this very connection reached, or a name the owner listed in ``web.allowed_hosts``
is refused before any other work (a 421 page saying how to open the pages instead).
"""

from __future__ import annotations

import ipaddress
import re

from aiohttp import web

from .base import CTX, Handler, page_error

LOOPBACK_NAMES = frozenset({"localhost"})
_PORT = re.compile(r"\d{1,5}")


def host_name(header: str) -> str | None:
    """The name or number in a ``Host`` header, lower case, without port or brackets; None if malformed."""
    if header.startswith("["):  # [::1]:8080
        name, sep, rest = header[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:]))):
            return None
    else:
        name, sep, port = header.partition(":")
        if sep and not _PORT.fullmatch(port):
            return None
    name = name.lower().rstrip(".")
    return name or None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return (ip.ipv4_mapped or ip) if ip.version == 6 else ip


def host_allowed(header: str | None, allowed: frozenset[str], local_address: str | None = None) -> bool:
    """Whether a request with this ``Host`` header may be answered: a loopback name or number, a name
    in ``allowed``, or the number of the address the connection reached (``local_address``: a shop PC
    serving the LAN at ``http://192.168.1.10:8080/``; a number in the address bar cannot be rebound)."""
    name = host_name(header or "")
    if name is None:
        return False
    if name in LOOPBACK_NAMES or name in allowed:
        return True
    ip = _address(name)
    if ip is None:
        return False
    return ip.is_loopback or (local_address is not None and ip == _address(local_address.split("%")[0]))


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@web.middleware
async def read_forms(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read a form body before any handler, so that a broken one (a multipart without its boundary,
    an unknown charset, bytes that are not UTF-8) is a 400 for the sender, not a 500 with a
    traceback in the log; handlers then get aiohttp's cached result."""
    if request.method == "POST" and request.content_type in FORM_TYPES:
        try:
            await request.post()
        except (ValueError, LookupError, UnicodeDecodeError):
            raise page_error(web.HTTPBadRequest, "error.bad_request") from None
    return await handler(request)


@web.middleware
async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse (421) a request whose ``Host`` is not one of this shop's names, before any other work."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    local = sockname[0] if isinstance(sockname, tuple) and sockname else None
    if not host_allowed(request.headers.get("Host"), request.app[CTX].config.allowed_hosts_set, local):
        port = sockname[1] if isinstance(sockname, tuple) and len(sockname) > 1 else None
        name = "127.0.0.1" if local is None or _address(local) is None or _address(local).is_loopback else local
        name = f"[{name}]" if ":" in name else name  # the address this connection reached: the PC's or its LAN one
        address = f"http://{name}" + (f":{port}" if port and port != 80 else "") + "/"
        raise page_error(web.HTTPMisdirectedRequest, "error.host", address=address)
    return await handler(request)
