"""USSD balance checks (pure): the request a modem sends (``AT+CUSD``, 3GPP TS 27.007 7.15), the
``+CUSD`` answer decoded, and the prepaid SIM's credit read from the operator's words.

A request string is text (``*888#``) for most modems and GSM 7-bit packed, in hex, for the ones that
want it so (Huawei sticks without ``AT^USSDMODE=0``); an answer comes as text, as packed GSM 7-bit hex
(data coding 15, TS 23.038 5 and 6.1.2.3) or as UCS-2 hex (data coding 72). Indonesian operators answer
in their own words: :func:`read_credit` knows the common shapes ("Sisa pulsa Rp12.345 aktif s/d
31/12/2026", "Pulsa: Rp 5.000, masa aktif 21-12-2026", "Saldo Rp2.500 berlaku sampai 03 Des 2026",
"Sisa SMS 100 berlaku s.d 10/12/2026"); ``pattern`` takes an operator's other shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from . import gsm7

# +CUSD: <m>[,<str>[,<dcs>]]: m 0 done, 1 the network asks something back, 2 ended by the network,
# 3 answered by another client, 4 not supported, 5 timed out (TS 27.007 7.15)
_CUSD = re.compile(r'^\+CUSD:\s*(\d)(?:\s*,\s*"((?:[^"]|"")*)"(?:\s*,\s*(\d+))?)?', re.S)
DCS_GSM7 = 15
DCS_UCS2 = 72


@dataclass(frozen=True)
class UssdAnswer:
    """A decoded ``+CUSD``: ``status`` (0-5 above), ``text`` (None when there was none)."""

    status: int
    text: str | None

    @property
    def failed(self) -> bool:
        """The network did not answer the request (not supported, timed out, ended without text)."""
        return self.status in (4, 5) or (self.status == 2 and not self.text)


@dataclass(frozen=True)
class Credit:
    """A prepaid SIM's credit as its operator tells it: ``balance`` in rupiah, the SIM's ``active_until``
    date, the ``sms_left`` of an SMS package and its ``sms_until`` date; None for what was not said."""

    balance: int | None = None
    active_until: date | None = None
    sms_left: int | None = None
    sms_until: date | None = None

    @property
    def known(self) -> bool:
        return any(v is not None for v in (self.balance, self.active_until, self.sms_left))


def request(code: str, packed: bool = False) -> str:
    """The ``AT+CUSD`` command asking ``code`` (``*888#``): as text, or packed GSM 7-bit hex.
    ValueError for a code that is not digits, ``*`` and ``#``."""
    if not re.fullmatch(r"[0-9*#]{2,30}", code):
        raise ValueError(f"not a USSD code: {code!r} (digits, * and #, like *888#)")
    if not packed:
        return f'AT+CUSD=1,"{code}",{DCS_GSM7}'
    septets = gsm7.encode(code)
    if len(septets) % 8 == 7:  # 7 spare bits would read as an @: TS 23.038 6.1.2.3.1 pads with CR
        septets.append(0x0D)
    return f'AT+CUSD=1,"{gsm7.pack(septets).hex().upper()}",{DCS_GSM7}'


def _is_hex(text: str) -> bool:
    return len(text) >= 2 and len(text) % 2 == 0 and bool(re.fullmatch(r"[0-9A-Fa-f]+", text))


def _unpacked(data: bytes) -> str:
    count = len(data) * 8 // 7
    septets = gsm7.unpack(data, count)
    if septets and count % 8 == 0 and septets[-1] == 0x0D:
        septets = septets[:-1]  # the padding CR
    return gsm7.decode(septets)


def _readable(text: str) -> bool:
    letters = sum(ch.isalnum() or ch in " .,:;/-()#*+%'\n\r" for ch in text)
    return bool(text) and letters >= 0.9 * len(text) and any(ch.isalpha() for ch in text)


def parse_answer(line: str) -> UssdAnswer | None:
    """The ``+CUSD`` line decoded; None when ``line`` is not one. Hex that decodes to readable text
    (packed GSM 7-bit, or UCS-2 under data coding 72 or its group) is decoded; other text is taken as
    it stands (a modem in text mode)."""
    found = _CUSD.match(line.strip())
    if found is None:
        return None
    status, raw, dcs_text = int(found[1]), found[2], found[3]
    if raw is None:
        return UssdAnswer(status, None)
    raw = raw.replace('""', '"')
    dcs = int(dcs_text) if dcs_text else None
    text = raw
    if _is_hex(raw):
        data = bytes.fromhex(raw)
        ucs2 = dcs is not None and (dcs == DCS_UCS2 or (dcs & 0xCC) == 0x48 or dcs == 0x11)
        candidates = [data.decode("utf-16-be", "replace")] if ucs2 and len(data) % 2 == 0 else []
        candidates.append(_unpacked(data))
        text = next((c for c in candidates if _readable(c)), raw)
    return UssdAnswer(status, text.strip())


_MONTHS = {"jan": 1, "feb": 2, "peb": 2, "mar": 3, "apr": 4, "mei": 5, "may": 5, "jun": 6, "jul": 7,
           "agu": 8, "agt": 8, "ags": 8, "aug": 8, "sep": 9, "okt": 10, "oct": 10, "nov": 11, "nop": 11,
           "des": 12, "dec": 12}
_DATE = (r"(?<!\d)(?:(?P<iy>\d{4})[/.\-](?P<im>\d{1,2})[/.\-](?P<id>\d{1,2})"
         r"|(?P<d>\d{1,2})[/.\-](?P<m>\d{1,2})[/.\-](?P<y>\d{4}|\d{2})(?!\d)"
         r"|(?P<td>\d{1,2})\s*(?P<tm>[A-Za-z]{3})[a-z]*\.?\s*(?P<ty>\d{4}|\d{2})(?!\d))")
_UNTIL = r"(?:aktif|berlaku|masa\s+aktif|exp\w*|valid|until|hingga|sampai|s\s*[./]?\s*d\.?|sd)"
_MONEY = r"(?:rp\.?|idr)\s*(?P<amount>\d{1,3}(?:[.,]\d{3})+|\d+)(?:[.,]\d{1,2}(?!\d))?"


def _date(found: re.Match) -> date | None:
    g = found.groupdict()
    try:
        if g["d"]:
            year = int(g["y"]) + (2000 if len(g["y"]) == 2 else 0)
            return date(year, int(g["m"]), int(g["d"]))
        if g["iy"]:
            return date(int(g["iy"]), int(g["im"]), int(g["id"]))
        month = _MONTHS.get(g["tm"][:3].lower())
        if month is None:
            return None
        year = int(g["ty"]) + (2000 if len(g["ty"]) == 2 else 0)
        return date(year, month, int(g["td"]))
    except ValueError:
        return None


def _date_after(text: str, start: int, within: int = 60) -> date | None:
    """The first date after a word of validity (aktif s/d, berlaku hingga...) in ``text[start:start+within]``."""
    window = text[start:start + within]
    found = re.search(rf"{_UNTIL}[^\d]{{0,15}}?({_DATE})", window, re.I)  # "masa aktif kartu 21 Nov 2026"
    if found is None:
        return None
    inner = re.search(_DATE, found.group(0), re.I)
    return _date(inner) if inner else None


MAX_TEXT = 1000  # characters of an answer read (the regular expressions stay linear in practice)


def _amount(text: str) -> int | None:
    """Rupiah from ``12.345``, ``12,345``, ``1.000.000,50`` or ``25,000.00`` (decimals dropped)."""
    digits = re.sub(r"[^\d.,]", "", text)
    digits = re.sub(r"[.,]\d{1,2}$", "", digits)  # cents
    digits = re.sub(r"[.,]", "", digits)
    return int(digits) if digits and len(digits) <= 15 else None


def _bonus_before(text: str, at: int) -> bool:
    return bool(re.search(r"bonus\W*$", text[max(0, at - 8):at], re.I))


def _bonus_near(text: str, found: re.Match) -> bool:
    """An amount that is a bonus's: "bonus Rp0" before it, "Rp 20.000 bonus" after it."""
    return bool(re.search(r"bonus\W*$", text[max(0, found.start() - 10):found.start()], re.I)
                or re.match(r"\s*bonus", text[found.end():], re.I))


def read_credit(text: str, pattern: str | None = None) -> Credit:
    """The credit an operator's answer tells. ``pattern``: a regular expression with the named groups
    ``balance`` and optionally ``until`` (a date as the operator writes it), for a shape this does not
    know; what it does not find is read the usual way."""
    text = text[:MAX_TEXT]  # an operator's answer is a few hundred characters; a flood is not read whole
    balance = until = sms_left = sms_until = None
    if pattern:
        custom = re.search(pattern, text, re.I | re.S)
        if custom:
            groups = custom.groupdict()
            if groups.get("balance"):
                balance = _amount(groups["balance"])
            if groups.get("until"):
                inner = re.search(_DATE, groups["until"], re.I)
                until = _date(inner) if inner else None
    # the main balance, not a bonus's: "Sisa bonus Rp0, pulsa Rp 50.000"
    money = next((m for m in re.finditer(rf"(?<!bonus )(?:pulsa|saldo|balance|sisa)\b(?! bonus)[^0-9]{{0,25}}?{_MONEY}",
                                         text, re.I) if not _bonus_before(text, m.start())
                  and not re.match(r"\s*bonus", text[m.end():], re.I)), None) or \
        next((m for m in re.finditer(_MONEY, text, re.I) if not _bonus_near(text, m)), None)
    if balance is None and money:
        balance = _amount(money["amount"])
        if re.search(r"-\s*(?:rp\.?|idr)\s*$", text[max(0, money.start("amount") - 6):money.start("amount")], re.I):
            balance = 0  # a debt: no credit to send with
    if balance is None:
        bare = re.search(r"(?:pulsa|saldo)(?:\s+(?:anda|utama))?\s*:?\s*(\d{1,3}(?:[.,]\d{3})+|\d{1,9})(?![\d/.-])",
                         text, re.I)
        if bare:
            balance = _amount(bare[1])
        elif re.search(r"pulsa(?:\s+anda)?\s+(?:sudah\s+)?habis", text, re.I):
            balance = 0  # "Pulsa Anda habis"
    if until is None:
        after = money.end() if money else 0
        until = _date_after(text, after) or _date_after(text, 0, len(text))
    sms = re.search(r"(?<![\d*#])(?P<n>\d{1,5}) ?sms\b(?! gratis)", text, re.I) or \
        re.search(r"\bsisa sms\b\D{0,15}(?<![*#])(?P<n>\d{1,5})\b(?!\s*[/.\-#]\d)", text, re.I)
    if sms:
        sms_left = int(sms["n"])
        sms_until = _date_after(text, sms.end())  # the package's own date, said after it
    return Credit(balance, until, sms_left, sms_until)
