"""Put an outbox message's parts on the air exactly once where the modem allows it.

Store then send (TS 27.005 3.5.3 ``AT+CMGW``, 3.5.2 ``AT+CMSS``): each part is written to the
SIM, its slot committed by the journal, sent from the slot (the journal commits "submitting"
first), committed sent, then the slot is deleted. A restart that finds a part ``stored`` or
``submitting`` reads its slot (``AT+CMGR``) before anything goes out again: "stored sent"
(``<stat>`` 3) means it is on the air already. Whether a model marks a slot "stored sent" after
``AT+CMSS`` differs, so it is learnt from the first send from storage and remembered per IMEI.

Modems without ``AT+CMGW``/``AT+CMSS`` (or with a full SIM) send with ``AT+CMGS``. There the
modem's own send time is a window in which a restart cannot know whether the part went out: it
is sent again and the possible duplicate is logged.

How long a send may take is learnt from the modem's last sends (:class:`SendTimer`); when that
passes without an answer, a bare ``AT`` every second tells a hung modem from a slow one instead
of waiting out the configured ``send_timeout``.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections import deque
from typing import Protocol

from ..errors import CommandError, CommandTimeout, SendUncertain
from ..models import ENCODED, SENT, STORED, SUBMITTING, OutgoingPart, SendJournal
from . import commands

LOGGER = logging.getLogger(__name__)

STORED_UNSENT, STORED_SENT = 2, 3  # TS 27.005 3.1 <stat>
MARKS_SENT = "marks_stored_sent"  # fact per IMEI: "yes" / "no"
_INVALID_INDEX = {("CMS", 321), ("CME", 21), ("CME", 22)}
_MEMORY_FULL = {("CMS", 322), ("CME", 20)}
_NOT_SUPPORTED = {("CMS", 302), ("CMS", 303), ("CME", 3), ("CME", 4)}


class ModemFacts(Protocol):
    """What was learnt about a modem model, by IMEI, kept across restarts."""

    async def get(self, imei: str, fact: str) -> str | None: ...

    async def put(self, imei: str, fact: str, value: str) -> None: ...


def _what(journal: SendJournal) -> str:
    """How logs name the message a journal belongs to ("message 12 to +62812...")."""
    return getattr(journal, "what", "a message")


class MemoryJournal:
    """A journal that keeps nothing (direct sends from tools and tests)."""

    async def record(self, part: OutgoingPart) -> None:
        return None


class MemoryFacts:
    """Facts kept for the life of the process."""

    def __init__(self) -> None:
        self._facts: dict[tuple[str, str], str] = {}

    async def get(self, imei: str, fact: str) -> str | None:
        return self._facts.get((imei, fact))

    async def put(self, imei: str, fact: str, value: str) -> None:
        self._facts[(imei, fact)] = value


class SendTimer:
    """How long to wait for ``+CMGS``/``+CMSS``: learnt from this modem's recent sends.

    3x the median of the last ``window`` send times plus 2 s, at least ``floor`` and at most
    ``ceiling`` (the configured ``send_timeout``); before any send, ``first`` (bounded too).
    Seconds throughout.
    """

    def __init__(self, ceiling: float, floor: float = 8.0, first: float = 30.0, window: int = 20) -> None:
        self.ceiling, self.floor, self.first = ceiling, min(floor, ceiling), min(first, ceiling)
        self._samples: deque[float] = deque(maxlen=window)

    def observe(self, seconds: float) -> None:
        self._samples.append(seconds)

    @property
    def timeout(self) -> float:
        if not self._samples:
            return self.first
        return max(self.floor, min(self.ceiling, 3 * statistics.median(self._samples) + 2.0))


class Line(Protocol):
    """What the submitter needs from its modem (:class:`smsd_crm.modem.modem.Modem`)."""

    id: str
    sim_id: str
    imei: str

    async def command(self, command: str, timeout: float | None = None) -> list[str]: ...

    async def send_command(self, command: str, data: str | None, timeout: float) -> list[str]: ...


class Submitter:
    """Sends parts for one modem; ``store_send`` is set from what the modem says it supports."""

    def __init__(self, line: Line, facts: ModemFacts, send_timeout: float, hang_limit: float = 30.0) -> None:
        self._line = line
        self._facts = facts
        self.timer = SendTimer(send_timeout)
        self.hang_limit = hang_limit  # seconds of silence before the modem counts as hung
        self.store_send = False
        self.untidy = False  # a sent part's slot could not be deleted: tidy up soon
        self._unsupported_answers = 0

    async def send(self, parts: list[OutgoingPart], journal: SendJournal) -> None:
        """Put every part not yet sent on the air, committing each step through ``journal``.

        Raises CommandError (the modem refused; ``message_fault`` when the message is to blame),
        SendUncertain (no result, the modem answers again: resolved on the next attempt) or
        ModemUnavailable (the modem stopped answering).
        """
        for part in parts:
            if part.state != SENT:
                await self._send_part(part, journal)

    async def _send_part(self, part: OutgoingPart, journal: SendJournal) -> None:
        line = self._line
        # Our slot if it was stored through this SIM, or through this modem when the SIM's identity
        # could not be read; the slot's content is compared before anything is concluded.
        ours = part.sim_id == self._sim or part.modem_id == line.id
        if part.state in (STORED, SUBMITTING) and part.storage_index is not None and ours:
            if await self._found_sent(part, journal):
                return
        elif part.state == SUBMITTING:
            LOGGER.warning("modem %s: part %d/%d of %s may be on the air already (%s without a result, %s); "
                           "sending it again: a possible duplicate", line.id, part.part, part.total,
                           _what(journal), part.via or "a send", "a modem without store then send"
                           if part.via == "CMGS" else f"stored on another SIM {part.sim_id}")
            self._forget_slot(part)
        elif part.state == STORED:
            self._forget_slot(part)  # written to another SIM, never submitted: its modem tidies it
        if part.state == ENCODED and self.store_send:
            index = await self._store(part)
            if index is not None:
                part.state, part.modem_id, part.sim_id, part.storage_index = STORED, line.id, self._sim, index
                await journal.record(part)
        if part.state == STORED:
            await self._send_stored(part, journal)
        else:
            await self._send_direct(part, journal)

    @property
    def _sim(self) -> str:
        """The SIM's identity as reports carry it: the IMSI, else the modem id."""
        return self._line.sim_id or self._line.id

    @staticmethod
    def _forget_slot(part: OutgoingPart) -> None:
        part.state, part.sim_id, part.storage_index, part.via = ENCODED, None, None, None

    # ------------------------------------------------------------ store then send

    async def _store(self, part: OutgoingPart) -> int | None:
        """``AT+CMGW``: the slot index, or None to send this part with ``AT+CMGS`` instead."""
        try:
            lines = await self._line.send_command(f"AT+CMGW={part.tpdu_length}", part.pdu, self.timer.floor)
        except CommandTimeout:
            self.untidy = True  # it may have been stored all the same: tidy before the next claim
            raise SendUncertain(self._line.id, "no answer to AT+CMGW") from None
        except CommandError as exc:
            key = (exc.kind, exc.code)
            if key in _MEMORY_FULL:
                LOGGER.warning("modem %s: SIM storage full; sending this part with AT+CMGS (a crash during "
                               "it may send it twice)", self._line.id)
                self.untidy = True
                return None
            if exc.kind == "" or key in _NOT_SUPPORTED:
                self._unsupported_answers += 1
                if self._unsupported_answers >= 3:
                    self.store_send = False
                    LOGGER.warning("modem %s refuses AT+CMGW (%s); sending with AT+CMGS from now on",
                                   self._line.id, exc.text)
                return None
            raise
        self._unsupported_answers = 0
        index = commands.parse_cmgw(lines)
        if index is None:
            LOGGER.warning("modem %s: no index in the AT+CMGW answer %r; sending with AT+CMGS",
                           self._line.id, lines)
        return index

    async def _send_stored(self, part: OutgoingPart, journal: SendJournal) -> None:
        assert part.storage_index is not None
        index = part.storage_index
        part.state, part.via = SUBMITTING, "CMSS"
        await journal.record(part)
        started = time.monotonic()
        try:
            lines = await self._line.send_command(f"AT+CMSS={index}", None, self.timer.timeout)
        except CommandTimeout:  # the modem answers again but the result was lost: read the slot
            if await self._found_sent(part, journal):
                return
            raise SendUncertain(self._line.id, f"no answer to AT+CMSS={index}") from None
        except CommandError as exc:
            # An error answer: nothing went out. The slot stays for the retry unless it is gone.
            if (exc.kind, exc.code) in _INVALID_INDEX:
                self._forget_slot(part)
            else:
                part.state = STORED
            await journal.record(part)
            raise
        self.timer.observe(time.monotonic() - started)
        await self._learn_marking(index)
        part.state, part.reference = SENT, commands.parse_cmgs(lines, "+CMSS:")
        await journal.record(part)
        await self._delete(index)

    async def _found_sent(self, part: OutgoingPart, journal: SendJournal) -> bool:
        """Read the part's slot: True (and committed sent) when it is on the air already.

        Otherwise the part is left ``stored`` (its slot holds it, unsent) or ``encoded`` (the
        slot no longer holds it), with a warning where a duplicate cannot be ruled out.
        """
        assert part.storage_index is not None
        index, line = part.storage_index, self._line
        try:
            stored = commands.parse_cmgr(await line.command(f"AT+CMGR={index}"), index)
        except CommandError as exc:
            if (exc.kind, exc.code) not in _INVALID_INDEX:
                raise
            stored = None
        if stored is None or not commands.same_submit(stored.pdu, part.pdu):
            if part.state == SUBMITTING:
                LOGGER.warning("modem %s: slot %d no longer holds part %d/%d of %s; sending it again: a "
                               "possible duplicate", line.id, index, part.part, part.total, _what(journal))
            self._forget_slot(part)
            return False
        if stored.stat == STORED_SENT:
            if await self._facts.get(line.imei, MARKS_SENT) != "yes":
                await self._facts.put(line.imei, MARKS_SENT, "yes")
            LOGGER.info("modem %s: part %d/%d of %s in slot %d is already on the air; not sent again",
                        line.id, part.part, part.total, _what(journal), index)
            part.state, part.reference = SENT, None
            await journal.record(part)
            await self._delete(index)
            return True
        marks = await self._facts.get(line.imei, MARKS_SENT)
        if part.state == SUBMITTING and marks != "yes":
            LOGGER.warning("modem %s %s messages sent from storage; part %d/%d of %s may be on the air "
                           "already: sending it again, a possible duplicate", line.id,
                           "does not mark" if marks == "no" else "has not shown yet whether it marks",
                           part.part, part.total, _what(journal))
        part.state = STORED
        return False

    async def _learn_marking(self, index: int) -> None:
        """After this modem's first send from storage: does it mark the slot "stored sent"?"""
        line = self._line
        if not line.imei or await self._facts.get(line.imei, MARKS_SENT) is not None:
            return
        try:
            stored = commands.parse_cmgr(await line.command(f"AT+CMGR={index}"), index)
        except CommandError:
            return
        if stored is not None and stored.stat in (STORED_UNSENT, STORED_SENT):
            marks = stored.stat == STORED_SENT
            await self._facts.put(line.imei, MARKS_SENT, "yes" if marks else "no")
            LOGGER.log(logging.INFO if marks else logging.WARNING,
                       "modem %s (IMEI %s) %s messages sent from storage%s", line.id, line.imei,
                       "marks" if marks else "does not mark",
                       "" if marks else ": after a crash mid-send a reply may go out twice")

    async def _delete(self, index: int) -> None:
        try:
            await self._line.command(f"AT+CMGD={index}")
        except CommandError as exc:  # left for the next tidy-up
            self.untidy = True
            LOGGER.info("modem %s: could not delete sent slot %d yet: %s", self._line.id, index, exc.text)

    # ------------------------------------------------------------ plain send

    async def _send_direct(self, part: OutgoingPart, journal: SendJournal) -> None:
        line = self._line
        part.state, part.via, part.modem_id, part.sim_id, part.storage_index = (
            SUBMITTING, "CMGS", line.id, self._sim, None)
        await journal.record(part)
        started = time.monotonic()
        try:
            lines = await line.send_command(f"AT+CMGS={part.tpdu_length}", part.pdu, self.timer.timeout)
        except CommandTimeout:
            raise SendUncertain(line.id, "no answer to AT+CMGS") from None
        except CommandError:
            part.state = ENCODED  # an error answer: it did not go out
            await journal.record(part)
            raise
        self.timer.observe(time.monotonic() - started)
        part.state, part.reference = SENT, commands.parse_cmgs(lines) or 0
        await journal.record(part)

    # ------------------------------------------------------------ storage hygiene

    async def tidy(self, keep: set[int]) -> int:
        """Delete stored outgoing messages (stat 2 and 3) whose slot is not in ``keep``: left by a
        crash between ``AT+CMGW`` and its commit, or a delete that failed. Returns how many."""
        removed = 0
        for stat in (STORED_UNSENT, STORED_SENT):
            try:
                listing = commands.parse_cmgl(await self._line.command(f"AT+CMGL={stat}"))
            except CommandError as exc:
                LOGGER.info("modem %s: cannot list stored outgoing messages: %s", self._line.id, exc.text)
                return removed
            for stored in listing:
                if stored.index is not None and stored.index not in keep:
                    await self._delete(stored.index)
                    removed += 1
        if removed:
            LOGGER.info("modem %s: deleted %d stored outgoing message(s) no outbox row needs", self._line.id,
                        removed)
        self.untidy = False
        return removed
