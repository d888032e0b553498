"""systemd's service notifications (sd_notify(3)), without libsystemd: datagrams on ``$NOTIFY_SOCKET``.

- ``READY=1`` once the daemon answers SMS (``Type=notify``: ``systemctl start`` returns then, and units
  ordered after it start then);
- ``WATCHDOG=1`` every half ``$WATCHDOG_USEC``, sent by a task on the daemon's own event loop: a loop
  stuck in a blocking call sends none, and systemd restarts the service (``WatchdogSec=``);
- ``STOPPING=1`` when it stops; ``STATUS=...`` a line ``systemctl status`` shows.

Outside systemd (no ``$NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Mapping

LOGGER = logging.getLogger(__name__)
MIN_PING = 0.05  # seconds between two pings at the most


class ServiceNotifier:
    """Notifications to the service manager named by ``environ`` (default: the process's)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # "@name" is an abstract socket (Linux): a leading NUL byte
        self._address = ("\0" + address[1:]) if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        micro = int(usec) if usec.isascii() and usec.isdigit() else 0
        # half the watchdog's time, but not a busy loop for a nonsense value (systemd's is seconds)
        self.watchdog_interval = max(micro / 2e6, MIN_PING) if micro > 0 and mine else None

    @property
    def active(self) -> bool:
        return bool(self._address)

    def notify(self, *lines: str) -> None:
        """Send ``lines`` (``KEY=value``) as one datagram; a failure is logged, never raised."""
        if not self._address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:
            LOGGER.warning("cannot notify the service manager at %s: %s", self._address.lstrip("\0"), exc)

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")

    def stopping(self) -> None:
        self.notify("STOPPING=1", "STATUS=stopping")

    async def watchdog(self) -> None:
        """``WATCHDOG=1`` at half the watchdog's interval, from this event loop, until cancelled."""
        if self.watchdog_interval is None or not self.active:
            return
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_interval)
