"""The emulator's AT interpreter, bytes in and bytes out, without a pty."""

from __future__ import annotations

from smsd_crm.emulator.core import EmulatorCore
from smsd_crm.sms import pdu
from smsd_crm.sms.compose import encode_submit


def make(**kw):
    out = bytearray()
    core = EmulatorCore("e1", write=out.extend, **kw)
    return core, out


def test_echo_until_ate0():
    core, out = make()
    core.feed(b"AT\r")
    assert out.startswith(b"AT\r") and b"OK" in out
    out.clear()
    core.feed(b"ATE0\r")
    out.clear()
    core.feed(b"AT+CSQ\r")
    assert not out.startswith(b"AT+CSQ") and b"+CSQ: 20,99" in out


def test_unknown_command_is_error():
    core, out = make()
    core.feed(b"ATE0\rAT+FOO\r")
    assert out.endswith(b"\r\nERROR\r\n")


def test_deliver_announces_with_cmti_after_cnmi_and_stores_a_real_deliver_pdu():
    core, out = make()
    core.feed(b"ATE0\rAT+CNMI=2,1,0,0,0\r")
    out.clear()
    [index] = core.deliver("+6281234567890", "halo")
    assert out == f'\r\n+CMTI: "SM",{index}\r\n'.encode()
    decoded = pdu.decode(core.storage[index].pdu)
    assert isinstance(decoded, pdu.Deliver) and decoded.text == "halo"


def test_cnmi_values_come_from_a_knob_that_the_test_command_lists():
    core, out = make()
    core.feed(b"ATE0\rAT+CNMI=?\r")
    assert b"+CNMI: (0-3),(0-3),(0-3),(0-2),(0,1)\r\n" in out  # by default everything TS 27.005 allows
    core.cnmi_supported = [{1, 2}, {0, 1}, {0, 2}, {0}, {1}]
    out.clear()
    core.feed(b"AT+CNMI=?\rAT+CNMI=2,1,0,0,0\r")
    assert b"+CNMI: (1,2),(0,1),(0,2),(0),(1)" in out and out.endswith(b"+CMS ERROR: 303\r\n")
    out.clear()
    core.feed(b"AT+CNMI=2,1,0,0,1\r")
    assert out.endswith(b"OK\r\n") and (core.cnmi_mode, core.cnmi_mt) == (2, 1)


def test_cmgr_cmgl_cmgd():
    core, out = make()
    core.feed(b"ATE0\r")
    a, b = core.deliver("+62811", "satu") + core.deliver("+62812", "dua")
    out.clear()
    core.feed(f"AT+CMGR={a}\r".encode())
    assert "+CMGR: 0,,".encode() in out
    out.clear()
    core.feed(b"AT+CMGL=4\r")
    assert out.count(b"+CMGL:") == 2 and b"+CMGL: 0,1,," in out  # read by CMGR already
    core.feed(f"AT+CMGD={a}\r".encode())
    assert list(core.storage) == [b]
    out.clear()
    core.feed(f"AT+CMGR={a}\r".encode())
    assert b"+CMS ERROR: 321" in out


def test_full_sim_keeps_messages_at_the_network_until_a_slot_frees():
    core, _ = make(capacity=2)
    core.feed(b"ATE0\r")
    assert core.deliver("+62811", "1")[0] == 0
    assert core.deliver("+62811", "2")[0] == 1
    assert core.deliver("+62811", "3") == [None]
    core.feed(b"AT+CMGD=0\r")
    assert pdu.decode(core.storage[0].pdu).text == "3" and not core.network_queue


def test_cmgs_records_the_submit_and_checks_the_length():
    core, out = make()
    core.feed(b"ATE0\r")
    [part] = encode_submit("+6281234567890", "Terima kasih")
    out.clear()
    core.feed(f"AT+CMGS={part.tpdu_length}\r".encode())
    assert out == b"\r\n> "
    core.feed(part.hex.encode() + b"\x1a")
    assert b"+CMGS: 1" in out and out.endswith(b"OK\r\n")
    assert core.submitted[0].decoded.text == "Terima kasih"
    out.clear()
    core.feed(f"AT+CMGS={part.tpdu_length + 1}\r".encode() + part.hex.encode() + b"\x1a")
    assert b"+CMS ERROR: 304" in out and len(core.submitted) == 1


def test_esc_aborts_sms_entry():
    core, out = make()
    core.feed(b"ATE0\rAT+CMGS=10\r0011\x1bAT\r")
    assert core.submitted == [] and out.endswith(b"\r\nOK\r\n")


def test_submit_error_knob():
    core, out = make()
    core.submit_error = 331
    [part] = encode_submit("+62811", "x")
    core.feed(b"ATE0\r" + f"AT+CMGS={part.tpdu_length}\r".encode() + part.hex.encode() + b"\x1a")
    assert out.endswith(b"+CMS ERROR: 331\r\n") and core.submitted == []
