"""One modem: initialise it, receive (+CMTI, start-up and periodic sweeps), send.

A stored SMS is deleted from the SIM only after the sink (the router) returns,
which it does once the message is committed to the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Callable

from ..config import ModemConfig
from ..errors import CommandError, CommandTimeout, ModemError, ModemUnavailable, PduError, StorageUnavailable
from ..models import REGISTRATION_NAMES, DeliveryReport, InboundMessage, InboundSink, ReportSink, SendResult
from ..sms import ussd
from ..sms.compose import encode_submit
from ..sms.pdu import Deliver, StatusReport, Submit, decode
from ..sms.reassembly import Group, Reassembler
from . import commands, health
from .at import AtChannel
from .credit import CreditWatch
from .health import Health
from .serial import open_port
from .slots import Undeleted
from .submit import MemoryFacts, MemoryJournal, ModemFacts, OutgoingPart, SendJournal, Submitter

LOGGER = logging.getLogger(__name__)
TIMEOUTS_BEFORE_RECONNECT = 3  # consecutive command timeouts: the modem has stopped answering
USSD_TIMEOUT = 30.0  # seconds for a network's USSD answer (they take 2-10 s)
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)  # a read or delete answered busy: tried again within 3.7 s


class Modem:
    """Drive one GSM modem. ``run()`` returns or raises when the port is lost."""

    def __init__(self, config: ModemConfig, sink: InboundSink, *, opener=open_port,
                 clock: Callable[[], float] = time.monotonic, report_sink: ReportSink | None = None,
                 reports: bool = False, facts: ModemFacts | None = None) -> None:
        self.config = config
        self.id = config.id
        self._sink = sink
        self._report_sink = report_sink
        self._reports = reports  # ask the network for delivery reports (TP-SRR, CNMI ds)
        self._needs_ack = False  # +CSMS service 1: every +CMT/+CDS must be acknowledged
        self._opener = opener
        self._channel: AtChannel | None = None
        self._work: asyncio.Queue = asyncio.Queue()
        self._send_lock = asyncio.Lock()
        self._reassembler = Reassembler(config.multipart_timeout, clock)
        self._clock = clock
        self._undeleted = Undeleted()  # committed messages whose slot the modem would not free yet
        self._memory_selected = "SM"  # where AT+CMGR/AT+CMGD act (AT+CPMS)
        self._concat_ref = itertools.count(int(clock() * 1000) % 65536)
        self.ready = asyncio.Event()
        self.on_change: Callable[[], None] = lambda: None  # the pool listens to ready changes
        self._closing = False
        self.imei = ""
        self.sim_id = ""
        self.health = Health()
        self.ready_count = 0  # how often run() reached ready: the pool's escalation resets on it
        self._timeouts = 0  # consecutive command timeouts
        self._desynced = False  # a late answer may still arrive: resync before the next command
        self.sent = 0
        self.received = 0
        self._announced: bool | None = None  # whether AT+CNMI gives +CMTI; None before the first start
        self._sweep_interval = config.sweep_interval  # shorter when nothing is announced
        self._submitter = Submitter(self, facts or MemoryFacts(), config.send_timeout)
        self._storage_lock = asyncio.Lock()  # held while AT+CPMS selects a memory other than SM
        # Intake first: set while nothing waits to be read, so a send never holds up a read.
        self._intake_idle = asyncio.Event()
        self._intake_idle.set()
        self._ussd: asyncio.Future | None = None  # the +CUSD answer awaited by ask_ussd
        self.credit = CreditWatch(self, config.credit) if config.credit is not None else None

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Open, initialise, and serve until the port closes (raises ModemUnavailable)."""
        self._work = asyncio.Queue()
        self._closing = False
        transport, channel = await self._opener(
            self.id, self.config.port, lambda: AtChannel(self.id, self._on_urc, self._on_lost),
            self.config.baudrate)
        try:
            async with asyncio.timeout(self.config.command_timeout):
                await channel.opened.wait()
            self._channel = channel
            await self._initialise()
            self._work.put_nowait(("sweep",))
            self.ready.set()
            self.ready_count += 1
            self.on_change()
            LOGGER.info("modem %s ready on %s (IMEI %s)", self.id, self.config.port, self.imei or "?")
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._receive_loop())
                tg.create_task(self._sweep_timer())
                tg.create_task(self._health_timer())
                if self.credit is not None:
                    tg.create_task(self.credit.run())
                tg.create_task(self._until_closed(channel))
        except ExceptionGroup as group:
            # The first device error explains the others (they are its consequences).
            raise next((e for e in group.exceptions if isinstance(e, ModemError)), group) from None
        finally:
            self.ready.clear()
            self.on_change()
            self._closing = True
            transport.close()  # the transport we opened, even if the channel never saw it
            self._channel = None
            # The port (and its exclusive lock) is released on a later loop turn.
            if channel.opened.is_set():
                try:
                    async with asyncio.timeout(2.0):
                        await asyncio.shield(channel.closed.wait())
                except (TimeoutError, asyncio.CancelledError):
                    pass

    async def _until_closed(self, channel: AtChannel) -> None:
        await channel.closed.wait()
        raise ModemUnavailable(self.id, "port closed")

    def _on_lost(self, exc: Exception | None) -> None:
        if self._closing:
            LOGGER.debug("modem %s: port closed", self.id)
        else:
            LOGGER.warning("modem %s: port lost (%s)", self.id, exc or "closed")

    async def _cmd(self, command: str, timeout: float | None = None, ends_with: str | None = None) -> list[str]:
        if self._channel is None:
            raise ModemUnavailable(self.id, "not connected")
        channel = self._channel
        return await self._watched(lambda: channel.command(command, timeout or self.config.command_timeout,
                                                           ends_with))

    async def _watched(self, call):
        """Run one exchange under the watchdog: repeated timeouts end the connection."""
        if self._desynced and self._channel is not None:
            self._desynced = False
            await self._resync()
        try:
            result = await call()
        except CommandTimeout:
            self._timeouts += 1
            self._desynced = True
            if self._timeouts >= TIMEOUTS_BEFORE_RECONNECT:
                raise ModemUnavailable(self.id, f"stopped answering ({self._timeouts} timeouts)") from None
            raise
        self._timeouts = 0
        return result

    async def _try(self, command: str) -> list[str] | None:
        """A command whose failure is tolerated (optional capabilities)."""
        try:
            return await self._cmd(command)
        except CommandError as exc:
            LOGGER.info("modem %s: %s not supported (%s)", self.id, command, exc.text)
            return None

    async def _initialise(self) -> None:
        await self._resync()
        await self._cmd("ATE0")
        await self._try("AT+CMEE=1")
        await self._unlock_sim()
        await self._cmd("AT+CMGF=0")
        await self._try('AT+CPMS="SM","SM","SM"')
        csms = commands.info_value(await self._try("AT+CSMS?") or [], "+CSMS:")
        self._needs_ack = bool(csms) and csms.split(",")[0].strip() == "1"
        self._set_sweep_interval(await self._negotiate_cnmi())
        await self._try("AT+CREG=1")  # registration changes as +CREG: <stat>
        # Store then send (AT+CMGW + AT+CMSS) lets a restart tell a sent part from an unsent one.
        self._submitter.store_send = (await self._try("AT+CMGW=?") is not None
                                      and await self._try("AT+CMSS=?") is not None)
        csca = commands.info_value(await self._try("AT+CSCA?") or [], "+CSCA:")
        if not (csca and csca.split(",")[0].strip('" ')) and not self.config.smsc:
            LOGGER.warning("modem %s: the SIM has no SMS service centre number; sends will fail with "
                           "+CMS ERROR: 330 until modems[].smsc is set in the config", self.id)
        self.imei = ((await self._try("AT+CGSN")) or [""])[0].strip()
        # The SIM's identity ties stored parts and reports to it: a SIM busy after power-up is asked again.
        try:
            self.sim_id = (await self._patiently("AT+CIMI", after_timeout=True) or [""])[0].strip()
        except CommandError as exc:
            self.sim_id = ""
            LOGGER.warning("modem %s: no IMSI (%s); stored outgoing messages are not tidied on this "
                           "connection", self.id, exc.text)
        for ask in ("AT+CCID", "AT^ICCID?", "AT+ICCID"):
            iccid = commands.parse_iccid(await self._try(ask) or [])
            if iccid:
                self.health.iccid = iccid
                break
        h = await self.check_health()
        LOGGER.info("modem %s: signal %s/31, %s, operator %s, IMSI %s, ICCID %s, SIM storage %s/%s",
                    self.id, h.signal if h.signal is not None else "?",
                    REGISTRATION_NAMES.get(h.registration, "registration ?"), h.operator or "?",
                    self.sim_id or "?", h.iccid or "?", h.storage_used, h.storage_total)

    async def _negotiate_cnmi(self) -> bool:
        """Ask for +CMTI (and reports as +CDS or +CDSI) with values the modem lists in ``AT+CNMI=?``.

        True when new messages will be announced. Modems differ in what they accept (only
        <bfr> 1, only mode 1, ...); one refused setting must not leave every SMS to the sweep.
        """
        support = commands.parse_cnmi_support(await self._try("AT+CNMI=?") or [])
        for values in commands.cnmi_settings(support, self._reports):
            if await self._try("AT+CNMI=" + ",".join(map(str, values))) is not None:
                return commands.cnmi_announces(values)
        return False

    def _set_sweep_interval(self, announced: bool) -> None:
        """Without +CMTI only the sweep finds new messages: sweep often (``fallback_sweep_interval``)."""
        was, self._announced = self._announced, announced
        if announced:
            self._sweep_interval = self.config.sweep_interval
            return
        self._sweep_interval = min(self.config.sweep_interval, self.config.fallback_sweep_interval)
        if was is not False:  # once, not at every reconnect
            LOGGER.warning("modem %s: no AT+CNMI setting it accepts announces new messages (+CMTI); "
                           "looking for them with AT+CMGL=4 every %g s instead of every %g s", self.id,
                           self._sweep_interval, self.config.sweep_interval)

    async def _resync(self) -> None:
        """ESC, then a bare AT until the modem answers.

        A daemon killed between ``AT+CMGS=`` and the PDU leaves the modem waiting
        for PDU text, which would swallow every later command; after a timeout a
        late answer may still be on its way.
        """
        channel = self._channel
        if channel is None:
            raise ModemUnavailable(self.id, "not connected")
        channel.abort_input()
        for attempt in range(3):
            try:
                await channel.command("AT", timeout=min(2.0, self.config.command_timeout))
                return
            except ModemError as exc:
                LOGGER.info("modem %s: no answer to AT (attempt %d): %s", self.id, attempt + 1, exc)
        raise ModemUnavailable(self.id, "does not answer AT")

    async def _unlock_sim(self) -> None:
        state = commands.parse_cpin(await self._cmd("AT+CPIN?", ends_with="+CPIN:"))
        if state in (None, "READY"):
            return
        if state == "SIM PIN" and self.config.pin is not None:
            # Entered once per start; a wrong PIN is never retried (three tries lock the SIM).
            await self._cmd(f'AT+CPIN="{self.config.pin.get_secret_value()}"')
            return
        raise ModemError(self.id, f"SIM needs attention: {state}")

    # ------------------------------------------------------------ health

    async def _health_timer(self) -> None:
        while True:
            await asyncio.sleep(self.config.health_interval)
            try:
                await self.check_health()
            except ModemUnavailable:
                raise
            except ModemError as exc:
                LOGGER.warning("modem %s: health check failed: %s", self.id, exc)

    async def check_health(self) -> Health:
        """Signal, registration, operator and storage use; a bare AT first is the watchdog."""
        registration = await health.poll(self.id, self._cmd, self._try, self.health, self.config.command_timeout)
        self._set_registration(registration)
        return self.health

    def _set_registration(self, state: int | None) -> None:
        before = self.health.registered
        self.health.registration = state
        if before != self.health.registered:
            LOGGER.warning("modem %s: %s", self.id, REGISTRATION_NAMES.get(state or 0, state))
            self.on_change()

    @property
    def can_send(self) -> bool:
        """Ready, allowed to send, and registered to a network."""
        return self.config.send and self.ready.is_set() and self.health.registered

    async def power_cycle(self) -> None:
        """Best effort ``AT+CFUN=1,1`` (a full reset) for a modem that stopped answering."""
        await health.power_cycle(self.id, self.config, self._opener)

    # ------------------------------------------------------------ receiving

    def _on_urc(self, line: str, second: str | None) -> None:
        if line.startswith("+CUSD:"):
            answer = ussd.parse_answer(line)
            if self._ussd is not None and not self._ussd.done() and answer is not None:
                self._ussd.set_result(answer)
            else:  # a second "+CUSD: 2" when the network releases the session: nothing asked
                LOGGER.debug("modem %s: USSD %s not awaited", self.id, line)
            return
        if line.startswith("+CREG:"):
            self._set_registration(commands.parse_creg(line, unsolicited=True))
            return
        notice = commands.parse_storage_notice(line)
        if notice:  # +CMTI or +CDSI, in whatever memory it names
            self._intake_idle.clear()
            self._work.put_nowait(("read", notice[1], notice[0]))
        elif line.startswith(("+CMT:", "+CDS:")) and second:
            self._intake_idle.clear()
            self._work.put_nowait(("pdu", second.strip()))
        else:
            LOGGER.debug("modem %s: URC %s", self.id, line)

    async def _sweep_timer(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            self._work.put_nowait(("sweep",))

    async def _receive_loop(self) -> None:
        while True:
            if self._work.empty():
                self._intake_idle.set()
            item = await self._next_work()
            if item[0] not in ("sweep", "undeleted"):
                self._intake_idle.clear()
            try:
                if item[0] == "read":
                    await self._read(item[1], item[2])
                elif item[0] == "pdu":
                    await self._process(None, item[1])
                    if self._needs_ack:
                        await self._try("AT+CNMA")  # else the network stops routing to us
                elif item[0] == "undeleted":
                    await self._retry_deletes()
                else:
                    await self._sweep()
            except ModemUnavailable:
                raise
            except ModemError as exc:
                LOGGER.warning("modem %s: receiving failed: %s", self.id, exc)
            except StorageUnavailable:  # said once by the database: the SMS stays on the SIM for the next sweep
                pass
            except Exception:  # e.g. the database refused: the SMS stays on the SIM for the next sweep
                LOGGER.exception("modem %s: could not hand a message up; it stays on the SIM", self.id)

    async def _next_work(self) -> tuple:
        """The next queued item, or ``("undeleted",)`` once a failed delete is due again."""
        due = self._undeleted.next_due()
        if due is None:
            return await self._work.get()
        try:
            async with asyncio.timeout(max(0.0, due - self._clock())):
                return await self._work.get()
        except TimeoutError:
            return ("undeleted",)

    async def _read(self, index: int, memory: str) -> None:
        """Read, hand up and delete one message stored in ``memory`` (SM, ME, SR for reports).

        A slot whose delete failed after its message was committed is only deleted, and only
        while it still holds that message: if the delete did happen after all, a new SMS may
        have taken the slot.
        """
        async with self._memory(memory) as selected:
            if not selected:
                return
            try:
                lines = await self._patiently(f"AT+CMGR={index}", after_timeout=True)
            except CommandError as exc:
                if exc.code == 321:  # invalid index: already read and deleted
                    LOGGER.info("modem %s: %s index %d is already gone", self.id, memory, index)
                    self._undeleted.forget((memory, index))
                    return
                raise
            stored = commands.parse_cmgr(lines, index)
            if stored and self._undeleted.holds((memory, index), stored.pdu):
                await self._delete(memory, index, stored.pdu)
                return
            self._undeleted.forget((memory, index))  # empty, or a new SMS in a slot freed after all
            if stored:
                await self._process(stored.index, stored.pdu, memory)

    async def _retry_deletes(self) -> None:
        """Delete again, after a while, the slots a modem refused to free (each with its backoff)."""
        for slot in self._undeleted.due(self._clock()):
            memory, index = slot
            try:
                await self._read(index, memory)
            except ModemUnavailable:
                raise
            except ModemError as exc:
                LOGGER.info("modem %s: %s index %d still not deleted: %s", self.id, memory, index, exc)
            if slot in self._undeleted.due(self._clock()):  # not read, so neither freed nor put off
                self._undeleted.postpone(slot, self._clock())

    @contextlib.asynccontextmanager
    async def _memory(self, memory: str):
        """Select ``memory`` for AT+CMGR/AT+CMGD (AT+CPMS), then the one selected before.

        Yields False when the modem refuses it.
        """
        before = self._memory_selected
        if memory == before:
            yield True
            return
        # While another memory is selected the submitter's AT+CMGR/AT+CMGD on SM slots must wait:
        # the outermost switch away from SM holds the storage lock.
        lock = self._storage_lock if before == "SM" else None
        if lock is not None:
            await lock.acquire()
        try:
            if await self._try(f'AT+CPMS="{memory}"') is None:
                yield False
                return
            self._memory_selected = memory
            try:
                yield True
            finally:
                self._memory_selected = before  # also if refused: (re)initialising selects SM again
                await self._try('AT+CPMS="SM","SM","SM"' if before == "SM" else f'AT+CPMS="{before}"')
        finally:
            if lock is not None:
                lock.release()

    async def _patiently(self, command: str, *, after_timeout: bool) -> list[str]:
        """``command``, sent again after 0.2, 0.5, 1 and 2 s while the answer is transient.

        Busy answers (TS 27.007 §9.2 ``+CME ERROR: 515``, TS 27.005 §3.2.5 ``+CMS ERROR: 314``)
        pass within seconds; leaving the SMS to the next sweep cost a minute. ``after_timeout``:
        whether a command that got no answer may be sent again (a read may; a delete may have
        happened, and its slot may hold a new SMS by now).
        """
        for delay in RETRY_DELAYS:
            try:
                return await self._cmd(command)
            except CommandTimeout:
                if not after_timeout:
                    raise
            except CommandError as exc:
                if not exc.transient:
                    raise
            LOGGER.info("modem %s: %s got a transient answer; again in %g s", self.id, command, delay)
            await asyncio.sleep(delay)
        return await self._cmd(command)

    async def _delete(self, memory: str, index: int, pdu: str) -> None:
        """Free a slot whose message is committed; one the modem will not free is tried again later."""
        try:
            async with self._memory(memory) as selected:
                if not selected:
                    raise ModemError(self.id, f"cannot select {memory}")
                await self._patiently(f"AT+CMGD={index}", after_timeout=False)
        except ModemError as exc:
            if self._undeleted.keep((memory, index), pdu, self._clock()):
                LOGGER.warning("modem %s: %s index %d holds a stored message but could not be deleted "
                               "(%s); trying again later", self.id, memory, index, exc)
            if isinstance(exc, ModemUnavailable):
                raise
            return
        self._undeleted.forget((memory, index))

    async def _sweep(self) -> None:
        # A long listing takes a real modem seconds; a hung one must not hold the line for long.
        listing = await self._cmd("AT+CMGL=4", timeout=min(30.0, self.config.command_timeout * 6))
        for stored in commands.parse_cmgl(listing):
            if stored.index is not None and self._undeleted.holds(("SM", stored.index), stored.pdu):
                await self._delete("SM", stored.index, stored.pdu)  # stored already; only its delete failed
                continue
            await self._process(stored.index, stored.pdu)
        if self._reports:
            await self._sweep_reports()
        for group in self._reassembler.expired():
            await self._hand_up(group, incomplete=True)

    async def _sweep_reports(self) -> None:
        """Status reports kept in SR whose +CDSI was missed (the daemon was down): read them too."""
        async with self._memory("SR") as selected:
            if not selected:
                return  # no SR memory: reports come as +CDS or not at all
            listing = await self._cmd("AT+CMGL=4", timeout=min(30.0, self.config.command_timeout * 6))
            for stored in commands.parse_cmgl(listing):
                await self._process(stored.index, stored.pdu, "SR")

    async def _process(self, index: int | None, hex_pdu: str, memory: str = "SM") -> None:
        try:
            decoded = decode(hex_pdu)
        except PduError as exc:
            LOGGER.error("modem %s: undecodable PDU at index %s (%s): %s", self.id, index, exc, hex_pdu)
            # Kept raw in the database (nothing is lost), then the SIM slot is freed.
            await self._sink(InboundMessage(self.id, "", "", None, sim_id=self.sim_id,
                                            raw_pdus=(hex_pdu,), error=str(exc)))
            if index is not None:
                await self._delete(memory, index, hex_pdu)
            return
        if isinstance(decoded, StatusReport):
            if self._report_sink is not None:
                await self._report_sink(DeliveryReport(
                    self.id, self.sim_id or self.id, decoded.reference, decoded.recipient.number,
                    decoded.status, decoded.discharge_time))
            if index is not None:
                await self._delete(memory, index, hex_pdu)
            return
        if isinstance(decoded, Submit):
            return  # an outgoing message in storage: the outbox's (store then send), tidied by it
        if not isinstance(decoded, Deliver):
            LOGGER.info("modem %s: skipping %s at index %s", self.id, type(decoded).__name__, index)
            if index is not None:
                await self._try(f"AT+CMGD={index}")
            return
        group = Group(0.0, {1: decoded}, {(memory, index): hex_pdu} if index is not None else {})
        if decoded.concat and decoded.concat.total > 1:
            group = self._reassembler.add(decoded, index, hex_pdu, memory)
            if group is None:
                return  # parts stay on the SIM until the whole message is stored
        await self._hand_up(group, incomplete=False)

    async def _hand_up(self, group: Group, incomplete: bool) -> None:
        first = group.parts[min(group.parts)]
        message = InboundMessage(
            modem_id=self.id, sender=first.sender.number, text=group.text(), smsc_time=first.scts,
            sim_id=self.sim_id, sender_is_alphanumeric=first.sender.is_alphanumeric,
            sender_type_of_number=first.sender.type_of_number,
            incomplete=incomplete, raw_pdus=(),
            binary=any(p.encoding == "8bit" for p in group.parts.values()))
        await self._sink(message)  # returns once committed: only now may the SIM copy go
        self.received += 1
        for (memory, index), pdu in sorted(group.slots.items()):
            await self._delete(memory, index, pdu)

    # ------------------------------------------------------------ sending

    def encode(self, number: str, text: str, status_report: bool | None = None) -> list[OutgoingPart]:
        """The SMS-SUBMIT parts of ``text`` to ``number`` with this modem's next concatenation
        reference and service centre (raises PduError when it cannot be encoded)."""
        bits = self.config.concat_ref_bits
        pdus = encode_submit(number, text, concat_reference=next(self._concat_ref) % (1 << bits),
                             ref_bits=bits, smsc=self.config.smsc,
                             status_report=self._reports if status_report is None else status_report)
        return [OutgoingPart(i, len(pdus), p.hex, p.tpdu_length) for i, p in enumerate(pdus, start=1)]

    async def send(self, number: str, text: str, status_report: bool | None = None) -> SendResult:
        """Send ``text`` to ``number``; all parts back to back on this modem, nothing journalled."""
        return await self.send_parts(self.encode(number, text, status_report), MemoryJournal())

    async def send_parts(self, parts: list[OutgoingPart], journal: SendJournal) -> SendResult:
        """Put the parts not yet sent on the air (see :mod:`.submit`), each step committed by
        ``journal``; the references are TP-MR per part (0 where unknown)."""
        if not self.ready.is_set() or self._channel is None:
            raise ModemUnavailable(self.id, "not ready")
        async with self._send_lock:
            try:
                await self._submitter.send(parts, journal)
            except CommandError as exc:
                if self.credit is not None:
                    self.credit.refused(exc.code if exc.kind == "CMS" else None)  # out of pulsa? ask
                raise
        self.sent += 1
        return SendResult(self.id, tuple(p.reference or 0 for p in parts), self.sim_id or self.id)

    async def wait_intake(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until nothing is waiting to be read; True when so."""
        try:
            async with asyncio.timeout(timeout):
                await self._intake_idle.wait()
            return True
        except TimeoutError:
            return False

    @property
    def storage_untidy(self) -> bool:
        """True when a sent part's slot could not be deleted (the outbox tidies up soon)."""
        return self._submitter.untidy

    async def tidy_storage(self, keep: set[int]) -> int:
        """Delete stored outgoing messages no outbox row needs (slots not in ``keep``)."""
        async with self._send_lock:
            return await self._submitter.tidy(keep)

    # ------------------------------------------------------------ USSD

    async def ask_ussd(self, code: str, packed: bool = False, timeout: float = USSD_TIMEOUT) -> ussd.UssdAnswer:
        """Ask the network ``code`` (``*888#``) by USSD (``AT+CUSD``, TS 27.007 7.15) and return its
        answer; ``packed``: the request in packed GSM 7-bit hex (Huawei). Raises ModemError when no answer
        comes within ``timeout`` s or the modem refuses, ModemUnavailable when it is not connected."""
        if self._ussd is not None:
            raise ModemError(self.id, "a USSD request is already waiting")
        self._ussd = asyncio.get_running_loop().create_future()
        try:
            # Some modems put +CUSD before the command's OK: it is then one of the command's lines.
            lines = await self._cmd(ussd.request(code, packed), timeout=timeout)
            early = next((a for a in map(ussd.parse_answer, lines) if a is not None), None)
            try:
                answer = early or await asyncio.wait_for(asyncio.shield(self._ussd), timeout)
            except asyncio.TimeoutError:
                await self._try("AT+CUSD=2")  # end the session the network never answered
                raise ModemError(self.id, f"no USSD answer to {code} within {timeout:.0f} s") from None
            if answer.status == 1:  # a menu asking back: this check wants nothing more
                await self._try("AT+CUSD=2")
            return answer
        except CommandError as exc:
            raise ModemError(self.id, f"USSD {code} refused: {exc.text}") from None
        finally:
            self._ussd = None

    # The Line the submitter drives.

    async def command(self, command: str, timeout: float | None = None) -> list[str]:
        """A storage command of the submitter (``AT+CMGR``/``AT+CMGD``/``AT+CMGL`` on SM slots): with SM
        selected, busy answers tried again within seconds (raises CommandError, CommandTimeout,
        ModemUnavailable)."""
        async with self._storage_lock:
            return await self._patiently(command, after_timeout=not command.upper().startswith("AT+CMGD"))

    async def send_command(self, command: str, data: str | None, timeout: float) -> list[str]:
        """A send step (``AT+CMSS``, ``AT+CMGS``, ``AT+CMGW`` with ``data``) and, when its result
        does not come within ``timeout`` s, the probe, holding the line together so nothing queued
        behind (a sweep, a read) waits on a hung modem first.

        Raises CommandTimeout when the modem answers the probe (the result was lost: resolve it),
        ModemUnavailable when it stays silent for the hang limit, CommandError on an error answer.
        """
        channel = self._channel
        if channel is None:
            raise ModemUnavailable(self.id, "not connected")
        if self._desynced:
            self._desynced = False
            await self._resync()
        async with channel.exclusive():
            try:
                if data is None:
                    return await channel.command(command, timeout, held=True)
                return await channel.command_with_data(command, data, timeout=timeout, held=True)
            except CommandTimeout:
                within = self._submitter.hang_limit
                LOGGER.warning("modem %s: no result to %s after %.0f s; probing it", self.id,
                               commands.redact(command), timeout)
                channel.expect_late(commands.response_prefix(command) or "+CMGS:")
                alive = await self._probe(channel, within)
                late = channel.take_late()
                if late is not None:  # the slow send answered after all, before the probe's answer
                    LOGGER.info("modem %s: the result of %s came late: %s", self.id, commands.redact(command),
                                late)
                    self._timeouts = 0
                    return late
                if not alive:
                    # Hung: end this connection so the pool reconnects (and resets) it and the
                    # other modems take over its work.
                    LOGGER.warning("modem %s: silent for %.0f s after %s; reconnecting it", self.id, within,
                                   commands.redact(command))
                    channel.close()
                    raise ModemUnavailable(self.id, f"silent for {within:.0f} s after {command}") from None
                self._timeouts = 0
                raise

    async def _probe(self, channel: AtChannel, within: float) -> bool:
        """ESC, then a bare ``AT`` each second until the modem answers (True) or ``within`` s pass.
        The caller holds the line."""
        channel.abort_input()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                await channel.command("AT", timeout=1.0, held=True)
            except CommandTimeout:
                continue
            except ModemError:
                pass  # an error answer is an answer: the modem is alive
            # A modem that was busy may answer earlier probes too: drain those before going on.
            try:
                await channel.sync(min(5.0, max(1.0, deadline - time.monotonic())))
            except CommandTimeout:
                continue
            return True
        return False
        channel.abort_input()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                await channel.command("AT", timeout=1.0)
            except CommandTimeout:
                continue
            except ModemError:
                pass  # an error answer is an answer: the modem is alive
            self._desynced, self._timeouts = False, 0
            return True
        return False
