"""Password hashes with the standard library's scrypt (no plain password is ever stored), and the one
rule for a new password (the CLI, the users page and the account page)."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from importlib import resources
from typing import Iterable

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
# Checks that may wait for a slot: more are answered "busy" at once instead of holding a connection for
# a minute (a flood of logins with made-up names would otherwise fill web.max_connections with waiters).
HASHING_WAITING = 8


class HashingBusy(Exception):
    """Too many password checks are waiting: try again in a few seconds (says nothing about the login)."""


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

    def __init__(self, at_once: int = HASHING_AT_ONCE, waiting: int = HASHING_WAITING) -> None:
        self._slots = asyncio.Semaphore(at_once)
        self._known = asyncio.Semaphore(1)  # a lane of its own for browsers that logged in before
        self._waiting, self._max_waiting = 0, waiting

    async def verify(self, password: str, stored: str | None, *, known: bool = False) -> bool:
        """``verify_password`` against ``stored``, or against the dummy hash when there is none.

        ``known``: the browser showed a device cookie for this name; it never queues behind strangers.
        Raises :class:`HashingBusy` when ``waiting`` other checks already wait (never for ``known``)."""
        slots = self._known if known else self._slots
        if not known and self._slots.locked() and self._waiting >= self._max_waiting:
            raise HashingBusy()
        self._waiting += 1
        try:
            await slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await asyncio.to_thread(verify_password, password, stored or dummy_hash(COST))
        finally:
            slots.release()

    async def hash(self, password: str) -> str:
        """``hash_password`` at today's cost."""
        async with self._slots:
            return await asyncio.to_thread(hash_password, password)


def password_problem(password: str, names: Iterable[str] = ()) -> tuple[str, dict[str, int]] | None:
    """Why a new password is refused, as a catalogue name and its values (``texts.yaml``), or None.
    ``names``: the login's name and the shop's, which a password may not be made of."""
    if len(password) < MIN_LENGTH:
        return "password.too_short", {"min": MIN_LENGTH}
    if len(password) > MAX_LENGTH:
        return "password.too_long", {"max": MAX_LENGTH}
    if password.isdigit() and len(set(password)) < 3:
        return "password.one_digit", {}
    if len(set(password.casefold())) < 4 or _guessable(password):
        return "password.guessable", {}
    if _made_of_names(password, names):
        return "password.personal", {}
    return None


@functools.cache
def common_passwords() -> frozenset[str]:
    """The passwords tried first by anyone guessing: the ~20,000 most common in breaches and what a shop
    in Indonesia would pick (``smsd_crm/data``; its README says where they come from)."""
    folder = resources.files("smsd_crm") / "data"
    words: set[str] = set()
    for name in ("common-passwords.txt", "local-passwords.txt"):
        words.update(w.strip().casefold() for w in (folder / name).read_text(encoding="utf-8").splitlines())
    words.update(re.sub(r"\s+", "", w) for w in list(words))  # "kata sandi" typed "katasandi" too
    words.discard("")
    return frozenset(words)


# Digits and symbols typed for letters: p4ssw0rd, r4has1a, @dmin, pa$$word (1 is an i or an l).
_LEET = (str.maketrans("4@310$57", "aaeiosst"), str.maketrans("4@310$57", "aaelosst"))
_SPACES = re.compile(r"[\s._\-]+")
_ENDS = re.compile(r"^[^a-z]+|[^a-z]+$")  # what is not a letter at either end: !Password1 is password
MIN_WORD = 4  # letters left after that, to be compared with the list


def _forms(password: str) -> set[str]:
    """The ways a guesser's rules would reach ``password`` from a word: without case, spaces and dots
    (``pass word``), digits or symbols before or after it (``!Password1``), digits for letters
    (``r4has1a!``)."""
    word = _SPACES.sub("", password.casefold())
    forms = {_ENDS.sub("", word)}
    for leet in _LEET:
        forms |= {_ENDS.sub("", word).translate(leet), _ENDS.sub("", word.translate(leet))}
    # a word, not a letter or two left between digits and symbols (8#5@2!9%x is not "x")
    return {word} | {form for form in forms if len(form) >= MIN_WORD}


def _repeated(word: str) -> bool:
    """One word typed twice or more: ``passwordpassword``, ``adminadmin``."""
    return len(word) >= 2 * MIN_WORD - 2 and any(len(word) % size == 0 and word == word[:size] * (len(word) // size)
                                                 for size in range(1, len(word) // 2 + 1))


def _guessable(password: str) -> bool:
    """A common password (without case, spaces, digits or symbols around it, digits for letters), a word
    typed twice, or a run such as 12345678 or abcdefgh."""
    common = common_passwords()
    if any(form in common or _repeated(form) for form in _forms(password)):
        return True
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:])}
    return steps <= {1} or steps <= {-1}


def _made_of_names(password: str, names: Iterable[str]) -> bool:
    """``password`` is the login's or the shop's name (or its words), with little else: ``kasir2024``,
    ``TokoSumberRejeki1``, ``sumberrejeki!`` for Toko Sumber Rejeki."""
    parts: set[str] = set()
    for name in names:
        words = [w for w in re.split(r"[^a-z]+", name.casefold()) if len(w) >= 3]
        parts |= set(words) | {"".join(words)}
    parts.discard("")
    for form in _forms(password):
        rest = form
        for part in sorted(parts, key=len, reverse=True):  # the whole name before its words
            rest = rest.replace(part, "")
        letters = re.sub(r"[^a-z]", "", rest)
        if rest != form and (len(letters) < 4 or letters in common_passwords() or _repeated(letters)):
            return True
    return False


def check_strength(password: str, names: Iterable[str] = ()) -> str | None:
    """Why a new password is refused, in English (the CLI), or None."""
    problem = password_problem(password, names)
    return catalogue().text(problem[0], "en", **problem[1]) if problem else None
