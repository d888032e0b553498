"""The GSM 03.38 / TS 23.038 default 7-bit alphabet: characters, septets, packing.

Pure functions. The extension table is reached through ESC (0x1B) and costs two
septets per character, which is why lengths are counted in septets, never in
characters.
"""

from __future__ import annotations

ESC = 0x1B

# Index = septet value. 0x1B is the escape to the extension table.
DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(DEFAULT_ALPHABET) == 128

EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~",
             0x3E: "]", 0x40: "|", 0x65: "€"}

_CHAR_TO_SEPTETS: dict[str, tuple[int, ...]] = {
    ch: (i,) for i, ch in enumerate(DEFAULT_ALPHABET) if i != ESC
}
_CHAR_TO_SEPTETS.update({ch: (ESC, code) for code, ch in EXTENSION.items()})


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` exists in the GSM-7 alphabet or its extension."""
    return all(ch in _CHAR_TO_SEPTETS for ch in text)


def first_non_gsm7(text: str) -> str | None:
    """The first character that forces UCS-2, or ``None``."""
    return next((ch for ch in text if ch not in _CHAR_TO_SEPTETS), None)


def char_septets(ch: str) -> tuple[int, ...]:
    """The septets of one character (two for extension characters). KeyError if not GSM-7."""
    return _CHAR_TO_SEPTETS[ch]


def encode(text: str) -> list[int]:
    """Text to septet values. Raises ``KeyError`` on a character outside GSM-7."""
    out: list[int] = []
    for ch in text:
        out.extend(_CHAR_TO_SEPTETS[ch])
    return out


def decode(septets: list[int]) -> str:
    """Septet values to text. An unknown escape shows the default character (TS 23.038 6.2.1.1)."""
    out: list[str] = []
    escaped = False
    for s in septets:
        if escaped:
            out.append(EXTENSION.get(s, DEFAULT_ALPHABET[s] if s != ESC else " "))
            escaped = False
        elif s == ESC:
            escaped = True
        else:
            out.append(DEFAULT_ALPHABET[s & 0x7F])
    if escaped:  # a lone ESC at the end: the spec says show a space
        out.append(" ")
    return "".join(out)


def pack(septets: list[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB first into octets, after ``fill_bits`` zero bits (UDH alignment)."""
    acc = 0
    nbits = fill_bits
    out = bytearray()
    for s in septets:
        acc |= (s & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """Unpack ``count`` septets from ``data``, skipping ``fill_bits`` leading bits.

    Stops early (fewer septets) when ``data`` is shorter than ``count`` needs.
    """
    out: list[int] = []
    bitpos = fill_bits
    total_bits = len(data) * 8
    while len(out) < count and bitpos + 7 <= total_bits:
        byte, shift = divmod(bitpos, 8)
        value = data[byte] >> shift
        if shift > 1:
            value |= data[byte + 1] << (8 - shift)
        out.append(value & 0x7F)
        bitpos += 7
    return out
