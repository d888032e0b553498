"""A Unix socket through which ``smsd-crm sim`` plays a customer's phone on emulated modems.

One JSON object per line. Request ``{"op": "send", "from": "+62812…", "text": "…",
"timeout": 30}``; answer ``{"ok": true, "reply": "…"}`` once the daemon's reply to
that number has gone out through an emulated modem, or ``{"ok": false, "error": "…"}``.
Only emulated modems are reachable this way, never a real one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from pathlib import Path

from ..files import private_dir
from .pty_modem import PtyModem, next_message

LOGGER = logging.getLogger(__name__)
MAX_REQUEST = 64 * 1024


async def _answer(request: dict, modems: list[PtyModem]) -> dict:
    if request.get("op") == "status":
        return {"ok": True, "modems": [{"id": m.modem_id, "device": m.device,
                                         "stored": len(m.core.storage)} for m in modems]}
    if request.get("op") != "send":
        return {"ok": False, "error": "unknown op (use send or status)"}
    sender, text = request.get("from"), request.get("text")
    if not isinstance(sender, str) or not isinstance(text, str) or not sender.strip():
        return {"ok": False, "error": "send needs 'from' and 'text' strings"}
    if re.fullmatch(r"[+\d\s().-]+", sender):
        sender = re.sub(r"[\s().-]", "", sender)  # "0812-3456 7890" as people type it
    try:
        timeout = min(float(request.get("timeout", 30)), 300.0)
    except (TypeError, ValueError):
        return {"ok": False, "error": "timeout must be a number of seconds"}
    target = next((m for m in modems if m.modem_id == request.get("modem")), modems[0])
    queue: asyncio.Queue = asyncio.Queue()
    for m in modems:  # the reply may leave through any modem of the pool
        m.subscribe(sender, queue)
    try:
        try:
            target.deliver(sender, text)
        except Exception as exc:  # bad input (e.g. an unencodable sender) is the caller's mistake
            return {"ok": False, "error": f"cannot deliver: {exc}"}
        if timeout <= 0:
            return {"ok": True, "reply": None}
        try:
            text, via = await next_message(queue, timeout)
            return {"ok": True, "reply": text, "via": via}
        except TimeoutError:
            return {"ok": False, "error": f"no reply within {timeout:g} s"}
    finally:
        for m in modems:
            m.unsubscribe(queue)


async def serve_control(path: Path, modems: list[PtyModem]) -> asyncio.AbstractServer:
    """Listen on ``path`` (mode 0600) for simulator requests."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            try:
                request = json.loads(line[:MAX_REQUEST])
                answer = await _answer(request, modems) if isinstance(request, dict) else {
                    "ok": False, "error": "request must be a JSON object"}
            except json.JSONDecodeError:
                answer = {"ok": False, "error": "request is not JSON"}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the daemon is stopping; the client sees the connection close
        finally:
            writer.close()

    private_dir(path.parent)
    path.unlink(missing_ok=True)
    old = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(handle, path=str(path), limit=MAX_REQUEST)
    finally:
        os.umask(old)
    LOGGER.info("simulator socket at %s", path)
    return server


async def request(path: Path, payload: dict, timeout: float) -> dict:
    """Send one request to a running daemon's simulator socket and return its answer."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_REQUEST)
        try:
            writer.write(json.dumps(payload).encode() + b"\n")
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
    if not line:
        return {"ok": False, "error": "the daemon closed the connection (is it stopping?)"}
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return {"ok": False, "error": "the daemon sent an unreadable answer"}
