"""Password hashes with the standard library's scrypt (no plain password is ever stored), and the one
rule for a new password (the CLI, the users page and the account page)."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from importlib import resources

from ..i18n import catalogue


@dataclass(frozen=True)
class Cost:
    """scrypt's work factors: ``n`` (CPU and memory, a power of two), ``r`` (block size), ``p`` (lanes)."""

    n: int
    r: int
    p: int

    @property
    def memory(self) -> int:
        """Bytes one hash needs (OpenSSL refuses more than its ``maxmem``)."""
        return 128 * self.r * (self.n + self.p + 2)


# OWASP's Password Storage Cheat Sheet: N=2^17, r=8, p=1, 128 MiB and ~0.3-0.6 s per check on a small PC.
# Slow for anyone guessing from a stolen database; once per login for the shop.
OWASP = Cost(2 ** 17, 8, 1)
# The cost of new hashes. Only the tests change it (tests/conftest.py swaps in a cheap one so their many
# logins stay fast); test_passwords.py checks this default and a real hash at it.
COST = OWASP
_LIMIT = Cost(2 ** 20, 32, 16)  # a stored hash asking for more is refused unchecked (1 GiB, minutes)
MIN_LENGTH = 8  # the one rule for every new password: `smsd-crm user add|password`, the users and account pages
MAX_LENGTH = 256  # the login form reads no more than this
HASHING_AT_ONCE = 2  # checks in parallel (each takes COST.memory): more would only queue for the 2 cores


def hash_password(password: str, cost: Cost | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` for ``password`` at ``cost`` (the current ``COST`` by default)."""
    cost = cost or COST
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost, 32)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt${cost.n}${cost.r}${cost.p}${b64(salt)}${b64(digest)}"


def _scrypt(password: str, salt: bytes, cost: Cost, length: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=cost.n, r=cost.r, p=cost.p,
                          maxmem=cost.memory + 2 ** 20, dklen=length)


def _parse(stored: str) -> tuple[Cost, bytes, bytes] | None:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        cost = Cost(int(n), int(r), int(p))
        if scheme != "scrypt" or not (0 < cost.n <= _LIMIT.n and 0 < cost.r <= _LIMIT.r and 0 < cost.p <= _LIMIT.p):
            return None
        return cost, base64.b64decode(salt, validate=True), base64.b64decode(digest, validate=True)
    except (ValueError, TypeError):
        return None


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash, at the cost it was made with (old
    hashes keep working); False for anything malformed."""
    parsed = _parse(stored)
    if parsed is None or not parsed[2]:
        return False
    cost, salt, expected = parsed
    try:
        actual = _scrypt(password, salt, cost, len(expected))
    except ValueError:  # n not a power of two, or more memory than OpenSSL allows
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash was made at another cost than today's ``COST`` (hash the password again at
    the next right login)."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] != COST


@functools.lru_cache(maxsize=4)
def dummy_hash(cost: Cost) -> str:
    """A hash of nothing anyone knows, at ``cost``: an unknown name is checked against it, so it is
    answered after the same work as a known one."""
    return hash_password(secrets.token_urlsafe(16), cost)


class Hashing:
    """The slow work, in threads, at most ``HASHING_AT_ONCE`` at a time (one per app: a burst of logins
    must not take 128 MiB each at once, nor every thread the loop lends)."""

    def __init__(self, at_once: int = HASHING_AT_ONCE) -> None:
        self._slots = asyncio.Semaphore(at_once)

    async def verify(self, password: str, stored: str | None) -> bool:
        """``verify_password`` against ``stored``, or against the dummy hash when there is none."""
        async with self._slots:
            return await asyncio.to_thread(verify_password, password, stored or dummy_hash(COST))

    async def hash(self, password: str) -> str:
        """``hash_password`` at today's cost."""
        async with self._slots:
            return await asyncio.to_thread(hash_password, password)


def password_problem(password: str) -> tuple[str, dict[str, int]] | None:
    """Why a new password is refused, as a catalogue name and its values (``texts.yaml``), or None."""
    if len(password) < MIN_LENGTH:
        return "password.too_short", {"min": MIN_LENGTH}
    if len(password) > MAX_LENGTH:
        return "password.too_long", {"max": MAX_LENGTH}
    if password.isdigit() and len(set(password)) < 3:
        return "password.one_digit", {}
    if len(set(password.casefold())) < 4 or _guessable(password):
        return "password.guessable", {}
    return None


@functools.cache
def common_passwords() -> frozenset[str]:
    """The passwords tried first by anyone guessing: the ~20,000 most common in breaches and what a shop
    in Indonesia would pick (``smsd_crm/data``; its README says where they come from)."""
    folder = resources.files("smsd_crm") / "data"
    words: set[str] = set()
    for name in ("common-passwords.txt", "local-passwords.txt"):
        words.update(w.strip().casefold() for w in (folder / name).read_text(encoding="utf-8").splitlines())
    words.discard("")
    return frozenset(words)


_TAIL = "0123456789!@#$%^&*.?-_ "


def _guessable(password: str) -> bool:
    """A common password (without case, or with digits or symbols only added at its end), or a run such
    as 12345678 or abcdefgh."""
    word = password.casefold()
    common = common_passwords()
    if word in common or word.rstrip(_TAIL) in common:
        return True
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:])}
    return steps <= {1} or steps <= {-1}


def check_strength(password: str) -> str | None:
    """Why a new password is refused, in English (the CLI), or None."""
    problem = password_problem(password)
    return catalogue().text(problem[0], "en", **problem[1]) if problem else None
