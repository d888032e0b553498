"""Open a modem port: the single seam between the AT channel and the operating system.

A device path goes through pyserial-asyncio-fast (exclusive lock, so a second
program such as ModemManager cannot steal responses); ``socket://host:port``
connects over TCP (for modems behind a serial server, and for tests).
"""

from __future__ import annotations

import asyncio
from typing import Callable

import serial
import serial_asyncio_fast

from ..errors import ModemUnavailable


async def open_port(modem_id: str, url: str, protocol_factory: Callable[[], asyncio.Protocol],
                    baudrate: int = 115200, timeout: float = 10.0):
    """Open ``url`` and return ``(transport, protocol)``; ModemUnavailable if it cannot be opened."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            if url.startswith("socket://"):
                host, _, port = url[len("socket://"):].rpartition(":")
                return await loop.create_connection(protocol_factory, host, int(port))
            transport, protocol = await serial_asyncio_fast.create_serial_connection(
                loop, protocol_factory, url, baudrate=baudrate, exclusive=True)
            transport.serial.reset_input_buffer()  # drop what piled up while nobody listened
            return transport, protocol
    except (OSError, serial.SerialException, ValueError, TimeoutError) as exc:
        raise ModemUnavailable(modem_id, f"cannot open {url}: {exc}") from None
