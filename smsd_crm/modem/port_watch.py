"""Watch a disconnected modem's device path: a re-plugged stick is reopened at once.

A cheap ``os.stat`` every ``poll`` seconds during the reconnect backoff; no
inotify (it would be a new dependency, and udev replaces /dev/serial/by-id links
rather than writing to them).
"""

from __future__ import annotations

import asyncio
import os

PORT_POLL = 0.25  # seconds between looks at the path


def port_identity(port: str) -> tuple[int, int, int] | None:
    """(device, inode, rdev) of what ``port`` names now; None when it is missing."""
    try:
        st = os.stat(port)  # follows a by-id symlink to the tty it names today
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_rdev


def is_path(port: str) -> bool:
    """False for ``socket://host:port`` and other pyserial URLs: nothing to watch."""
    return "://" not in port


async def wait_for_port(port: str, delay: float, poll: float = PORT_POLL) -> bool:
    """Wait up to ``delay`` s; True as soon as the device path appears or changes.

    A path that stays as it was (a hung modem on a present tty) waits the whole
    delay, as does a URL port: False.
    """
    if not is_path(port):
        await asyncio.sleep(delay)
        return False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + delay
    before = port_identity(port)
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(poll, left))
        now = port_identity(port)
        if now is not None and now != before:
            return True
        before = now  # once gone, its return counts even as the same tty
    return False
