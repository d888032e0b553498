"""Running under systemd: readiness, the watchdog's pings from the daemon's loop and the stop notice on a
real notify socket (what systemd listens on), and the unit file shipped with the package."""

from __future__ import annotations

import asyncio
import configparser
import os
import signal
import socket

import pytest

from smsd_crm.service_notify import ServiceNotifier

from .conftest import SMSD_CRM, write_config

pytestmark = pytest.mark.e2e


async def test_the_daemon_says_ready_pings_the_watchdog_from_its_loop_and_says_stopping(
        tmp_path, emulator, daemons, monkeypatch):
    address = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # a ping every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    loop = asyncio.get_running_loop()
    config = write_config(tmp_path, emulator.device)
    try:
        daemon = await daemons(config, tmp_path / "daemon.log")

        async def next_notice() -> list[str]:
            return (await asyncio.wait_for(loop.sock_recv(listener, 4096), 60)).decode().split("\n")

        seen: list[str] = []
        while "READY=1" not in seen:
            seen += await next_notice()
        assert any(line.startswith("STATUS=answering SMS on 1 modem(s)") for line in seen)
        pings = 0
        while pings < 3:  # the watchdog task keeps pinging while the loop runs
            pings += (await next_notice()).count("WATCHDOG=1")
        daemon.proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in (notice := await next_notice()):
            assert notice == ["WATCHDOG=1"], notice
        assert await daemon.stop() == 0
    finally:
        listener.close()


def test_outside_systemd_nothing_is_sent_and_another_process_s_watchdog_is_not_ours():
    quiet = ServiceNotifier({})
    assert not quiet.active and quiet.watchdog_interval is None
    quiet.ready("x")  # nothing to send to: no error
    assert ServiceNotifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000"}).watchdog_interval == 15.0
    # the watchdog was set for another process (the daemon's parent): not ours to ping
    assert ServiceNotifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000",
                            "WATCHDOG_PID": str(os.getpid() + 1)}).watchdog_interval is None


def test_an_abstract_socket_is_reached(tmp_path):
    name = f"smsd-crm-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        ServiceNotifier({"NOTIFY_SOCKET": "@" + name}).ready("up")
        assert listener.recv(4096) == b"READY=1\nSTATUS=up"


async def test_the_unit_runs_this_installation_as_a_notify_service_with_a_watchdog():
    proc = await asyncio.create_subprocess_exec(SMSD_CRM, "service", "unit", stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    unit = configparser.ConfigParser(interpolation=None, strict=False, comment_prefixes=("#",))
    unit.optionxform = str  # systemd's keys are case-sensitive
    unit.read_string(out.decode())
    service = unit["Service"]
    executable, command = service["ExecStart"].split(" ", 1)
    assert os.path.samefile(executable, SMSD_CRM) and command == "run -c /etc/smsd-crm/config.yaml"
    assert (service["Type"], service["WatchdogSec"], service["Restart"]) == ("notify", "60", "on-failure")
    assert (service["User"], service["SupplementaryGroups"]) == ("smsd-crm", "dialout")
    assert service["StateDirectory"] == "smsd-crm" and service["WorkingDirectory"] == "/var/lib/smsd-crm"
    assert service["EnvironmentFile"] == "-/etc/smsd-crm/env" and service["UMask"] == "0077"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
