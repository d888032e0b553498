"""Pure AT helpers: classify lines, parse responses, map error codes.

Nothing here does I/O, so every quirk in docs/modem-quirks can be tested with
plain strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Lines a modem may send at any time, even inside another command's response.
URC_PREFIXES = (
    "+CMTI:", "+CMT:", "+CDSI:", "+CDS:", "+CREG:", "+CGREG:", "+CEREG:", "+CBM:", "+CUSD:",
    "^RSSI:", "^BOOT:", "^MODE:", "^DSFLOWRPT:", "^SMMEMFULL", "^SRVST:", "^SIMST:", "+ZDONR:",
    "+ZPASR:", "+ZUSIMR:", "RING", "SMS Ready", "Call Ready", "+CPIN:", "+CFUN:", "+PBREADY",
    "+QIND:", "+CIEV:",
)
# URCs whose second line is a PDU.
TWO_LINE_URCS = ("+CMT:", "+CDS:", "+CBM:")

_FINAL_OK = ("OK",)
_FINAL_ERROR = ("ERROR", "COMMAND NOT SUPPORT", "NO CARRIER", "TOO MANY PARAMETERS")

# TS 27.005 3.2.5 / TS 27.007 9.2: codes worth retrying. Everything else is permanent.
TRANSIENT_CMS = {300, 314, 331, 332, 500, 512, 513, 514, 515, 516, 517, 518, 519, 520}
TRANSIENT_CMS |= {38, 41, 42, 47}  # network out of order, temporary failure, congestion
TRANSIENT_CMS |= {192, 194, 212}  # TP-FCS: SC busy, SC system failure, SIM toolkit busy
TRANSIENT_CME = {3, 4, 14, 30, 31, 100, 515}
# Codes that condemn one message, not the modem that sent it: the number or the PDU is wrong
# (TS 24.011 E.2 RP-causes, TS 23.040 9.2.3.22 TP-FCS 0x80-0x9F protocol-id/data-coding errors,
# 0xC3 invalid SME address, 0xC4 destination barred; TS 27.005 3.2.5 304/305 invalid parameter).
MESSAGE_CMS = {1, 21, 28, 96, 97, 98, 99, 195, 196, 304, 305} | set(range(128, 160))

_VERBOSE_CME = {
    "sim busy": 14, "sim not inserted": 10, "sim pin required": 11, "sim puk required": 12,
    "sim failure": 13, "no network service": 30, "network timeout": 31, "unknown": 100,
    "operation not allowed": 3, "operation not supported": 4, "memory full": 20,
    "invalid index": 21, "not found": 22,
}


@dataclass(frozen=True, slots=True)
class Final:
    """A final result code. ``ok`` False means an error of ``kind`` CME/CMS/'' with ``code``."""

    ok: bool
    kind: str = ""
    code: int | None = None
    text: str = ""

    @property
    def transient(self) -> bool:
        """Whether retrying the same command may succeed."""
        if self.ok:
            return False
        if self.kind == "CMS":
            return self.code in TRANSIENT_CMS
        if self.kind == "CME":
            return self.code in TRANSIENT_CME
        return True  # a bare ERROR says nothing: retry a few times before giving up


_ERR_RE = re.compile(r"^\+(CME|CMS) ERROR:\s*(.*)$", re.IGNORECASE)


def parse_final(line: str) -> Final | None:
    """The final result a line carries, or None if it is not a final result."""
    s = line.strip()
    if s in _FINAL_OK:
        return Final(True)
    if s in _FINAL_ERROR:
        return Final(False, "", None, s)
    m = _ERR_RE.match(s)
    if not m:
        return None
    kind, detail = m.group(1).upper(), m.group(2).strip()
    if detail.isdigit():
        return Final(False, kind, int(detail), s)
    return Final(False, kind, _VERBOSE_CME.get(detail.lower()), s)


_SECRET_RE = re.compile(r'^(AT\+CPIN=|AT\+CPWD=|AT\+CLCK=)(.*)$', re.IGNORECASE)


def redact(command: str) -> str:
    """The command as it may be logged: PINs and passwords replaced by ``***``."""
    m = _SECRET_RE.match(command)
    return f"{m.group(1)}***" if m else command


_PDU_RE = re.compile(r"[0-9A-Fa-f]{16,}")


def shown(line: str | bytes) -> str:
    """Modem output as it may be logged below TRACE: an SMS's PDU (which holds its text, perhaps the
    owner's PIN) becomes ``<PDU: n hex digits>``."""
    text = line.decode("latin-1") if isinstance(line, bytes) else line
    return _PDU_RE.sub(lambda m: f"<PDU: {len(m.group())} hex digits>", text)


def is_urc(line: str) -> bool:
    """True when the line is an unsolicited result code."""
    return line.startswith(URC_PREFIXES)


def response_prefix(command: str) -> str | None:
    """The information-response prefix a command's answer lines carry (``AT+CREG?`` -> ``+CREG:``)."""
    m = re.match(r"^AT([+^][A-Z0-9]+)", command.upper())
    return m.group(1) + ":" if m else None


def _ints(text: str) -> list[int | None]:
    out: list[int | None] = []
    for field in text.split(","):
        f = field.strip().strip('"')
        out.append(int(f) if f.isdigit() else None)
    return out


@dataclass(frozen=True, slots=True)
class StoredPdu:
    """One entry of a ``+CMGL`` listing or a ``+CMGR`` read."""

    index: int | None
    stat: int | None
    pdu: str


def _is_hex(line: str) -> bool:
    return bool(line) and all(c in "0123456789abcdefABCDEF" for c in line)


def parse_cmgl(lines: list[str]) -> list[StoredPdu]:
    """Entries of an ``AT+CMGL=4`` answer. Junk lines are skipped; header variants accepted."""
    out = []
    header: list[int | None] | None = None
    for line in lines:
        if line.startswith("+CMGL:"):
            header = _ints(line[6:])
            continue
        if header is not None and _is_hex(line.strip()):
            index = header[0] if header else None
            stat = header[1] if len(header) > 1 else None
            out.append(StoredPdu(index, stat, line.strip()))
        header = None
    return out


def parse_cmgr(lines: list[str], index: int) -> StoredPdu | None:
    """The PDU of an ``AT+CMGR=<index>`` answer (``+CMGR: 0,,29``, ``+CMGR: ,,27``, ...)."""
    for i, line in enumerate(lines):
        if line.startswith("+CMGR:") and i + 1 < len(lines) and _is_hex(lines[i + 1].strip()):
            header = _ints(line[6:])
            return StoredPdu(index, header[0] if header else None, lines[i + 1].strip())
    return None


_CMTI_RE = re.compile(r'^\+(?:CMTI|CDSI):\s*"?([A-Z]{2})"?\s*,\s*(\d+)', re.IGNORECASE)


def parse_storage_notice(line: str) -> tuple[str, int] | None:
    """(memory, index) of ``+CMTI: "SM",3`` or ``+CDSI: "SR",8``."""
    m = _CMTI_RE.match(line.strip())
    return (m.group(1).upper(), int(m.group(2))) if m else None


@dataclass(frozen=True, slots=True)
class CnmiSupport:
    """The values a modem lists for each ``AT+CNMI`` parameter; None where it listed nothing."""

    mode: frozenset[int] | None = None
    mt: frozenset[int] | None = None
    bm: frozenset[int] | None = None
    ds: frozenset[int] | None = None
    bfr: frozenset[int] | None = None


_PAREN_RE = re.compile(r"\(([^()]*)\)")


def _value_list(text: str) -> frozenset[int] | None:
    """``0-3`` / ``0,2`` / ``0-1,3`` / `` 0 , 2 `` to a set; None for an empty or unreadable list."""
    values: set[int] = set()
    for item in text.split(","):
        low, _, high = item.strip().strip('"').partition("-")
        low, high = low.strip(), high.strip()
        if low.isdigit() and (not high or high.isdigit()):
            values.update(range(int(low), int(high or low) + 1))
    return frozenset(values) or None


def parse_cnmi_support(lines: list[str]) -> CnmiSupport | None:
    """What ``AT+CNMI=?`` allows (TS 27.005 §3.4.1), or None when the answer says nothing.

    The answer is ``+CNMI: (<mode>s),(<mt>s),(<bm>s),(<ds>s),(<bfr>s)``, each a list of
    values and ranges: ``+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)``, ``+CNMI:(2),(0-1,3),(0,2),(0-1),(0)``.
    Spaces anywhere, fewer lists (``+CNMI: (2)``) and empty ones (``()``) occur; a parameter
    not listed is None, which means "unknown", not "unsupported".
    """
    value = info_value(lines, "+CNMI:")
    if value is None:
        return None
    lists = [_value_list(group) for group in _PAREN_RE.findall(value)]
    if not any(lists):
        return None
    return CnmiSupport(*(lists + [None] * 5)[:5])


def _pick(supported: frozenset[int] | None, preferred: tuple[int, ...]) -> list[int]:
    """The preferred values the modem allows, in order; else its lowest value (unknown: all preferred)."""
    if supported is None:
        return list(preferred)
    return [v for v in preferred if v in supported] or [min(supported)]


# Tried when AT+CNMI=? tells nothing: today's settings, then mode 1 and the short form, which
# leaves <bm>, <ds> and <bfr> at values the modem chose itself.
CNMI_BLIND = ((2, 1, 0, 0, 0), (1, 1, 0, 0, 0), (2, 1, 0, 0, 1), (2, 1), (1, 1))


def cnmi_settings(support: CnmiSupport | None, reports: bool) -> list[tuple[int, ...]]:
    """``AT+CNMI`` values to try in order, best first (TS 27.005 §3.4.1).

    Preferred: <mode> 2 (buffer while the link is busy, then flush), 1 or 3; <mt> 1 (store and
    announce with +CMTI) or 3 (the same except class 3); never 2 unless nothing else is allowed,
    because +CMT hands a message over without storing it; <bm> 0 (no cell broadcasts); <ds> 1
    (+CDS) then 2 (+CDSI) when delivery reports are wanted, else 0; <bfr> 0. A parameter the
    modem does not allow any preferred value for gets its lowest allowed value. The blind list
    follows as a fallback for modems whose answer is wrong.
    """
    blind = ([(2, 1, 0, 1, 0), (2, 1, 0, 2, 0)] if reports else []) + list(CNMI_BLIND)
    if support is None:
        return blind
    mode = _pick(support.mode, (2, 1, 3))[0]
    mt = _pick(support.mt, (1, 3, 0))[0]
    bm = _pick(support.bm, (0,))[0]
    bfr = _pick(support.bfr, (0,))[0]
    ds_order = _pick(support.ds, (1, 2, 0) if reports else (0,))
    if reports and 0 not in ds_order and (support.ds is None or 0 in support.ds):
        ds_order.append(0)  # no reports rather than no new-message indications
    chosen = [(mode, mt, bm, ds, bfr) for ds in ds_order]
    return chosen + [v for v in blind if v not in chosen]


def cnmi_announces(values: tuple[int, ...]) -> bool:
    """Whether new messages are indicated (+CMTI, or +CMT) with these ``AT+CNMI`` values.

    <mode> 0 keeps every indication buffered in the modem; <mt> 0 sends none.
    """
    return len(values) >= 2 and values[0] != 0 and values[1] != 0


def parse_cmgs(lines: list[str], prefix: str = "+CMGS:") -> int | None:
    """The message reference from ``+CMGS: <mr>`` (or ``+CMSS: <mr>`` with that ``prefix``)."""
    for line in lines:
        if line.startswith(prefix):
            values = _ints(line[len(prefix):])
            return values[0] if values else None
    return None


def parse_cmgw(lines: list[str]) -> int | None:
    """The storage index from ``+CMGW: <index>`` (TS 27.005 3.5.3)."""
    return parse_cmgs(lines, "+CMGW:")


def blames_message(kind: str, code: int | None) -> bool:
    """True when an error answer to a send condemns that message only (never the modem)."""
    return kind == "CMS" and code in MESSAGE_CMS


def same_submit(stored_hex: str, ours_hex: str) -> bool:
    """Whether a PDU read back from storage is the SMS-SUBMIT we wrote there.

    Compared from the TPDU's first octet, leaving out the SMSC octets (a modem may fill in
    the SIM's service centre) and TP-MR (set when it is sent), TS 23.040 9.2.2.2.
    """
    def tpdu(hex_pdu: str) -> str | None:
        try:
            smsc_octets = int(hex_pdu[:2], 16)
        except ValueError:
            return None
        body = hex_pdu[2 + 2 * smsc_octets:].upper()
        return body[:2] + body[4:] if len(body) >= 4 else None

    a, b = tpdu(stored_hex.strip()), tpdu(ours_hex.strip())
    return a is not None and a == b


def parse_cpin(lines: list[str]) -> str | None:
    """``READY``, ``SIM PIN``, ... from ``+CPIN: <code>``."""
    for line in lines:
        if line.startswith("+CPIN:"):
            return line[6:].strip()
    return None


def info_value(lines: list[str], prefix: str) -> str | None:
    """The text after ``prefix`` on the first line that has it, or None."""
    for line in lines:
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    return None


REGISTERED = {1, 5}  # home network, roaming


def parse_creg(line: str, unsolicited: bool) -> int | None:
    """The registration state of ``+CREG: n,stat[,lac,ci]`` (a reply) or ``+CREG: stat[,lac,ci]`` (a URC).

    LAC and CI come quoted, unquoted, empty or with broken quotes; only the state is read.
    """
    if not line.startswith("+CREG:"):
        return None
    values = [v.strip().strip('"\'') for v in line[6:].split(",")]
    index = 0 if unsolicited else (1 if len(values) > 1 else 0)
    return int(values[index]) if len(values) > index and values[index].isdigit() else None


def parse_csq(lines: list[str]) -> int | None:
    """RSSI 0-31 from ``+CSQ: <rssi>,<ber>``; None for 99 (unknown) or junk."""
    value = info_value(lines, "+CSQ:")
    if not value:
        return None
    first = value.split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) != 99 else None


def parse_cops(lines: list[str]) -> str:
    """The operator name from ``+COPS: 0,0,"TELKOMSEL"[,7]``."""
    value = info_value(lines, "+COPS:") or ""
    parts = value.split(",")
    return parts[2].strip().strip('"') if len(parts) > 2 else ""


def parse_cpms(lines: list[str]) -> tuple[int, int] | None:
    """(used, total) of the first memory in ``+CPMS: "SM",3,30,...`` or ``+CPMS: 3,30,...``."""
    value = info_value(lines, "+CPMS:")
    if not value:
        return None
    numbers = [int(v) for v in (x.strip().strip('"') for x in value.split(",")) if v.isdigit()]
    return (numbers[0], numbers[1]) if len(numbers) >= 2 else None


def parse_iccid(lines: list[str]) -> str:
    """The SIM serial from ``+CCID: 8962…``, ``^ICCID: …``, ``+ICCID: …`` or a bare line."""
    for line in lines:
        value = line.split(":", 1)[1] if ":" in line else line
        digits = value.strip().strip('"')
        if len(digits) >= 18 and digits[:18].isdigit():
            return digits
    return ""
