"""Run :class:`EmulatorCore` on the master side of a real pseudo-terminal.

The daemon opens the slave path (or a symlink to it) exactly like ``/dev/ttyUSB0``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tty
from pathlib import Path

import phonenumbers

from ..files import private_dir
from ..sms.pdu import Concat
from .core import EmulatorCore, SubmittedSms

LOGGER = logging.getLogger(__name__)


def same_number(a: str, b: str) -> bool:
    """True when two spellings of a phone number (``0812…``, ``62812…``, ``+62812…``) are one."""
    def norm(n: str) -> str:
        try:
            return phonenumbers.format_number(phonenumbers.parse(n, "ID"),
                                              phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            return n
    return norm(a) == norm(b)


class PtyModem:
    """One emulated modem on a pseudo-terminal; ``path`` is what the daemon opens."""

    def __init__(self, modem_id: str = "emu1", link: str | Path | None = None, **core_options) -> None:
        self.modem_id = modem_id
        self.link = Path(link) if link else None
        self.core = EmulatorCore(modem_id, write=self._write, on_submit=self._submitted,
                                 schedule=self._later, **core_options)
        self._master = self._slave = -1
        self._out = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: list[tuple[str, asyncio.Queue]] = []
        self._watchers: list = []
        self.path = ""

    def _later(self, delay: float, fn) -> None:
        assert self._loop is not None
        self._loop.call_later(delay, fn)

    async def start(self) -> None:
        """Open the pty and start answering."""
        self._loop = asyncio.get_running_loop()
        self._master, self._slave = os.openpty()
        # Raw slave: no echo by the line discipline, no CR/LF translation. We keep
        # the slave open ourselves so the master never sees EIO between daemon runs.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        if self.link:
            private_dir(self.link.parent)
            self.link.unlink(missing_ok=True)
            self.link.symlink_to(self.path)
        self._loop.add_reader(self._master, self._readable)
        LOGGER.info("emulated modem %s on %s%s", self.modem_id, self.path,
                    f" (link {self.link})" if self.link else "")

    @property
    def device(self) -> str:
        """The path to open: the symlink if there is one, else the pty slave."""
        return str(self.link) if self.link else self.path

    async def stop(self) -> None:
        """Stop answering and close the pty."""
        if self._loop and self._master >= 0:
            self._loop.remove_reader(self._master)
            self._loop.remove_writer(self._master)
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
        if self.link:
            self.link.unlink(missing_ok=True)

    def unplug(self) -> None:
        """Pull the stick out: the port disappears, the daemon's reads and writes fail."""
        assert self._loop is not None
        self._loop.remove_reader(self._master)
        self._loop.remove_writer(self._master)
        os.close(self._master)
        os.close(self._slave)
        self._master = self._slave = -1
        self._out.clear()
        self.core.power_loss()
        if self.link:
            self.link.unlink(missing_ok=True)
        LOGGER.info("emulated modem %s unplugged", self.modem_id)

    async def replug(self) -> None:
        """Plug it back in: a new tty name, the same IMEI and SIM; the link follows it."""
        old = self.path
        # Hold the old tty number while plugging in, as re-enumeration does: a new name. Other
        # processes open and close ptys too, so take numbers until the old one is among them
        # (or it is not free at all).
        holds = []
        try:
            for _ in range(64):
                holds.append(os.openpty())
                if os.ttyname(holds[-1][1]) == old:
                    break
            await self.start()
        finally:
            for pair in holds:
                for fd in pair:
                    os.close(fd)
        LOGGER.info("emulated modem %s re-plugged: %s -> %s", self.modem_id, old, self.path)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            LOGGER.warning("emulated modem %s: read failed: %s", self.modem_id, exc)
            return
        self.core.feed(data)

    def _write(self, data: bytes) -> None:
        if self._master < 0:
            return  # unplugged: a modem without power says nothing, then or after the re-plug
        self._out += data
        self._flush()

    def _flush(self) -> None:
        if self._master < 0:
            return
        try:
            n = os.write(self._master, bytes(self._out))
            del self._out[:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            LOGGER.warning("emulated modem %s: write failed: %s", self.modem_id, exc)
            self._out.clear()
        if self._out:
            self._loop.add_writer(self._master, self._flush)
        elif self._loop:
            self._loop.remove_writer(self._master)

    # ------------------------------------------------------------ test and sim helpers

    def deliver(self, sender: str, text: str) -> list[int | None]:
        """An SMS from ``sender`` arrives at this modem."""
        return self.core.deliver(sender, text)

    def subscribe(self, number: str, queue: asyncio.Queue | None = None) -> asyncio.Queue:
        """A queue that receives every later SMS-SUBMIT addressed to ``number``."""
        queue = queue if queue is not None else asyncio.Queue()
        self._waiters.append((number, queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        """Stop feeding ``queue``."""
        self._waiters = [(n, q) for n, q in self._waiters if q is not queue]

    def watch(self, callback) -> None:
        """Call ``callback(record)`` with every later SMS-SUBMIT, whoever it is for."""
        self._watchers.append(callback)

    def _submitted(self, record: SubmittedSms) -> None:
        for callback in self._watchers:
            callback(record)
        for number, queue in self._waiters:
            if same_number(number, record.decoded.destination.number):
                queue.put_nowait(record)


async def next_message(queue: asyncio.Queue, timeout: float) -> tuple[str, str]:
    """(text, modem id) of the next whole message on a subscription queue, parts joined."""
    parts: dict[int, str] = {}
    async with asyncio.timeout(timeout):
        while True:
            record: SubmittedSms = await queue.get()
            concat: Concat | None = record.decoded.concat
            if concat is None:
                return record.decoded.text, record.modem_id
            parts[concat.sequence] = record.decoded.text
            if len(parts) == concat.total:
                return "".join(parts[i] for i in sorted(parts)), record.modem_id


async def next_reply(queue: asyncio.Queue, timeout: float) -> str:
    """The text of the next whole message on a subscription queue."""
    return (await next_message(queue, timeout))[0]
