"""The AT channel, byte by byte, against an in-memory transport (and the pure parsers)."""

from __future__ import annotations

import asyncio

import pytest

from smsd_crm.errors import CommandError, CommandTimeout, ModemUnavailable
from smsd_crm.modem import commands
from smsd_crm.modem.at import AtChannel


class FakeTransport(asyncio.Transport):
    """Records writes; the test plays the modem by calling channel.data_received."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


@pytest.fixture
def channel():
    urcs: list[tuple[str, str | None]] = []
    ch = AtChannel("m1", lambda line, second: urcs.append((line, second)), lambda exc: None)
    ch.connection_made(FakeTransport())
    ch.urcs = urcs  # type: ignore[attr-defined]
    return ch


async def _wait_written(ch: AtChannel, needle: bytes) -> None:
    while needle not in ch._transport.written:  # type: ignore[union-attr]
        await asyncio.sleep(0)


def _feed(ch: AtChannel, data: bytes, one_byte_at_a_time: bool = False) -> None:
    if one_byte_at_a_time:
        for i in range(len(data)):
            ch.data_received(data[i:i + 1])
    else:
        ch.data_received(data)


@pytest.mark.parametrize("bytewise", [False, True])
async def test_response_with_echo_urc_inside_and_odd_line_ends(channel, bytewise):
    task = asyncio.create_task(channel.command("AT+CSQ"))
    await _wait_written(channel, b"AT+CSQ\r")
    _feed(channel, b"AT+CSQ\r\r\n^RSSI:17\r\r\n\r\n+CSQ: 17,99\r\n\r\n+CMTI: \"SM\",3\r\nOK\r\n", bytewise)
    assert await task == ["+CSQ: 17,99"]
    assert [u[0] for u in channel.urcs] == ["^RSSI:17", '+CMTI: "SM",3']


@pytest.mark.parametrize("chunk", [1, 7, 333, 1 << 20])
async def test_a_full_sim_listed_in_pieces_comes_out_line_by_line(channel, chunk):
    # 300 stored messages in one answer, cut anywhere (between CR and LF too): every line, in order
    entries = [f'+CMGL: {i},1,,23\r\n0791{i:06d}AABBCCDD{"F" * 40}' for i in range(300)]
    answer = ("\r\n" + "\r\n".join(entries) + "\r\n\r\nOK\r\n").encode()
    task = asyncio.create_task(channel.command("AT+CMGL=4", timeout=5))
    await _wait_written(channel, b"AT+CMGL=4\r")
    for i in range(0, len(answer), chunk):
        channel.data_received(answer[i:i + chunk])
    assert await task == "\r\n".join(entries).split("\r\n")


async def test_two_line_urc_keeps_its_pdu(channel):
    _feed(channel, b"\r\n+CMT: ,23\r\n0791ABCDEF\r\n")
    assert channel.urcs == [("+CMT: ,23", "0791ABCDEF")]


@pytest.mark.parametrize("prompt", [b"\r\n> ", b"\r\n>\r\n", b">", b"\r\n+ZDONR: 1\r\n> "])
async def test_prompt_variants(channel, prompt):
    task = asyncio.create_task(channel.command_with_data("AT+CMGS=9", "0011AABB", timeout=1))
    await _wait_written(channel, b"AT+CMGS=9\r")
    _feed(channel, prompt)
    await _wait_written(channel, b"0011AABB\x1a")
    _feed(channel, b"\r\n+CMGS: 42\r\n\r\nOK\r\n")
    assert commands.parse_cmgs(await task) == 42


async def test_error_instead_of_prompt_is_reported_at_once(channel):
    task = asyncio.create_task(channel.command_with_data("AT+CMGS=9", "00", prompt_timeout=30))
    await _wait_written(channel, b"AT+CMGS=9\r")
    _feed(channel, b"\r\n+CMS ERROR: 330\r\n")
    with pytest.raises(CommandError) as info:
        await asyncio.wait_for(task, 2)
    assert info.value.code == 330 and not info.value.transient


async def test_timeout_leaves_no_listener_and_next_command_works(channel):
    with pytest.raises(CommandTimeout):
        await channel.command("AT+CPIN?", timeout=0.05)
    assert channel._pending is None
    task = asyncio.create_task(channel.command("AT"))
    await _wait_written(channel, b"AT\r")
    _feed(channel, b"OK\r\n")
    assert await task == []


async def test_connection_lost_fails_the_pending_command(channel):
    task = asyncio.create_task(channel.command("AT+CMGL=4"))
    await _wait_written(channel, b"AT+CMGL=4\r")
    channel.connection_lost(OSError(5, "EIO"))
    with pytest.raises(ModemUnavailable):
        await task
    with pytest.raises(ModemUnavailable):
        await channel.command("AT")


async def test_garbage_never_kills_the_reader(channel):
    _feed(channel, bytes(range(256)) * 4)
    task = asyncio.create_task(channel.command("AT"))
    await _wait_written(channel, b"AT\r")
    _feed(channel, b"\r\nOK\r\n")
    assert await task == []


@pytest.mark.parametrize("line,ok,kind,code,transient", [
    ("OK", True, "", None, False),
    ("ERROR", False, "", None, True),
    ("COMMAND NOT SUPPORT", False, "", None, True),
    ("+CMS ERROR: 314", False, "CMS", 314, True),
    ("+CMS ERROR: 304", False, "CMS", 304, False),
    ("+CMS ERROR: 321", False, "CMS", 321, False),
    ("+CME ERROR: SIM busy", False, "CME", 14, True),
    ("+CME ERROR: 10", False, "CME", 10, False),
])
def test_final_result_mapping(line, ok, kind, code, transient):
    final = commands.parse_final(line)
    assert final is not None
    assert (final.ok, final.kind, final.code, final.transient) == (ok, kind, code, transient)


def test_not_final():
    assert commands.parse_final("+CSQ: 20,99") is None


@pytest.mark.parametrize("header", ["+CMGR: 0,,29", '+CMGR: 1,"",29', '+CMGR: 0,"Test User 123",29',
                                    "+CMGR: ,,27", "+CMGR: 0,23"])
def test_cmgr_header_variants(header):
    stored = commands.parse_cmgr([header, "0791AABB"], 3)
    assert stored is not None and stored.pdu == "0791AABB" and stored.index == 3


def test_cmgl_skips_junk_lines():
    lines = ["+CMGL: 1,0,,20", "07AA", "garbage line", "+CMGL: 4,1,,21", "07BB", "07CC"]
    assert [(s.index, s.pdu) for s in commands.parse_cmgl(lines)] == [(1, "07AA"), (4, "07BB")]


def test_storage_notice():
    assert commands.parse_storage_notice('+CMTI: "SM",12') == ("SM", 12)
    assert commands.parse_storage_notice("+CMTI: ME,3") == ("ME", 3)
    assert commands.parse_storage_notice("+CDSI: \"SR\",8") == ("SR", 8)
    assert commands.parse_storage_notice("+CMTI: junk") is None


async def test_missing_final_ok_after_cpin_is_tolerated(channel):
    task = asyncio.create_task(channel.command("AT+CPIN?", timeout=5, ends_with="+CPIN:"))
    await _wait_written(channel, b"AT+CPIN?\r")
    _feed(channel, b"\r\n+CPIN: READY\r\n")  # Wavecom: no OK follows
    assert await asyncio.wait_for(task, 2) == ["+CPIN: READY"]


async def test_cpin_with_its_ok_returns_at_once(channel):
    task = asyncio.create_task(channel.command("AT+CPIN?", timeout=5, ends_with="+CPIN:"))
    await _wait_written(channel, b"AT+CPIN?\r")
    _feed(channel, b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n")
    assert await asyncio.wait_for(task, 0.2) == ["+CPIN: SIM PIN"]


@pytest.mark.parametrize("line,unsolicited,state", [
    ("+CREG: 0,1", False, 1), ("+CREG: 2,5,\"00C3\",\"0003D2E1\"", False, 5), ("+CREG: 1", True, 1),
    ("+CREG: 2,00C3,3D2E1", True, 2), ("+CREG: 0,1,,", False, 1), ("+CREG: 3,'00C3,\"3D2E1\"", True, 3),
    ("+CREG: junk", True, None),
])
def test_creg_corner_formats(line, unsolicited, state):
    assert commands.parse_creg(line, unsolicited) == state


def _cnmi(*lists):
    return commands.CnmiSupport(*(frozenset(v) if v is not None else None for v in lists))


@pytest.mark.parametrize("answer,support", [
    # gammu tests/at-cnmi/01.dump, 02.dump, 03.dump (real phones; 03 has no space after the colon)
    ("+CNMI: (2),(0-1,3),(0,2),(0-1),(0)", _cnmi({2}, {0, 1, 3}, {0, 2}, {0, 1}, {0})),
    ("+CNMI: (0-2),(0,1,3),(0),(0,1),(0,1)", _cnmi({0, 1, 2}, {0, 1, 3}, {0}, {0, 1}, {0, 1})),
    ("+CNMI:(0-3),(0-3),(0-3),(0,1),(0,1)", _cnmi(*[range(4)] * 3, {0, 1}, {0, 1})),
    # Cinterion PHS8 (ModemManager's cinterion parser): only <bfr> 1
    ("+CNMI: (0,1,2),(0,1),(0,2),(0),(1)", _cnmi({0, 1, 2}, {0, 1}, {0, 2}, {0}, {1})),
    # odd spacing, an empty list and missing parameters
    ("+CNMI: ( 0 - 2 ) , (0, 1 ,3),(),(0-2)", _cnmi({0, 1, 2}, {0, 1, 3}, None, {0, 1, 2}, None)),
    ("+CNMI: (2)", _cnmi({2}, None, None, None, None)),
])
def test_cnmi_test_answers(answer, support):
    assert commands.parse_cnmi_support([answer]) == support


@pytest.mark.parametrize("lines", [[], ["+CNMI: 2,1,0,0,0"], ["+CNMI: (),()"], ["junk"]])
def test_cnmi_test_answers_that_say_nothing(lines):
    assert commands.parse_cnmi_support(lines) is None


@pytest.mark.parametrize("answer,reports,first", [
    ("+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)", False, (2, 1, 0, 0, 0)),
    ("+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)", True, (2, 1, 0, 1, 0)),
    ("+CNMI: (0,1,2),(0,1),(0,2),(0),(1)", True, (2, 1, 0, 0, 1)),  # no reports possible: still +CMTI
    ("+CNMI: (1),(0-3),(0,2),(0,2),(0,1)", True, (1, 1, 0, 2, 0)),
    ("+CNMI: (2),(0-1,3),(2,3),(0-1),(0)", False, (2, 1, 2, 0, 0)),
    ("+CNMI: (0-2),(0,3),(0),(0),(0,1)", False, (2, 3, 0, 0, 0)),
    ("+CNMI: (2),(0,2),(0),(0),(0)", False, (2, 0, 0, 0, 0)),  # stored, found by the sweep, never +CMT
])
def test_cnmi_values_chosen_from_what_the_modem_allows(answer, reports, first):
    settings = commands.cnmi_settings(commands.parse_cnmi_support([answer]), reports)
    assert settings[0] == first
    assert len(settings) == len(set(settings))


def test_cnmi_without_an_answer_tries_the_usual_settings_then_short_forms():
    assert commands.cnmi_settings(None, False) == [(2, 1, 0, 0, 0), (1, 1, 0, 0, 0), (2, 1, 0, 0, 1), (2, 1),
                                                   (1, 1)]
    assert commands.cnmi_settings(None, True)[:2] == [(2, 1, 0, 1, 0), (2, 1, 0, 2, 0)]


def test_which_cnmi_values_announce_new_messages():
    assert commands.cnmi_announces((2, 1, 0, 0, 0)) and commands.cnmi_announces((1, 3))
    assert not commands.cnmi_announces((0, 1, 0, 0, 0)) and not commands.cnmi_announces((2, 0, 0, 1, 0))


async def test_an_sms_pdu_never_reaches_a_debug_log(channel, caplog):
    """A PDU line nobody asked for (a late +CMGR answer) holds a customer's text, perhaps the owner's
    PIN: at DEBUG the log says a PDU was there, not what it was."""
    import logging
    caplog.set_level(logging.DEBUG, logger="smsd_crm.modem.at")
    pdu = "07912618485400F9040C912618100000010000622111" + "0000000A0CCC30BD3C0E4383EC3"
    _feed(channel, f"{pdu}\r\n".encode())
    assert f"unexpected line ignored: '<PDU: {len(pdu)} hex digits>'" in caplog.text and pdu[10:30] not in caplog.text
