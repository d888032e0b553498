"""SMS TPDU codec (TS 23.040 / 23.038): SMS-DELIVER, SMS-SUBMIT, SMS-STATUS-REPORT.

Pure functions over hex strings and frozen values; no I/O. ``decode`` never
trusts a length it has not checked: anything malformed raises :class:`PduError`
with the reason, and the caller logs the raw hex and moves on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..errors import PduError
from . import gsm7

TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
TOA_ALPHANUMERIC = 0xD0

GSM7, EIGHT_BIT, UCS2 = "gsm7", "8bit", "ucs2"

_BCD_DIGITS = "0123456789*#abc"


@dataclass(frozen=True, slots=True)
class Address:
    """A TP address: ``number`` has a leading ``+`` when the type is international."""

    number: str
    toa: int

    @property
    def is_alphanumeric(self) -> bool:
        """True for sender names like ``TELKOMSEL`` (type of number 101)."""
        return (self.toa & 0x70) == 0x50

    @property
    def type_of_number(self) -> int:
        """Bits 6-4 of the type of address (TS 23.040 9.1.2.5): 0 unknown, 1 international, 2 national,
        3 network specific, 4 subscriber, 5 alphanumeric, 6 abbreviated, 7 reserved."""
        return (self.toa >> 4) & 0x07


@dataclass(frozen=True, slots=True)
class Concat:
    """Concatenation info from the UDH (IEI 0x00 with 8-bit or 0x08 with 16-bit reference)."""

    reference: int
    total: int
    sequence: int
    ref_bits: int = 8


@dataclass(frozen=True, slots=True)
class Deliver:
    """A decoded SMS-DELIVER (network to phone)."""

    sender: Address
    text: str
    encoding: str
    scts: datetime | None
    dcs: int
    pid: int = 0
    smsc: str | None = None
    concat: Concat | None = None
    message_class: int | None = None
    data: bytes = b""  # the user data octets of 8-bit and UCS-2 parts (UCS-2: UTF-16BE code units)
    septets: tuple[int, ...] = ()  # the GSM-7 septets: long messages are joined on these, not on text


@dataclass(frozen=True, slots=True)
class Submit:
    """A decoded SMS-SUBMIT (phone to network)."""

    destination: Address
    text: str
    encoding: str
    reference: int
    dcs: int
    status_report_request: bool = False
    smsc: str | None = None
    concat: Concat | None = None
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A decoded SMS-STATUS-REPORT: ``status`` is TP-ST (0x00 delivered)."""

    reference: int
    recipient: Address
    scts: datetime | None
    discharge_time: datetime | None
    status: int
    smsc: str | None = None

    @property
    def is_final(self) -> bool:
        """0x20-0x3F mean the SC is still trying; everything else is final."""
        return not 0x20 <= self.status <= 0x3F

    @property
    def delivered(self) -> bool:
        """True when the short message reached the recipient (0x00-0x1F)."""
        return self.status < 0x20


Pdu = Deliver | Submit | StatusReport


@dataclass(frozen=True, slots=True)
class EncodedPdu:
    """One PDU ready for ``AT+CMGS=<tpdu_length>``."""

    hex: str
    tpdu_length: int
    concat: Concat | None = field(default=None)


class _Reader:
    """A cursor over octets that raises PduError instead of IndexError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise PduError(f"PDU ends inside {what} (needs {n} octets at {self.pos}, has {len(self.data)})")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def octet(self, what: str) -> int:
        return self.take(1, what)[0]

    def rest(self) -> bytes:
        chunk = self.data[self.pos:]
        self.pos = len(self.data)
        return chunk


# ---------------------------------------------------------------- addresses

def _decode_bcd(data: bytes, digits: int | None = None) -> str:
    out = []
    for octet in data:
        for nibble in (octet & 0x0F, octet >> 4):
            if nibble == 0x0F:
                continue
            out.append(_BCD_DIGITS[nibble] if nibble < len(_BCD_DIGITS) else "?")
    return "".join(out if digits is None else out[:digits])


def _encode_bcd(digits: str) -> bytes:
    nibbles = [_BCD_DIGITS.index(d) for d in digits]
    if len(nibbles) % 2:
        nibbles.append(0x0F)
    return bytes(nibbles[i] | (nibbles[i + 1] << 4) for i in range(0, len(nibbles), 2))


def _read_address(r: _Reader) -> Address:
    length = r.octet("address length")  # in semi-octets (digits)
    toa = r.octet("address type")
    raw = r.take((length + 1) // 2, "address")
    if (toa & 0x70) == 0x50:
        name = gsm7.decode(gsm7.unpack(raw, length * 4 // 7))
        return Address(name, toa)
    number = _decode_bcd(raw, length)
    if (toa & 0x70) == 0x10 and number:
        number = "+" + number
    return Address(number, toa)


def address_octets(number: str) -> bytes:
    digits = number.lstrip("+")
    if not digits or any(d not in _BCD_DIGITS for d in digits):
        raise PduError(f"not a phone number: {number!r}")
    toa = TOA_INTERNATIONAL if number.startswith("+") else TOA_UNKNOWN
    return bytes([len(digits), toa]) + _encode_bcd(digits)


def alnum_address_octets(name: str) -> bytes:
    septets = gsm7.encode(name)
    packed = gsm7.pack(septets)
    semi_octets = (len(septets) * 7 + 3) // 4
    return bytes([semi_octets, TOA_ALPHANUMERIC]) + packed


def _read_smsc(r: _Reader) -> str | None:
    length = r.octet("SMSC length")  # in octets, including the type octet
    if length == 0:
        return None
    raw = r.take(length, "SMSC")
    number = _decode_bcd(raw[1:])
    return "+" + number if (raw[0] & 0x70) == 0x10 else number


def smsc_octets(smsc: str | None) -> bytes:
    if not smsc:
        return b"\x00"
    addr = address_octets(smsc)
    return bytes([len(addr) - 1]) + addr[1:]


# ---------------------------------------------------------------- time stamps

def _swap(octet: int) -> int:
    return ((octet & 0x0F) * 10) + (octet >> 4)


def _read_scts(r: _Reader) -> datetime | None:
    raw = r.take(7, "time stamp")
    try:
        yy, mo, dd, hh, mi, ss = (_swap(o) for o in raw[:6])
        if any((o & 0x0F) > 9 or (o >> 4) > 9 for o in raw[:6]):
            return None
        swapped = ((raw[6] & 0x0F) << 4) | (raw[6] >> 4)
        # Quarter hours, sign in bit 7 after the swap. Operators have sent
        # non-BCD units here (0xC2 meant +08:00): tens*10 + units still reads right.
        quarters = ((swapped >> 4) & 0x07) * 10 + (swapped & 0x0F)
        if quarters > 4 * 18:
            quarters = 0
        offset = timedelta(minutes=15 * quarters) * (-1 if swapped & 0x80 else 1)
        year = 2000 + yy if yy < 90 else 1900 + yy
        return datetime(year, mo, dd, hh, mi, ss, tzinfo=timezone(offset))
    except ValueError:
        return None


def encode_scts(when: datetime) -> bytes:
    """A service centre time stamp (7 octets) for ``when`` (aware)."""
    offset = when.utcoffset() or timedelta(0)
    quarters = int(abs(offset.total_seconds()) // 900)
    fields = [when.year % 100, when.month, when.day, when.hour, when.minute, when.second]
    out = bytes(((v % 10) << 4) | (v // 10) for v in fields)
    tz = ((quarters % 10) << 4) | (quarters // 10) | (0x08 if offset < timedelta(0) else 0)
    return out + bytes([tz])


# ---------------------------------------------------------------- data coding

def dcs_alphabet(dcs: int) -> tuple[str, int | None, bool]:
    """(alphabet, message class or None, compressed) for a TP-DCS octet, all groups."""
    group = dcs >> 4
    if group <= 0x7:  # general data coding (0x00-0x3F) and automatic deletion (0x40-0x7F)
        alphabet = {0: GSM7, 1: EIGHT_BIT, 2: UCS2, 3: GSM7}[(dcs >> 2) & 0x03]
        cls = dcs & 0x03 if dcs & 0x10 else None
        return alphabet, cls, bool(dcs & 0x20)
    if group in (0xC, 0xD):  # message waiting, GSM-7
        return GSM7, None, False
    if group == 0xE:  # message waiting, UCS-2
        return UCS2, None, False
    if group == 0xF:  # data coding / message class; bit 3 is reserved and ignored
        return (EIGHT_BIT if dcs & 0x04 else GSM7), dcs & 0x03, False
    return GSM7, None, False  # reserved groups 0x8-0xB: treat as default alphabet


def _parse_udh(header: bytes) -> Concat | None:
    concat = None
    i = 0
    while i + 2 <= len(header):
        iei, length = header[i], header[i + 1]
        value = header[i + 2:i + 2 + length]
        if len(value) < length:
            raise PduError("user data header element runs past the header")
        if iei == 0x00 and length == 3 and value[1] > 0:
            concat = Concat(value[0], value[1], value[2], 8)
        elif iei == 0x08 and length == 4 and value[2] > 0:
            concat = Concat((value[0] << 8) | value[1], value[2], value[3], 16)
        i += 2 + length  # unknown elements (ports, EMS, language shift) are skipped
    return concat


def _guess_alphabet(dcs: int, udl: int, body: bytes, udhi: bool) -> str:
    """DCS group 1111 with the reserved bit 3 set: trust the length of the data, not the bits.

    Real phones send GSM-7 under 0xFB and UCS-2 under 0xF9 (modem-quirks F3). GSM-7
    packs UDL septets into ceil(UDL*7/8) octets; UCS-2 and 8-bit carry UDL octets.
    """
    alphabet = dcs_alphabet(dcs)[0]
    if (dcs & 0xF8) != 0xF8 or udhi:
        return alphabet
    if len(body) == (udl * 7 + 7) // 8:
        return GSM7
    if len(body) == udl and udl % 2 == 0:
        text = body.decode("utf-16-be", errors="replace")
        if "\ufffd" not in text and all(c.isprintable() or c in "\r\n" for c in text):
            return UCS2
    return alphabet


def _read_user_data(r: _Reader, udhi: bool, alphabet: str,
                    dcs: int = 0) -> tuple[str, Concat | None, bytes, str, tuple[int, ...]]:
    """(text, concatenation, raw data for 8-bit/UCS-2, the alphabet actually used, GSM-7 septets)."""
    udl = r.octet("user data length")
    body = r.rest()
    alphabet = _guess_alphabet(dcs, udl, body, udhi) if dcs else alphabet
    header = b""
    concat = None
    if udhi:
        if not body:
            raise PduError("user data header indicated but no user data")
        udhl = body[0]
        header = body[1:1 + udhl]
        if len(header) < udhl:
            raise PduError("user data header longer than the user data")
        concat = _parse_udh(header)
    header_octets = len(header) + 1 if udhi else 0
    if alphabet == GSM7:
        header_bits = header_octets * 8
        fill = (7 - header_bits % 7) % 7
        header_septets = (header_bits + fill) // 7
        count = max(udl - header_septets, 0)
        septets = gsm7.unpack(body[header_octets:], count, fill)
        # Short data (a UDL longer than the PDU) decodes what is there.
        return gsm7.decode(septets), concat, b"", alphabet, tuple(septets)
    data = body[header_octets:max(udl, header_octets)]
    if alphabet == UCS2:
        if len(data) % 2:
            data = data[:-1]  # a sender cut a code unit in half: drop the half
        return data.decode("utf-16-be", errors="replace"), concat, data, alphabet, ()
    return data.decode("latin-1"), concat, data, alphabet, ()


# ---------------------------------------------------------------- decoding

def decode(hex_pdu: str, *, with_smsc: bool = True) -> Pdu:
    """Decode a PDU as a modem lists it (``+CMGR``/``+CMGL``/``+CMT``/``+CDS``).

    MTI 00 is read as SMS-DELIVER, 01 as SMS-SUBMIT (a stored outgoing message)
    and 10 as SMS-STATUS-REPORT. Raises PduError on anything malformed.
    """
    try:
        data = bytes.fromhex(hex_pdu.strip())
    except ValueError as exc:
        raise PduError(f"not hexadecimal: {exc}") from None
    r = _Reader(data)
    smsc = _read_smsc(r) if with_smsc else None
    first = r.octet("first octet")
    mti = first & 0x03
    if mti == 0:
        return _decode_deliver(r, first, smsc)
    if mti == 1:
        return _decode_submit(r, first, smsc)
    if mti == 2:
        return _decode_status_report(r, smsc)
    raise PduError(f"reserved message type indicator in first octet {first:02X}")


def _decode_deliver(r: _Reader, first: int, smsc: str | None) -> Deliver:
    sender = _read_address(r)
    pid = r.octet("protocol identifier")
    dcs = r.octet("data coding scheme")
    scts = _read_scts(r)
    alphabet, cls, compressed = dcs_alphabet(dcs)
    if compressed:
        raise PduError(f"compressed user data (DCS {dcs:02X}) is not supported")
    text, concat, data, alphabet, septets = _read_user_data(r, bool(first & 0x40), alphabet, dcs)
    return Deliver(sender, text, alphabet, scts, dcs, pid, smsc, concat, cls, data, septets)


def _decode_submit(r: _Reader, first: int, smsc: str | None) -> Submit:
    reference = r.octet("message reference")
    destination = _read_address(r)
    r.octet("protocol identifier")
    dcs = r.octet("data coding scheme")
    vpf = (first >> 3) & 0x03
    r.take({0: 0, 1: 7, 2: 1, 3: 7}[vpf], "validity period")
    alphabet, _, compressed = dcs_alphabet(dcs)
    if compressed:
        raise PduError(f"compressed user data (DCS {dcs:02X}) is not supported")
    text, concat, data, alphabet, _ = _read_user_data(r, bool(first & 0x40), alphabet, dcs)
    return Submit(destination, text, alphabet, reference, dcs, bool(first & 0x20), smsc, concat, data)


def _decode_status_report(r: _Reader, smsc: str | None) -> StatusReport:
    reference = r.octet("message reference")
    recipient = _read_address(r)
    scts = _read_scts(r)
    discharge = _read_scts(r)
    status = r.octet("status")
    return StatusReport(reference, recipient, scts, discharge, status, smsc)
