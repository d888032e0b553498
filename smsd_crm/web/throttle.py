"""Growing waits after wrong logins, instead of a lock that anyone could set off.

The rule (docs/security.md, "Logins"): every wrong login counts against *keys*. A browser that has
logged in as the typed name before shows it with a signed cookie (a *device cookie*) and is counted
on that cookie alone; any other client is counted on its address and on the typed name (whether or
not such a login exists, compared without case). Up to ``free`` wrong tries a key waits for nothing;
after that each try on it must wait 2**k seconds after the key's last wrong one (k = wrong tries past
``free``: 1 s, 2 s, 4 s ..., at most ``longest``). A try that comes too early is not checked at all
and is answered exactly as a wrong password. A key forgets its count after ``forget`` without a wrong
try; a right login clears its device cookie's count.

So a stranger hammering the owner's name slows down only the stranger's own address and new
browsers trying that name: the owner's own browsers (with their device cookie) get in at once, from
any address. The shop PC's own address (``127.0.0.1``, ``::1``: every browser on the PC comes from
it) is nobody's key: one person's typos there never slow down the next person at the same PC; the
typed name still counts. The counts live in memory: a restart forgets them (an attacker cannot restart the
daemon); at most ``max_keys`` are kept, the longest-quiet dropped first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

Key = tuple[str, str]


@dataclass
class _Count:
    wrong: int
    last: datetime


class LoginThrottle:
    """Wrong-login counts per key and the wait each key owes (pure: the caller passes the time)."""

    def __init__(self, free: int, longest: timedelta, forget: timedelta = timedelta(hours=24),
                 max_keys: int = 50_000) -> None:
        self.free, self.longest, self.forget, self.max_keys = free, longest, forget, max_keys
        self._counts: OrderedDict[Key, _Count] = OrderedDict()  # least recently wrong first

    def _count(self, key: Key, now: datetime) -> _Count | None:
        count = self._counts.get(key)
        if count is not None and now - count.last >= self.forget:
            del self._counts[key]
            return None
        return count

    def delay(self, wrong: int) -> timedelta:
        """How long after the last wrong try the next may come, after ``wrong`` wrong tries."""
        if wrong < self.free:
            return timedelta(0)
        return min(timedelta(seconds=2 ** min(wrong - self.free, 40)), self.longest)

    def wait(self, keys: list[Key], now: datetime) -> timedelta:
        """How much longer a try on ``keys`` must wait (zero: it may be checked now)."""
        longest = timedelta(0)
        for key in keys:
            count = self._count(key, now)
            if count is not None:
                longest = max(longest, count.last + self.delay(count.wrong) - now)
        return longest

    def wrong(self, keys: list[Key], now: datetime) -> None:
        """Count a wrong try (the login counts every try as wrong before the slow check, so parallel
        guesses wait too, and takes it back with ``right`` when the password was right)."""
        for key in keys:
            count = self._count(key, now)
            if count is None:
                self._counts[key] = _Count(1, now)
            else:
                count.wrong, count.last = count.wrong + 1, now
                self._counts.move_to_end(key)
        while len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)

    def right(self, keys: list[Key], clear: Key | None = None) -> None:
        """Take back the try counted by ``wrong``: it was right; ``clear`` forgets that key's count."""
        for key in keys:
            count = self._counts.get(key)
            if count is not None:
                count.wrong -= 1
                if count.wrong <= 0 or key == clear:
                    del self._counts[key]


SHARED_ADDRESSES = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})  # the shop PC itself


def client_keys(address: str | None, username: str) -> list[Key]:
    """The keys of a try from a browser without a device cookie: its address (unless it is the shop
    PC's own, shared by everyone at it) and the typed name."""
    if (address or "").split("%")[0] in SHARED_ADDRESSES:
        return [name_key(username)]
    return [address_key(address), name_key(username)]


def address_key(address: str | None) -> Key:
    """A client's key: its address; an IPv6 address by its /64 (anyone on a LAN has a whole /64)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return ("address", address or "?")
    if ip.version == 6 and not ip.ipv4_mapped:
        return ("address", str(ipaddress.ip_network(f"{ip}/64", strict=False)))
    return ("address", str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip))


def name_key(username: str) -> Key:
    """A typed name's key (existing or not; without case, as names are unique without case)."""
    return ("name", username.casefold())


DEVICE_DAYS = 180  # a browser stays known this long after its last login


def device_cookie_name(username: str) -> str:
    """The cookie a browser keeps for one login name (one per name: a shop PC shared by several)."""
    return "smsd_device_" + hashlib.sha256(username.casefold().encode()).hexdigest()[:16]


def make_device_cookie(key: str, username: str, now: datetime) -> str:
    """A device cookie for ``username``: an id, its day, and a signature with the shop's ``key``."""
    device = secrets.token_urlsafe(12)
    issued = str(int(now.timestamp()))
    return f"{device}.{issued}.{_signature(key, username, device, issued)}"


def device_key(key: str, username: str, cookie: str, now: datetime) -> Key | None:
    """The key of a valid device cookie for ``username`` (signed by ``key``, not older than
    ``DEVICE_DAYS``), else None."""
    device, _, rest = cookie.partition(".")
    issued, _, signature = rest.partition(".")
    if not device or not issued.isdigit() or len(cookie) > 200:
        return None
    if not hmac.compare_digest(signature, _signature(key, username, device, issued)):
        return None
    if not 0 <= now.timestamp() - int(issued) <= DEVICE_DAYS * 86400:
        return None
    return ("device", device)


def _signature(key: str, username: str, device: str, issued: str) -> str:
    mac = hmac.new(key.encode(), f"{username.casefold()}|{device}|{issued}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
