"""Watching a disconnected modem's device path (port_watch.py) on real files and ptys."""

from __future__ import annotations

import asyncio
import os

from smsd_crm.modem.port_watch import is_path, port_identity, wait_for_port


def test_urls_are_not_paths():
    assert not is_path("socket://127.0.0.1:7000")
    assert is_path("/dev/serial/by-id/usb-HUAWEI-if00-port0")


async def test_a_path_that_stays_as_it_was_waits_the_whole_delay(tmp_path):
    port = tmp_path / "ttyUSB0"
    port.write_text("")
    assert await wait_for_port(str(port), 0.3, poll=0.05) is False
    assert await wait_for_port("socket://127.0.0.1:7000", 0.01) is False


async def test_a_path_that_appears_ends_an_hour_long_wait(tmp_path):
    port = tmp_path / "ttyUSB0"
    waiting = asyncio.create_task(wait_for_port(str(port), 3600, poll=0.05))
    await asyncio.sleep(0)  # it has looked once: the path is missing
    port.write_text("")
    assert await asyncio.wait_for(waiting, 30) is True


async def test_a_link_moved_to_another_tty_ends_the_wait(tmp_path):
    """Re-enumeration between two looks: the by-id link never went missing but names a new tty."""
    ptys = [os.openpty(), os.openpty()]
    try:
        link = tmp_path / "by-id"
        link.symlink_to(os.ttyname(ptys[0][1]))
        waiting = asyncio.create_task(wait_for_port(str(link), 3600, poll=0.05))
        await asyncio.sleep(0)
        moved = tmp_path / "by-id.new"
        moved.symlink_to(os.ttyname(ptys[1][1]))
        moved.replace(link)  # atomically, as udev does
        assert port_identity(str(link)) is not None
        assert await asyncio.wait_for(waiting, 30) is True
    finally:
        for pair in ptys:
            for fd in pair:
                os.close(fd)
