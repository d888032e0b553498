"""The emulator on a real pty: what an unplugged modem says (nothing)."""

from __future__ import annotations

import asyncio
import os

from smsd_crm.emulator.pty_modem import PtyModem


async def _answer(path: str, command: bytes, timeout: float = 10.0) -> bytes:
    """Write ``command`` to the slave side and read until the final OK."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    loop = asyncio.get_running_loop()
    got = bytearray()
    try:
        os.write(fd, command)
        async with asyncio.timeout(timeout):
            while b"OK\r\n" not in got:
                readable = asyncio.Event()
                loop.add_reader(fd, readable.set)
                try:
                    await readable.wait()
                finally:
                    loop.remove_reader(fd)
                got += os.read(fd, 4096)
    finally:
        os.close(fd)
    return bytes(got)


async def test_what_a_modem_would_have_said_while_unplugged_is_not_heard_after_the_replug(tmp_path):
    emu = PtyModem("sim1", link=tmp_path / "ttyUSB0")
    await emu.start()
    try:
        emu.unplug()
        emu.core.cnmi_mt = 1  # as if it had not forgotten: something to say while unplugged
        emu.deliver("+6281234567890", "saat dicabut")  # +CMTI, or a late +CMGS, into the void
        await emu.replug()
        answer = await _answer(emu.device, b"AT\r")
        assert b"+CMTI" not in answer and answer.endswith(b"OK\r\n")
        assert len(emu.core.storage) == 1  # the SIM still holds the message
    finally:
        await emu.stop()
