"""Split a text into SMS parts and encode them as SMS-SUBMIT or SMS-DELIVER PDUs.

Pure functions. GSM-7 when every character allows it, else UCS-2 (UTF-16BE, so
emoji are surrogate pairs). One part holds 160 septets / 70 UTF-16 units;
concatenated parts hold 153 / 67 and never cut an escape pair or a surrogate pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..errors import PduError
from . import gsm7
from .pdu import GSM7, UCS2, Concat, EncodedPdu, address_octets, alnum_address_octets, encode_scts, smsc_octets

SINGLE_GSM7, PART_GSM7 = 160, 153  # 153 with an 8-bit reference (6-octet header)
SINGLE_UCS2, PART_UCS2 = 70, 67  # UTF-16 code units; 67 with an 8-bit reference
MAX_PARTS = 255
USER_DATA_OCTETS = 140


def part_limits(ref_bits: int) -> tuple[int, int]:
    """(GSM-7 septets, UTF-16 units) per concatenated part: 153/67 (8-bit ref), 152/66 (16-bit)."""
    room = USER_DATA_OCTETS - (6 if ref_bits == 8 else 7)
    return room * 8 // 7, room // 2


@dataclass(frozen=True, slots=True)
class Segment:
    """One part's user data before the header: GSM-7 septets or UTF-16BE octets."""

    encoding: str
    payload: bytes | list[int]
    text: str


def _split_units(text: str, cost, limit: int) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        c = cost(ch)
        if used + c > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += c
    if current or not parts:
        parts.append("".join(current))
    return parts


def _ucs2_units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def segment(text: str, ref_bits: int = 8) -> list[Segment]:
    """Split ``text`` into SMS parts (a single part when it fits)."""
    part_gsm7, part_ucs2 = part_limits(ref_bits)
    if gsm7.is_gsm7(text):
        cost = lambda ch: len(gsm7.char_septets(ch))  # noqa: E731
        total = sum(cost(ch) for ch in text)
        chunks = [text] if total <= SINGLE_GSM7 else _split_units(text, cost, part_gsm7)
        segs = [Segment(GSM7, gsm7.encode(c), c) for c in chunks]
    else:
        total = sum(_ucs2_units(ch) for ch in text)
        chunks = [text] if total <= SINGLE_UCS2 else _split_units(text, _ucs2_units, part_ucs2)
        segs = [Segment(UCS2, c.encode("utf-16-be"), c) for c in chunks]
    if len(segs) > MAX_PARTS:
        raise PduError(f"text needs {len(segs)} parts; at most {MAX_PARTS} are possible")
    return segs


def count_parts(text: str, ref_bits: int = 8) -> int:
    """How many SMS ``text`` costs."""
    return len(segment(text, ref_bits))


def _user_data(seg: Segment, concat: Concat | None) -> tuple[int, bytes]:
    """(UDL, UD octets) for one segment with an optional concatenation header."""
    header = b""
    if concat is not None:
        if concat.ref_bits == 16:
            ie = bytes([0x08, 4, concat.reference >> 8, concat.reference & 0xFF,
                        concat.total, concat.sequence])
        else:
            ie = bytes([0x00, 3, concat.reference & 0xFF, concat.total, concat.sequence])
        header = bytes([len(ie)]) + ie
    if seg.encoding == GSM7:
        septets = list(seg.payload)
        header_bits = len(header) * 8
        fill = (7 - header_bits % 7) % 7
        body = gsm7.pack(septets, fill)
        return (header_bits + fill) // 7 + len(septets), header + body
    body = bytes(seg.payload)
    return len(header) + len(body), header + body


def _concats(count: int, reference: int, ref_bits: int) -> list[Concat | None]:
    if count == 1:
        return [None]
    return [Concat(reference, count, i + 1, ref_bits) for i in range(count)]


def encode_submit(
    number: str,
    text: str,
    *,
    message_reference: int = 0,
    concat_reference: int = 0,
    ref_bits: int = 8,
    status_report: bool = False,
    smsc: str | None = None,
) -> list[EncodedPdu]:
    """SMS-SUBMIT PDUs for ``text`` to ``number`` (``+62…`` is sent as international).

    The SMSC field is ``00`` (use the SIM's) unless ``smsc`` is given; TP-SRR is
    set only when ``status_report`` is asked for, since reports can be charged.
    """
    segs = segment(text, ref_bits)
    out = []
    for seg, concat in zip(segs, _concats(len(segs), concat_reference, ref_bits)):
        udl, ud = _user_data(seg, concat)
        first = 0x01 | (0x20 if status_report else 0) | (0x40 if concat else 0)
        dcs = 0x08 if seg.encoding == UCS2 else 0x00
        tpdu = bytes([first, message_reference & 0xFF]) + address_octets(number) + bytes(
            [0x00, dcs, udl]) + ud
        out.append(EncodedPdu((smsc_octets(smsc) + tpdu).hex().upper(), len(tpdu), concat))
    return out


def encode_deliver(
    sender: str,
    text: str,
    scts: datetime,
    *,
    concat_reference: int = 0,
    ref_bits: int = 8,
    smsc: str | None = "+62816124",
    dcs: int | None = None,
) -> list[EncodedPdu]:
    """SMS-DELIVER PDUs as a network would hand them to a phone (used by the emulator).

    ``sender`` is a number (``+62…``, ``08…``) or an alphanumeric name.
    """
    return encode_deliver_segments(sender, segment(text, ref_bits), scts, concat_reference=concat_reference,
                                   ref_bits=ref_bits, smsc=smsc, dcs=dcs)


def encode_deliver_segments(
    sender: str,
    segs: list[Segment],
    scts: datetime,
    *,
    concat_reference: int = 0,
    ref_bits: int = 8,
    smsc: str | None = "+62816124",
    dcs: int | None = None,
) -> list[EncodedPdu]:
    """SMS-DELIVER PDUs for parts cut already, e.g. the way a sender cuts them that splits a
    surrogate pair or an escape between two parts (``segment`` never does)."""
    digits = sender.lstrip("+")
    is_number = bool(digits) and all(c in "0123456789" for c in digits)
    oa = address_octets(sender) if is_number else alnum_address_octets(sender)
    out = []
    for seg, concat in zip(segs, _concats(len(segs), concat_reference, ref_bits)):
        udl, ud = _user_data(seg, concat)
        first = 0x04 | (0x40 if concat else 0)  # TP-MMS: no more messages waiting
        coding = dcs if dcs is not None else (0x08 if seg.encoding == UCS2 else 0x00)
        tpdu = bytes([first]) + oa + bytes([0x00, coding]) + encode_scts(scts) + bytes([udl]) + ud
        out.append(EncodedPdu((smsc_octets(smsc) + tpdu).hex().upper(), len(tpdu), concat))
    return out


def encode_status_report(reference: int, recipient: str, scts: datetime, discharge: datetime,
                         status: int, smsc: str | None = "+62816124") -> str:
    """An SMS-STATUS-REPORT PDU as a network sends it back (used by the emulator)."""
    tpdu = bytes([0x06, reference & 0xFF]) + address_octets(recipient) + encode_scts(scts) + \
        encode_scts(discharge) + bytes([status & 0xFF])
    return (smsc_octets(smsc) + tpdu).hex().upper()
