"""Where the daemon's log lines go, and in which shape.

- A terminal (or a plain pipe): ``time level logger: message``.
- systemd's journal (stderr is the stream named in ``$JOURNAL_STREAM``, see systemd.exec(5)): no
  time (the journal stamps every line; a second stamp is noise) and the level as a ``<N>`` syslog
  priority prefix, which journald reads (``SyslogLevelPrefix=``, on by default), so
  ``journalctl -p warning`` works.
- ``logging.file``: a :class:`logging.handlers.WatchedFileHandler`, which reopens the file when
  logrotate has moved it (a plain FileHandler keeps writing into the rotated file).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Mapping, TextIO

from .. import files

PLAIN = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# syslog(3) priorities: 3 err, 4 warning, 6 info, 7 debug (sd-daemon(3)); CRITICAL is 2
PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message``; every line of a multi-line record (a traceback) carries the
    prefix, since journald splits the stream into entries at newlines."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{PRIORITY.get(record.levelno, 6)}>"
        text = f"{record.name}: {super().format(record)}"
        return "\n".join(prefix + line for line in text.splitlines())


class PrivateWatchedFileHandler(logging.handlers.WatchedFileHandler):
    """A :class:`~logging.handlers.WatchedFileHandler` whose new file (after a rotation too) is made
    0600 before it is opened: logs name customers, whatever the process's umask."""

    def _open(self):  # type: ignore[no-untyped-def]
        files.private_file(Path(self.baseFilename))
        return super()._open()


def under_journald(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``stream`` is connected to the journal: ``$JOURNAL_STREAM`` is ``device:inode``
    of the very file descriptor (a child whose stderr was redirected inherits the variable)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (device, inode)


def set_up(level: str, file: Path | None = None, stream: TextIO | None = None,
           environ: Mapping[str, str] | None = None) -> None:
    """Replace the root logger's handlers: ``stream`` (stderr) and, when given, the log file."""
    stream = stream or sys.stderr
    console = logging.StreamHandler(stream)
    console.setFormatter(JournalFormatter() if under_journald(stream, environ) else logging.Formatter(PLAIN))
    handlers: list[logging.Handler] = [console]
    if file is not None:
        handler = PrivateWatchedFileHandler(file, encoding="utf-8")
        handler.setFormatter(logging.Formatter(PLAIN))
        handlers.append(handler)
    logging.basicConfig(level=level, handlers=handlers, force=True)
    # Each SQL statement at DEBUG would bury the AT traffic an operator turns DEBUG on for.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
