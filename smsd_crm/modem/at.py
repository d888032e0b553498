"""The AT channel: framing, one command in flight, unsolicited lines, the SMS prompt.

An ``asyncio.Protocol`` over any transport. It knows nothing of SMS; it returns
the information lines of a command and hands unsolicited lines to a callback.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Callable

from ..errors import CommandError, CommandTimeout, ModemUnavailable
from . import commands

LOGGER = logging.getLogger(__name__)
# The AT traffic, both ways, below DEBUG: it carries customers' texts and owners' PINs (as PDUs),
# so no configured level shows it; a developer sets this logger to 5 by hand.
TRACE = 5

CTRL_Z = b"\x1a"
GRACE = 0.3  # seconds to wait for a final OK after a line that may end the answer
ESCAPE = b"\x1b"
LINE_BREAK = re.compile(rb"[\r\n]")  # a line ends at CR or LF (CRLF: one empty line more)

UrcHandler = Callable[[str, str | None], None]  # (line, second line for two-line URCs)


@dataclass
class _Pending:
    command: str
    future: asyncio.Future
    lines: list[str]
    prefix: str | None
    echo: set[str]
    prompt: asyncio.Future | None = None
    ends_with: str | None = None  # an information line that may be the last one (no final OK)
    grace: asyncio.TimerHandle | None = None
    needs_info: bool = False  # a final before a line with ``prefix`` is a stray one: ignore it


class AtChannel(asyncio.Protocol):
    """Speaks to one modem. ``on_urc`` gets unsolicited lines; ``on_lost`` the end of the line."""

    def __init__(self, modem_id: str, on_urc: UrcHandler, on_lost: Callable[[Exception | None], None]):
        self.modem_id = modem_id
        self._on_urc = on_urc
        self._on_lost = on_lost
        self._transport: asyncio.BaseTransport | None = None
        self._buffer = b""
        self._pending: _Pending | None = None
        self._lock = asyncio.Lock()
        self._urc_waiting: str | None = None  # first line of a two-line URC
        # A send whose result did not come in time may still answer: its result line (prefix) and
        # the final after it are taken aside, never given to the command then waiting.
        self._late_prefix: str | None = None
        self._late_lines: list[str] = []
        self._late_final: commands.Final | None = None
        self.opened = asyncio.Event()
        self.closed = asyncio.Event()

    # ---------------------------------------------------------- protocol side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Serial transports call this on the next loop turn, not inside the open call.
        self._transport = transport
        self.opened.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._pending and not self._pending.future.done():
            self._pending.future.set_exception(ModemUnavailable(self.modem_id, f"port closed: {exc}"))
        if self._pending and self._pending.prompt and not self._pending.prompt.done():
            self._pending.prompt.set_exception(ModemUnavailable(self.modem_id, "port closed"))
        self.closed.set()
        self._on_lost(exc)

    def data_received(self, data: bytes) -> None:
        LOGGER.log(TRACE, "%s <- %r", self.modem_id, data)
        known = len(self._buffer)  # holds no line break: the last drain took every whole line
        self._buffer += data
        try:
            self._drain_buffer(known)
        except Exception:  # one bad frame must never kill the transport
            LOGGER.exception("%s: error while handling modem output %r", self.modem_id, commands.shown(data))

    def _drain_buffer(self, scan_from: int = 0) -> None:
        # One pass over what arrived: a long answer (a full SIM listed by AT+CMGL, hundreds of lines)
        # cut line by line from the front was quadratic and held the loop for tens of milliseconds.
        buffer, start = self._buffer, 0
        while (brk := LINE_BREAK.search(buffer, max(start, scan_from))) is not None:
            line = buffer[start:brk.start()].decode("latin-1").strip()
            start = brk.end()
            if line:
                self._handle_line(line)
        if start:
            self._buffer = buffer[start:]
        self._check_prompt()

    def _check_prompt(self) -> None:
        p = self._pending
        if p is None or p.prompt is None or p.prompt.done():
            return
        rest = self._buffer.lstrip(b"\r\n")
        if rest.startswith(b">"):
            self._buffer = rest[1:].lstrip(b" ")
            p.prompt.set_result(None)

    def _handle_line(self, line: str) -> None:
        if self._urc_waiting is not None:
            first, self._urc_waiting = self._urc_waiting, None
            self._dispatch_urc(first, line)
            return
        if self._late_prefix is not None and self._late_final is None:
            if line.startswith(self._late_prefix):
                self._late_lines.append(line)
                return
            if self._late_lines:
                final = commands.parse_final(line)
                if final is not None:
                    self._late_final = final  # the late send's own final
                    return
        p = self._pending
        if p is not None:
            if line in p.echo:
                return
            if p.prompt is not None and not p.prompt.done() and line.rstrip() in (">", "> "):
                p.prompt.set_result(None)  # the bare '>' prompt some modems end with CRLF
                return
            final = commands.parse_final(line)
            if final is not None:
                if p.needs_info and not any(x.startswith(p.prefix or "") for x in p.lines):
                    LOGGER.debug("%s: stray final %r before the answer to %s", self.modem_id, line, p.command)
                    return
                if p.grace is not None:
                    p.grace.cancel()
                if not p.future.done():
                    p.future.set_result((final, p.lines))
                return
            if p.prefix and line.startswith(p.prefix):
                p.lines.append(line)
                if p.ends_with and line.startswith(p.ends_with):
                    # Some modems (Wavecom) send no OK after this line: wait briefly for one,
                    # then take the line as the whole answer.
                    p.grace = asyncio.get_running_loop().call_later(
                        GRACE, lambda: p.future.done() or p.future.set_result((commands.Final(True), p.lines)))
                return
        if commands.is_urc(line):
            if line.startswith(commands.TWO_LINE_URCS):
                self._urc_waiting = line
            else:
                self._dispatch_urc(line, None)
            return
        if p is not None:
            p.lines.append(line)
        else:
            LOGGER.debug("%s: unexpected line ignored: %r", self.modem_id, commands.shown(line))

    def _dispatch_urc(self, line: str, second: str | None) -> None:
        try:
            self._on_urc(line, second)
        except Exception:
            LOGGER.exception("%s: URC handler failed on %r", self.modem_id, commands.shown(line))

    # ---------------------------------------------------------- caller side

    def _write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise ModemUnavailable(self.modem_id, "port is closed")
        LOGGER.log(TRACE, "%s -> %r", self.modem_id, commands.redact(data.decode("latin-1")))
        self._transport.write(data)  # type: ignore[attr-defined]

    def expect_late(self, prefix: str) -> None:
        """A send timed out: its result line (``+CMSS:``...) and final may still come; keep them aside."""
        self._late_prefix, self._late_lines, self._late_final = prefix, [], None

    def take_late(self) -> list[str] | None:
        """The late send's lines if its result came with OK since :meth:`expect_late`; stops expecting."""
        lines, final = self._late_lines, self._late_final
        self._late_prefix, self._late_lines, self._late_final = None, [], None
        return lines if lines and final is not None and final.ok else None

    async def sync(self, timeout: float) -> None:
        """``AT+CSQ`` and ignore every final until its ``+CSQ:`` line: answers to earlier probes that
        a busy modem kept for later are drained, so the next command gets its own answer. The
        caller holds :meth:`exclusive`."""
        loop = asyncio.get_running_loop()
        pending = _Pending("AT+CSQ", loop.create_future(), [], "+CSQ:", {"AT+CSQ", "AT+CSQ\r"},
                           needs_info=True)
        self._pending = pending
        try:
            self._write(b"AT+CSQ\r")
            async with asyncio.timeout(timeout):
                await pending.future
        except TimeoutError:
            raise CommandTimeout(self.modem_id, "no answer to 'AT+CSQ' while resynchronising") from None
        finally:
            self._pending = None

    def exclusive(self) -> asyncio.Lock:
        """Hold the line for several exchanges (``async with channel.exclusive():``), passing
        ``held=True`` to each: nothing queued behind runs in between."""
        return self._lock

    async def command(self, command: str, timeout: float = 5.0, ends_with: str | None = None,
                      held: bool = False) -> list[str]:
        """Send one command and return its information lines; raise on error or timeout.

        ``ends_with``: an information-line prefix after which a missing final OK is tolerated.
        ``held``: the caller holds :meth:`exclusive`.
        """
        if held:
            final, lines = await self._exchange(command, timeout, None, 0.0, ends_with)
        else:
            async with self._lock:
                final, lines = await self._exchange(command, timeout, None, 0.0, ends_with)
        return self._check(command, final, lines)

    async def command_with_data(
        self, command: str, data: str, prompt_timeout: float = 10.0, timeout: float = 60.0, held: bool = False
    ) -> list[str]:
        """``AT+CMGS=<n>`` style: wait for the ``>`` prompt, send ``data`` and Ctrl-Z."""
        if held:
            final, lines = await self._exchange(command, timeout, data, prompt_timeout)
        else:
            async with self._lock:
                final, lines = await self._exchange(command, timeout, data, prompt_timeout)
        return self._check(command, final, lines)

    async def _exchange(self, command: str, timeout: float, data: str | None, prompt_timeout: float,
                        ends_with: str | None = None):
        loop = asyncio.get_running_loop()
        # The echo of a secret (AT+CPIN="1234") must be dropped, never logged as a stray line.
        echo = {command, command + "\r"} | ({data, data + "\x1a"} if data else set())
        pending = _Pending(command, loop.create_future(), [], commands.response_prefix(command), echo,
                           ends_with=ends_with)
        if data is not None:
            pending.prompt = loop.create_future()
        if self._buffer:
            # An unfinished line from before this command cannot be part of its answer.
            LOGGER.debug("%s: dropping stale partial line %r", self.modem_id, commands.shown(self._buffer[:80]))
            self._buffer = b""
        self._pending = pending  # the listener exists before the bytes are written
        try:
            self._write(command.encode("ascii") + b"\r")
            if pending.prompt is not None:
                # An error final may come instead of the prompt: wait for either.
                await asyncio.wait({pending.prompt, pending.future}, timeout=prompt_timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
                if pending.future.done():
                    return pending.future.result()
                if not pending.prompt.done():
                    self._write(ESCAPE)  # abandon the half-entered command
                    raise CommandTimeout(self.modem_id, f"no '>' prompt after {commands.redact(command)!r}")
                pending.prompt.result()
                self._write(data.encode("ascii") + CTRL_Z)
            try:
                async with asyncio.timeout(timeout):
                    return await pending.future
            except TimeoutError:
                raise CommandTimeout(self.modem_id,
                                     f"no answer to {commands.redact(command)!r} in {timeout:g} s") from None
        finally:
            if pending.grace is not None:
                pending.grace.cancel()
            self._pending = None

    def _check(self, command: str, final: commands.Final, lines: list[str]) -> list[str]:
        if final.ok:
            return lines
        raise CommandError(self.modem_id, commands.redact(command), final.kind, final.code, final.text,
                           final.transient, commands.blames_message(final.kind, final.code))

    def abort_input(self) -> None:
        """Send ESC: ends an SMS entry a previous run left open after ``AT+CMGS``."""
        self._write(ESCAPE)

    def close(self) -> None:
        """Close the transport (idempotent)."""
        if self._transport is not None:
            self._transport.close()
