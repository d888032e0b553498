"""Phone numbers to E.164 (``0812…``, ``62812…``, ``+62812…`` and ``0812-3456-7890`` are one)."""

from __future__ import annotations

import phonenumbers


def normalize(raw: str, region: str = "ID") -> str | None:
    """The E.164 form of ``raw``, or None for names (``TELKOMSEL``), impossible lengths and junk.

    A 5-6 digit short code (``70514``) still reads as a possible number here: whether a sender can be
    answered at all is decided on the address as received, by ``understanding.senders``.
    """
    text = raw.strip()
    if not text or any(c.isalpha() for c in text):
        return None
    digits = "".join(c for c in text if c.isdigit())
    if text.startswith("+"):
        candidate = "+" + digits
    elif digits.startswith(str(phonenumbers.country_code_for_region(region))) and len(digits) > 10:
        candidate = "+" + digits  # 62812… written without the plus
    else:
        candidate = digits
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None  # short codes such as 3636 or 888 cannot be answered by SMS reply
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
