"""PDUs as plain dicts for operators (``smsd-crm pdu decode``): every field, JSON-ready."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import gsm7
from .compose import count_parts, encode_submit
from .pdu import Address, Deliver, Pdu, StatusReport, dcs_alphabet

_TON = {0: "unknown", 1: "international", 2: "national", 3: "network-specific", 4: "subscriber",
        5: "alphanumeric", 6: "abbreviated", 7: "reserved"}


def _address(a: Address) -> dict[str, Any]:
    return {"number": a.number, "toa": f"{a.toa:02X}", "type": _TON[(a.toa >> 4) & 0x07]}


def _time(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _dcs(dcs: int) -> dict[str, Any]:
    alphabet, cls, compressed = dcs_alphabet(dcs)
    return {"value": f"{dcs:02X}", "alphabet": alphabet, "class": cls, "compressed": compressed}


def describe(decoded: Pdu) -> dict[str, Any]:
    """Every field of a decoded PDU."""
    if isinstance(decoded, StatusReport):
        return {"type": "SMS-STATUS-REPORT", "smsc": decoded.smsc, "message_reference": decoded.reference,
                "recipient": _address(decoded.recipient), "scts": _time(decoded.scts),
                "discharge_time": _time(decoded.discharge_time), "status": f"{decoded.status:02X}",
                "delivered": decoded.delivered, "final": decoded.is_final}
    out: dict[str, Any] = {"smsc": decoded.smsc}
    if isinstance(decoded, Deliver):
        out.update(type="SMS-DELIVER", sender=_address(decoded.sender), scts=_time(decoded.scts),
                   pid=f"{decoded.pid:02X}")
    else:
        out.update(type="SMS-SUBMIT", destination=_address(decoded.destination),
                   message_reference=decoded.reference,
                   status_report_request=decoded.status_report_request)
    c = decoded.concat
    out.update(dcs=_dcs(decoded.dcs), text=decoded.text, length=len(decoded.text),
               concat=None if c is None else {"reference": c.reference, "reference_bits": c.ref_bits,
                                              "part": c.sequence, "parts": c.total})
    if decoded.encoding == "8bit":
        out["data"] = decoded.data.hex().upper()
    return out


def encode_for_operator(number: str, text: str, status_report: bool) -> dict[str, Any]:
    """The SMS-SUBMIT PDUs for ``text`` with their ``AT+CMGS`` lengths and why they cost what they cost."""
    parts = encode_submit(number, text, status_report=status_report, concat_reference=1)
    return {"encoding": "gsm7" if gsm7.is_gsm7(text) else "ucs2",
            "forces_ucs2": gsm7.first_non_gsm7(text), "parts": count_parts(text),
            "pdus": [{"command": f"AT+CMGS={p.tpdu_length}", "pdu": p.hex} for p in parts]}
