"""Whether a sender can be answered by SMS, judged on its address as received (before normalising).

A reply to something that is not a person's phone costs the shop an SMS and
reaches a machine, and machines answer back (issue 12: a peer that answered every
SMS with an error text drew a help reply every few seconds). So the address is
judged as the network delivered it:

- TS 23.040 (3GPP) 9.1.2.5, the TP-OA type-of-address octet, bits 6-4 "type of
  number": 000 unknown, 001 international, 010 national, 011 network specific,
  100 subscriber, 101 alphanumeric (GSM 7-bit, a name such as ``TELKOMSEL``),
  110 abbreviated, 111 reserved. Alphanumeric, network-specific (an operator's
  service number) and abbreviated numbers are never a subscriber.
- Short codes: operators and content providers use 3 to 6 digits (``888``,
  ``3636``, ``70514``, ``99899``, ``123456``), delivered with type "unknown" or
  "national" by Indonesian networks. The digits as received decide, whatever the
  type of number: ``70514`` must not become ``+6270514``.
- ITU-T E.164 section 6: at most 15 digits, country code included.
- The numbering plan (Google's libphonenumber metadata via ``phonenumbers``):
  where the country is known, the number must be valid there. Nobody's phone is
  ``0000000000``.

Pure: no I/O, no configuration beyond the arguments.
"""

from __future__ import annotations

import phonenumbers

from ..phones import normalize

TON_INTERNATIONAL = 1
TON_NETWORK_SPECIFIC = 3
TON_ALPHANUMERIC = 5
TON_ABBREVIATED = 6
NEVER_ANSWERED = {TON_NETWORK_SPECIFIC: "a network-specific number", TON_ALPHANUMERIC: "a name",
                  TON_ABBREVIATED: "an abbreviated number"}
SHORT_CODE_DIGITS = 6  # up to this many digits: a short code
E164_DIGITS = 15
_PUNCTUATION = set(" -.()/")


def why_not(address: str, *, alphanumeric: bool, type_of_number: int | None = None,
            region: str = "ID") -> str | None:
    """Why a reply to ``address`` would be wasted, or None when it can be answered.

    ``type_of_number`` is TP-OA's type of number (0-7) when the modem layer knows
    it; ``region`` reads numbers written without ``+``.
    """
    if alphanumeric:
        return "a name, not a number"
    if type_of_number in NEVER_ANSWERED:
        return f"{NEVER_ANSWERED[type_of_number]} (TS 23.040 type of number {type_of_number})"
    text = address.strip()
    body = text[1:] if text.startswith("+") else text
    if not body or any(not (c.isdigit() or c in _PUNCTUATION) for c in body):
        return "not a phone number"
    digits = "".join(c for c in body if c.isdigit())
    if len(digits) <= SHORT_CODE_DIGITS:
        return f"a short code ({len(digits)} digits)"
    if len(digits) > E164_DIGITS:
        return f"too long for a phone number ({len(digits)} digits)"
    if len(set(digits)) == 1:
        return "not a real number (one digit repeated)"
    if type_of_number == TON_INTERNATIONAL and not text.startswith("+"):
        text = "+" + digits
    e164 = normalize(text, region)
    if e164 is None:
        return "not a possible phone number"
    number = phonenumbers.parse(e164)
    if len(set(str(number.national_number))) == 1:
        return "not a real number (one digit repeated)"
    country = phonenumbers.region_code_for_country_code(number.country_code)
    if country not in ("ZZ", "001") and not phonenumbers.is_valid_number(number):
        return f"not a valid number in {country}"
    return None


def answerable(address: str, *, alphanumeric: bool, type_of_number: int | None = None,
               region: str = "ID") -> bool:
    """Whether a reply to ``address`` can reach a person's phone (see :func:`why_not`)."""
    return why_not(address, alphanumeric=alphanumeric, type_of_number=type_of_number, region=region) is None
