"""Real captured PDUs: what our decoder reads, and agreement with the independent oracle."""

from __future__ import annotations

import gammu
import pytest

from smsd_crm.sms import pdu

from .pdu_corpus import CORPUS

ids = [c["name"] for c in CORPUS]


@pytest.mark.parametrize("case", CORPUS, ids=ids)
def test_decoder_reads_real_captures(case):
    d = pdu.decode(case["pdu"])
    kind = {pdu.Deliver: "SMS-DELIVER", pdu.Submit: "SMS-SUBMIT", pdu.StatusReport: "SMS-STATUS-REPORT"}
    assert kind[type(d)] == case["type"]
    number = {pdu.Deliver: lambda: d.sender, pdu.Submit: lambda: d.destination,
              pdu.StatusReport: lambda: d.recipient}[type(d)]().number
    assert number == case["number"]
    if "text" in case:
        assert d.text == case["text"]
    if "year" in case:
        assert d.scts.year == case["year"]
    if "encoding" in case:
        assert d.encoding == case["encoding"]
    if "status" in case:
        assert (d.reference, d.status) == (case["reference"], case["status"])


@pytest.mark.parametrize("case", CORPUS, ids=ids)
def test_oracle_agrees_except_where_it_is_known_wrong(case):
    ours = pdu.decode(case["pdu"])
    theirs = gammu.DecodePDU(bytes.fromhex(case["pdu"]))
    wrong = case.get("oracle_wrong", {})
    if isinstance(ours, pdu.StatusReport):
        assert theirs["MessageReference"] == ours.reference
        return
    address = ours.sender if isinstance(ours, pdu.Deliver) else ours.destination
    assert theirs["Number"] == address.number
    if "text" not in wrong and ours.encoding != "8bit":
        assert theirs["Text"].split("\x00")[0] == ours.text
    if "year" not in wrong and isinstance(ours, pdu.Deliver):
        assert theirs["DateTime"] == ours.scts
    assert wrong.keys() <= {"text", "year"}
