"""A fake GSM USB modem in PDU mode: the AT state machine and its SIM storage.

``EmulatorCore`` is pure: bytes in, bytes out, plus ``deliver()`` for an SMS
arriving from the network. :mod:`.pty_modem` puts it on a real pseudo-terminal
so the daemon opens it exactly like ``/dev/ttyUSB0``.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from ..errors import PduError
from ..sms import pdu as pdu_codec
from ..sms.compose import encode_deliver, encode_status_report

LOGGER = logging.getLogger(__name__)
WIB = timezone(timedelta(hours=7))


@dataclass
class StoredSms:
    """One SIM storage slot: TS 27.005 stat (0 unread, 1 read) and the PDU with SMSC."""

    stat: int
    pdu: str


@dataclass(frozen=True)
class SubmittedSms:
    """An SMS-SUBMIT the daemon handed to this modem."""

    modem_id: str
    pdu: str
    decoded: pdu_codec.Submit
    reference: int


class EmulatorCore:
    """The AT command interpreter of one fake modem.

    ``write`` is called with every byte string the modem sends; ``on_submit``
    with every accepted SMS-SUBMIT.
    """

    def __init__(
        self,
        modem_id: str = "emu1",
        *,
        write: Callable[[bytes], None],
        on_submit: Callable[[SubmittedSms], None] | None = None,
        capacity: int = 30,
        imei: str = "860000000000001",
        imsi: str = "510100000000001",
        operator: str = "TELKOMSEL",
        clock: Callable[[], datetime] = lambda: datetime.now(WIB),
        pin: str | None = None,
        send_delay: float = 0.0,
        schedule: Callable[[float, Callable[[], None]], None] | None = None,
    ) -> None:
        self.modem_id = modem_id
        self._write = write
        self._on_submit = on_submit or (lambda s: None)
        self.capacity = capacity
        self.imei, self.imsi, self.operator = imei, imsi, operator
        self.clock = clock
        self.echo = True  # real modems start with ATE1
        self.cnmi_mode = 0  # TS 27.005 3.4.1 <mode> 0: indications stay buffered in the modem
        self.cnmi_mt = 0  # no +CMTI until the host asks for it
        self.cnmi_ds = 0  # status reports: 0 none, 1 +CDS with the PDU, 2 stored in SR with +CDSI
        # Memories: SM holds received messages, SR status reports; AT+CPMS picks the one read.
        self.memories: dict[str, dict[int, StoredSms]] = {"SM": {}, "SR": {}}
        self.storage = self.memories["SM"]
        self.read_memory = "SM"
        # Status reports sent after each SMS-SUBMIT that asks for one (TP-ST values, in order).
        self.report_statuses: list[int] = [0x00]
        # How the network writes the recipient in a status report: as sent (+62812…), or as some
        # do with type of number unknown, e.g. ``lambda n: n.lstrip("+")`` (62812…) or national 0812….
        self.report_recipient: Callable[[str], str] = lambda number: number
        # Personality knobs: the values accepted for each AT+CNMI parameter (<mode>, <mt>, <bm>,
        # <ds>, <bfr>; AT+CNMI=? lists them; ``supported_ds`` is the fourth); +CSMS service 1
        # (every +CMT/+CDS must be acknowledged with +CNMA); new messages routed as +CMT, not stored.
        self.cnmi_supported: list[set[int]] = [{0, 1, 2, 3}, {0, 1, 2, 3}, {0, 1, 2, 3}, {0, 1, 2}, {0, 1}]
        self.csms_service = 0
        self.deliver_direct = False
        self.unacknowledged = 0
        # Fault injection and quirks (see PERSONALITIES and docs/modem-quirks.md).
        self.silent = False  # a hung modem: answers nothing but AT+CFUN=1,1
        # Command prefix (or prefixes): the modem hangs (goes silent) on the next such command.
        self.hang_on: str | tuple[str, ...] | None = None
        self.injected: dict[str, list[str]] = {}  # command prefix -> next answers instead of the real one
        self.double_echo = False
        self.eol = b"\r\n"
        self.prompt = b"\r\n> "
        self.no_ok_after: set[str] = set()  # commands answered without a final OK (Wavecom AT+CPIN?)
        self.noise: str | None = None  # an unsolicited line slipped inside every answer (^RSSI:17)
        self.error_text = "ERROR"
        self._current = ""
        self.iccid = "8962100000000000001"
        self.smsc = "+62816124"  # empty: a SIM without a service centre (sends fail with 330)
        self.registration = 1  # +CREG state: 1 home, 2 searching, 3 denied, 5 roaming
        self.creg_urc = 0
        self.resets = 0
        # Messages the network holds while the SIM is full (the SMSC retries later).
        self.network_queue: list[str] = []
        self.submitted: list[SubmittedSms] = []
        self.commands: list[str] = []
        # Fault knob: answer every SMS-SUBMIT with this +CMS ERROR code (331 = no network).
        self.submit_error: int | None = None
        # A prepaid SIM (rupiah): each SMS part costs ``sms_tariff`` (0: free, the default); with less
        # credit than that, sends fail with +CMS ERROR ``no_credit_error``. ``*888#`` answers as
        # Telkomsel does; ``ussd_packed``: requests and answers in packed GSM 7-bit hex (Huawei).
        self.credit = 50_000
        self.active_until = (datetime.now(timezone.utc) + timedelta(days=30)).date()
        self.sms_package: int | None = None
        self.sms_tariff = 0
        self.no_credit_error = 500
        self.ussd_code = "*888#"
        self.ussd_packed = False
        self.ussd_silent = False  # a network that never answers a USSD request
        self.ussd_text_refused = False  # with ussd_packed: a text request gets "+CUSD: 4" (Huawei)
        # Store-then-send (AT+CMGW, AT+CMSS): supported or not, and whether a message sent from
        # storage is then marked "stored sent" (stat 3); models differ on both.
        self.store_send = True
        self.marks_sent = True
        # The worst moment for the host: the SMS is on the air but its result is held back
        # (``held``) until released or lost with the power (``power_loss``).
        self.hold_results = False
        self.held: list[str] = []
        self.hold_at: int | None = None  # start holding results once this many SMS were on the air
        self._powered = 0  # counts power losses: a send scheduled before one is dropped
        self._transmitting = False  # an SMS is on its way: commands wait until it is done
        # SIM PIN state: None means no PIN is asked; a wrong entry answers +CME ERROR: 16.
        self.pin = pin
        self.pin_ok = pin is None
        self.pin_attempts = 0
        # A real modem needs ~3 s per SMS; ``schedule(delay, fn)`` runs fn later (immediately if None).
        self.send_delay = send_delay
        self._schedule = schedule or (lambda delay, fn: fn())
        self._buffer = b""
        self._pdu_length: int | None = None  # set while waiting for PDU after the prompt
        self._pdu_command = "CMGS"  # what the awaited PDU is for: CMGS (send) or CMGW (store)
        self._mr = itertools.count(1)
        self._last_stamp: dict[str, datetime] = {}
        self._concat_ref = itertools.count(1)

    # ------------------------------------------------------------ network side

    def deliver(self, sender: str, text: str, when: datetime | None = None) -> list[int | None]:
        """An SMS from ``sender`` arrives: store its parts, announce each with +CMTI."""
        if when is None:
            # An SMSC stamps to the second; two distinct messages from one sender get two stamps.
            when = self.clock().replace(microsecond=0)
            last = self._last_stamp.get(sender)
            if last is not None and when <= last:
                when = last + timedelta(seconds=1)
            self._last_stamp[sender] = when
        parts = encode_deliver(sender, text, when,
                               concat_reference=next(self._concat_ref) % 256)
        if self.deliver_direct:
            for p in parts:
                self.unacknowledged += self.csms_service
                self._write(f"\r\n+CMT: ,{p.tpdu_length}\r\n{p.hex}\r\n".encode())
            return [None] * len(parts)
        return [self.store_pdu(p.hex) for p in parts]

    def store_pdu(self, hex_pdu: str, stat: int = 0) -> int | None:
        """Put a raw PDU into the SIM (any PDU, even a broken one) and announce it.

        With the SIM full the network keeps it and retries once a slot is freed;
        returns the index, or None while it waits.
        """
        index = next((i for i in range(self.capacity) if i not in self.storage), None)
        if index is None:
            self.network_queue.append(hex_pdu)
            return None
        self.storage[index] = StoredSms(stat, hex_pdu)
        if self.cnmi_mode != 0 and self.cnmi_mt in (1, 3):  # mt 3 routes only class 3 directly
            self._send_line(f'+CMTI: "SM",{index}')
        return index

    # ------------------------------------------------------------ host side

    def feed(self, data: bytes) -> None:
        """Bytes from the host (the daemon). While an SMS is being sent, input waits (as on real modems)."""
        self._buffer += data
        while self._buffer and not self._transmitting:
            if self._pdu_length is not None:
                if not self._take_pdu():
                    return
                continue
            cut = self._buffer.find(b"\r")
            if cut < 0:
                return
            raw, self._buffer = self._buffer[:cut], self._buffer[cut + 1:]
            # ESC outside SMS entry aborts nothing; modems ignore it.
            line = raw.replace(b"\x1b", b"").decode("latin-1").strip("\n ")
            if not line:
                continue
            if self.hang_on and line.upper().startswith(
                    tuple(p.upper() for p in ((self.hang_on,) if isinstance(self.hang_on, str) else self.hang_on))):
                self.silent, self.hang_on = True, None
            if self.silent and line.upper() != "AT+CFUN=1,1":
                self.commands.append(line)
                continue
            if self.echo:
                self._write((raw + b"\r") * (2 if self.double_echo else 1))
            self.commands.append(line)
            self._current = line.upper()
            self._run(line)

    def _take_pdu(self) -> bool:
        for i, b in enumerate(self._buffer):
            if b in (0x1A, 0x1B):
                raw, self._buffer = self._buffer[:i], self._buffer[i + 1:]
                length, self._pdu_length = self._pdu_length, None
                if b == 0x1B:
                    self._send_line("OK")  # ESC aborts the message
                elif self._pdu_command == "CMGW":
                    self._store_submit(raw.decode("latin-1").strip(), length or 0)
                else:
                    self._accept_submit(raw.decode("latin-1").strip(), length or 0)
                return True
        return False

    def _send_line(self, line: str) -> None:
        self._write(self.eol + line.encode("latin-1") + self.eol)

    def _ok(self, *lines: str) -> None:
        for line in lines:
            self._send_line(line)
        if self.noise:
            self._send_line(self.noise)
        if self._current not in self.no_ok_after:
            self._send_line("OK")

    def inject(self, command_prefix: str, *answers: str) -> None:
        """The next commands starting with ``command_prefix`` get these answers (one each)."""
        self.injected.setdefault(command_prefix.upper(), []).extend(answers)

    def _run(self, line: str) -> None:
        upper = line.upper()
        for prefix, answers in self.injected.items():
            if upper.startswith(prefix) and answers:
                self._send_line(answers.pop(0))
                return
        for pattern, handler in self._HANDLERS:
            m = re.fullmatch(pattern, upper)
            if m:
                handler(self, m)
                return
        self._send_line(self.error_text)

    # ------------------------------------------------------------ commands

    def _at(self, m):
        self._ok()

    def _ate(self, m):
        self.echo = m.group(1) == "1"
        self._ok()

    @property
    def supported_ds(self) -> set[int]:
        """The CNMI <ds> values accepted (0 none, 1 +CDS, 2 stored in SR with +CDSI)."""
        return self.cnmi_supported[3]

    @supported_ds.setter
    def supported_ds(self, values: set[int]) -> None:
        self.cnmi_supported[3] = set(values)

    def _cnmi(self, m):
        values = [v.strip() for v in m.group(1).split(",")]
        number = lambda i: int(values[i]) if len(values) > i and values[i].isdigit() else 0  # noqa: E731
        given = [i for i in range(min(len(values), 5)) if values[i].isdigit()]
        if len(values) > 5 or any(int(values[i]) not in self.cnmi_supported[i] for i in given):
            self._send_line("+CMS ERROR: 303")  # operation not supported
            return
        self.cnmi_mode, self.cnmi_mt, self.cnmi_ds = number(0), number(1), number(3)
        self._ok()

    def _cnmi_test(self, m):
        """``+CNMI: (0-3),(0-3),(0-3),(0-2),(0,1)`` from ``cnmi_supported``."""
        self._ok("+CNMI: " + ",".join(f"({_value_list(v)})" for v in self.cnmi_supported))

    def _cpms_query(self, m):
        used = len(self.storage)
        cap = self.capacity
        self._ok(f'+CPMS: "SM",{used},{cap},"SM",{used},{cap},"SM",{used},{cap}')

    def _cpms_set(self, m):
        first = m.group(1).split(",")[0].strip().strip('"').upper()
        if first not in self.memories:
            self._send_line("+CMS ERROR: 302")
            return
        self.read_memory = first
        used, cap = len(self._mem), self.capacity
        self._ok(f"+CPMS: {used},{cap},{used},{cap},{used},{cap}")

    @property
    def _mem(self) -> dict[int, StoredSms]:
        return self.memories[self.read_memory]

    @staticmethod
    def _tpdu_length(hex_pdu: str) -> int:
        octets = len(hex_pdu) // 2
        smsc_len = int(hex_pdu[:2], 16) if len(hex_pdu) >= 2 else 0
        return max(octets - smsc_len - 1, 0)

    def _cmgl(self, m):
        wanted = int(m.group(1))
        lines = []
        for index in sorted(self._mem):
            sms = self._mem[index]
            if wanted == 4 or sms.stat == wanted:
                lines += [f"+CMGL: {index},{sms.stat},,{self._tpdu_length(sms.pdu)}", sms.pdu]
                if sms.stat == 0:
                    sms.stat = 1
        self._ok(*lines)

    def _cmgr(self, m):
        index = int(m.group(1))
        sms = self._mem.get(index)
        if sms is None:
            self._send_line("+CMS ERROR: 321")
            return
        stat = sms.stat
        sms.stat = 1 if stat == 0 else stat
        self._ok(f"+CMGR: {stat},,{self._tpdu_length(sms.pdu)}", sms.pdu)

    def _cmgd(self, m):
        index = int(m.group(1))
        flag = int(m.group(2) or 0)
        if flag == 0:
            self._mem.pop(index, None)
        else:  # 1 read, 2 read+sent, 3 read+sent+unsent, 4 all
            for i in [i for i, s in self._mem.items() if flag == 4 or s.stat == 1]:
                del self._mem[i]
        self._ok()
        while self.network_queue and len(self.storage) < self.capacity:
            self.store_pdu(self.network_queue.pop(0))

    def _report(self, record: SubmittedSms, status: int) -> None:
        if self.cnmi_ds == 0:
            return
        now = self.clock()
        recipient = self.report_recipient(record.decoded.destination.number)
        hex_pdu = encode_status_report(record.reference, recipient, now, now, status)
        if self.cnmi_ds == 1:
            self.unacknowledged += self.csms_service
            self._write(f"\r\n+CDS: {self._tpdu_length(hex_pdu)}\r\n{hex_pdu}\r\n".encode())
            return
        reports = self.memories["SR"]
        index = next(i for i in range(len(reports) + 1) if i not in reports)
        reports[index] = StoredSms(0, hex_pdu)
        self._send_line(f'+CDSI: "SR",{index}')

    def _creg(self, m):
        self.creg_urc = int(m.group(1))
        self._ok()

    def set_registration(self, state: int) -> None:
        """The network changes the registration; announced when the host asked (+CREG=1)."""
        self.registration = state
        if self.creg_urc:
            self._send_line(f"+CREG: {state}")

    def _reset(self, m):
        """AT+CFUN=1,1: the modem reboots: echo back on, notifications off, a hang cleared."""
        self.resets += 1
        self._ok()
        self.echo, self.cnmi_mode, self.cnmi_mt, self.cnmi_ds, self.creg_urc = True, 0, 0, 0, 0
        self.read_memory = "SM"
        self.silent = False

    def power_loss(self) -> None:
        """Unplugged: whatever was half typed is gone, a held result with it, and a send still on its
        way to the network never gets there; the SIM keeps its messages."""
        self._buffer, self._pdu_length = b"", None
        self.held.clear()
        self._powered += 1
        self._transmitting = False
        self.echo, self.cnmi_mode, self.cnmi_mt, self.cnmi_ds, self.creg_urc = True, 0, 0, 0, 0
        self.read_memory = "SM"

    def _cnma(self, m):
        self.unacknowledged = max(0, self.unacknowledged - 1)
        self._ok()

    def _cpin(self, m):
        self.pin_attempts += 1
        if m.group(1) == self.pin:
            self.pin_ok = True
            self._ok()
        else:
            self._send_line("+CME ERROR: 16")  # incorrect password

    def _cmgs(self, m):
        self._pdu_length, self._pdu_command = int(m.group(1)), "CMGS"
        if self.noise:
            self._send_line(self.noise)  # ZTE: +ZDONR between AT+CMGS= and the prompt
        self._write(self.prompt)

    def _valid_submit(self, hex_pdu: str, length: int, command: str) -> pdu_codec.Submit | None:
        """The decoded SMS-SUBMIT, or None after answering +CMS ERROR: 304 (TS 27.005 3.2.5)."""
        if self._tpdu_length(hex_pdu) != length:
            LOGGER.warning("%s: AT+%s=%d but the TPDU has %d octets", self.modem_id, command, length,
                           self._tpdu_length(hex_pdu))
            self._send_line("+CMS ERROR: 304")
            return None
        try:
            decoded = pdu_codec.decode(hex_pdu)
        except PduError as exc:
            LOGGER.warning("%s: invalid SUBMIT PDU %s: %s", self.modem_id, hex_pdu, exc)
            self._send_line("+CMS ERROR: 304")
            return None
        if not isinstance(decoded, pdu_codec.Submit):
            self._send_line("+CMS ERROR: 304")
            return None
        return decoded

    def _accept_submit(self, hex_pdu: str, length: int) -> None:
        if self.submit_error is not None:
            self._send_line(f"+CMS ERROR: {self.submit_error}")
            return
        if not self.smsc and hex_pdu.startswith("00"):
            self._send_line("+CMS ERROR: 330")  # SMSC address unknown
            return
        decoded = self._valid_submit(hex_pdu, length, "CMGS")
        if decoded is not None:
            self._transmit(hex_pdu, decoded, "+CMGS")

    def _transmit(self, hex_pdu: str, decoded: pdu_codec.Submit, answer: str,
                  on_air: Callable[[], None] = lambda: None) -> None:
        """Put an SMS-SUBMIT on the air after ``send_delay``, then answer ``<answer>: <mr>``; a SIM
        without the credit for it is refused by the operator (``no_credit_error``)."""
        if self.sms_tariff:
            if self.sms_package:
                self.sms_package -= 1
            elif self.credit < self.sms_tariff:
                self._send_line(f"+CMS ERROR: {self.no_credit_error}")
                return
            else:
                self.credit -= self.sms_tariff
        mr = next(self._mr) % 256
        record = SubmittedSms(self.modem_id, hex_pdu, decoded, mr)
        powered = self._powered

        def done() -> None:
            if powered != self._powered:
                return  # the power went while it was being sent: it never reached the network
            self._transmitting = False
            self.submitted.append(record)
            on_air()
            if self.hold_at is not None and len(self.submitted) >= self.hold_at:
                self.hold_results, self.hold_at = True, None
            if self.hold_results:
                self.held.append(f"{answer}: {mr}")
            else:
                self._ok(f"{answer}: {mr}")
            self._on_submit(record)
            if decoded.status_report_request:
                for status in self.report_statuses:
                    self._schedule(0.01, lambda st=status: self._report(record, st))

        if self.send_delay:
            self._transmitting = True
            self._schedule(self.send_delay, lambda: (done(), self.feed(b"")))
        else:
            done()

    def ussd_text(self) -> str:
        """The balance as Telkomsel says it."""
        text = f"Sisa pulsa Rp{self.credit:,}".replace(",", ".") + f" aktif s/d {self.active_until:%d/%m/%Y}."
        if self.sms_package is not None:
            text += f" Sisa SMS {self.sms_package} berlaku s.d {self.active_until:%d/%m/%Y}."
        return text

    def _cusd(self, m) -> None:
        from ..sms import gsm7

        asked = m.group(1)
        if self.ussd_text_refused and not re.fullmatch(r"[0-9A-F]+", asked):
            self._ok()
            self._schedule(0.05, lambda: self._send_line("+CUSD: 4"))
            return
        if self.ussd_packed and re.fullmatch(r"[0-9A-F]+", asked) and len(asked) % 2 == 0:
            data = bytes.fromhex(asked)
            septets = gsm7.unpack(data, len(data) * 8 // 7)
            asked = gsm7.decode([c for c in septets if c != 0x0D])
        self._ok()
        if self.ussd_silent:
            return
        answer = self.ussd_text() if asked == self.ussd_code else "Maaf, permintaan Anda tidak dapat diproses."
        if self.ussd_packed:
            answer = gsm7.pack(gsm7.encode(answer)).hex().upper()
        self._schedule(0.05, lambda: self._send_line(f'+CUSD: 0,"{answer}",15'))

    def release_held(self) -> None:
        """Answer every held send result (the link came back in time)."""
        while self.held:
            self._ok(self.held.pop(0))

    # Store-then-send: TS 27.005 3.5.3 (AT+CMGW) and 3.5.2 (AT+CMSS).

    def _cmgw(self, m):
        if not self.store_send:
            self._send_line(self.error_text)
            return
        self._pdu_length, self._pdu_command = int(m.group(1)), "CMGW"
        self._write(self.prompt)

    def _store_submit(self, hex_pdu: str, length: int) -> None:
        if self._valid_submit(hex_pdu, length, "CMGW") is None:
            return
        index = next((i for i in range(self.capacity) if i not in self.storage), None)
        if index is None:
            self._send_line("+CMS ERROR: 322")  # memory full
            return
        self.storage[index] = StoredSms(2, hex_pdu)  # 2: stored unsent
        self._ok(f"+CMGW: {index}")

    def _cmss(self, m):
        if not self.store_send:
            self._send_line(self.error_text)
            return
        index = int(m.group(1))
        stored = self.storage.get(index)
        if stored is None or stored.stat not in (2, 3):
            self._send_line("+CMS ERROR: 321")  # invalid memory index
            return
        if self.submit_error is not None:
            self._send_line(f"+CMS ERROR: {self.submit_error}")
            return
        if not self.smsc and stored.pdu.startswith("00"):
            self._send_line("+CMS ERROR: 330")
            return
        decoded = pdu_codec.decode(stored.pdu)

        def mark() -> None:
            if self.marks_sent and index in self.storage:
                self.storage[index].stat = 3  # stored sent

        self._transmit(stored.pdu, decoded, "+CMSS", mark)

    def _store_send_test(self, m):
        self._ok() if self.store_send else self._send_line(self.error_text)

    _HANDLERS: list = []


def _value_list(values: set[int]) -> str:
    """``{0, 1, 2, 3}`` -> ``0-3``, ``{0, 2}`` -> ``0,2``, as AT+CNMI=? lists values."""
    runs: list[list[int]] = []
    for v in sorted(values):
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


_H = EmulatorCore
EmulatorCore._HANDLERS = [
    (r"AT", _H._at),
    (r"ATZ", _H._at),
    (r"ATE([01])", _H._ate),
    (r"AT\+CMEE=\d", _H._at),
    (r"AT\+CMGF=0", _H._at),
    (r"AT\+CSCS=.*", _H._at),
    (r"AT\^CURC=\d", _H._at),
    (r"AT\+CPIN\?", lambda s, m: s._ok("+CPIN: READY" if s.pin_ok else "+CPIN: SIM PIN")),
    (r'AT\+CPIN="?(\d+)"?', _H._cpin),
    (r"AT\+CNMI=\?", _H._cnmi_test),
    (r"AT\+CNMI=(.*)", _H._cnmi),
    (r"AT\+CPMS\?", _H._cpms_query),
    (r"AT\+CPMS=(.*)", _H._cpms_set),
    (r"AT\+CMGL=(\d)", _H._cmgl),
    (r"AT\+CMGR=(\d+)", _H._cmgr),
    (r"AT\+CMGD=(\d+)(?:,(\d))?", _H._cmgd),
    (r"AT\+CMGS=(\d+)", _H._cmgs),
    (r"AT\+CMGW=\?", _H._store_send_test),
    (r"AT\+CMSS=\?", _H._store_send_test),
    (r"AT\+CMGW=(\d+)(?:,\d+)?", _H._cmgw),
    (r"AT\+CMSS=(\d+)(?:,.*)?", _H._cmss),
    (r"AT\+CNMA", _H._cnma),
    (r"AT\+CSMS\?", lambda s, m: s._ok(f"+CSMS: {s.csms_service},1,1,1")),
    (r"AT\+CGSN", lambda s, m: s._ok(s.imei)),
    (r"AT\+CIMI", lambda s, m: s._ok(s.imsi)),
    (r"AT\+CSQ", lambda s, m: s._ok("+CSQ: 20,99")),
    (r"AT\+CREG\?", lambda s, m: s._ok(f"+CREG: {s.creg_urc},{s.registration}")),
    (r"AT\+CREG=([012])", _H._creg),
    (r"AT\+CCID", lambda s, m: s._ok(f"+CCID: {s.iccid}")),
    (r"AT\+CFUN=1,1", _H._reset),
    (r"AT\+COPS\?", lambda s, m: s._ok(f'+COPS: 0,0,"{s.operator}"')),
    (r"AT\+CSCA\?", lambda s, m: s._ok(*([f'+CSCA: "{s.smsc}",145'] if s.smsc else []))),
    (r"AT\+CGMI", lambda s, m: s._ok("smsd-crm")),
    (r'AT\+CUSD=1,"([^"]*)"(?:,(\d+))?', _H._cusd),
    (r"AT\+CUSD=2", _H._at),
    (r"AT\+CGMM", lambda s, m: s._ok("Emulated GSM modem")),
]


# Quirks of real modems (docs/modem-quirks.md), as knob settings.
PERSONALITIES: dict[str, dict] = {
    "generic": {},
    "huawei": {"noise": "^RSSI:17", "error_text": "COMMAND NOT SUPPORT", "eol": b"\r\r\n"},
    "zte": {"noise": '+ZDONR: "TELKOMSEL",510,10,"CS_ONLY","ROAM_OFF"'},
    "simcom": {"prompt": b"\r\n>\r\n", "noise": "SMS Ready"},
    "ublox": {"prompt": b">"},
    "wavecom": {"no_ok_after": {"AT+CPIN?"}, "double_echo": True},
}


def apply_personality(core: EmulatorCore, name: str) -> None:
    """Give ``core`` the quirks of a modem family."""
    for knob, value in PERSONALITIES[name].items():
        setattr(core, knob, value)
