"""Password hashes with the standard library's scrypt (pure; no plain password is ever stored)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from ..i18n import catalogue

N, R, P = 2 ** 14, 8, 1  # ~16 MiB and ~50 ms per check on a small PC: slow for guessing, fine for a login
MIN_LENGTH = 8  # the one rule for every new password: `smsd-crm user add|password`, the users and account pages
MAX_LENGTH = 256  # the login form reads no more than this


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` for ``password``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt${N}${R}${P}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash; False for anything malformed."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


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


# The passwords tried first by anyone guessing (the most common ones in leaked lists, and what a shop
# in Indonesia would pick), compared without case, digits or symbols at the end.
COMMON = frozenset("""password passw0rd qwerty qwertyuiop asdfghjkl zxcvbnm iloveyou sunshine princess
football monkey dragon letmein welcome admin administrator login master shadow superman batman baseball
abc abcd abcdef abcdefg abcdefgh qwe qweasd qazwsx zaq rahasia katasandi sandi bismillah indonesia jakarta
toko tokoku kasir pemilik owner staff user test testing sayang cinta""".split())


def _guessable(password: str) -> bool:
    """A common word (with digits or symbols only at its end), or a run such as 12345678 or abcdefgh."""
    word = password.casefold().rstrip("0123456789!@#$%^&*.?-_ ")
    if word in COMMON:
        return True
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:])}
    return steps <= {1} or steps <= {-1}


def check_strength(password: str) -> str | None:
    """Why a new password is refused, in English (the CLI), or None."""
    problem = password_problem(password)
    return catalogue().text(problem[0], "en", **problem[1]) if problem else None
