"""A real PostgreSQL server for the tests: Debian's ``postgresql`` package (``make test`` installs it),
a cluster made in a temporary folder, listening on a Unix socket only (no TCP), one fresh database
per test. Durability is switched off (fsync, synchronous_commit): a test cluster is thrown away;
``durable=True`` (the benchmarks) leaves fsync, synchronous_commit and full_page_writes at the
server's defaults, as a shop's server runs.

PostgreSQL refuses to run as root; as root (CI) the server runs as the package's ``postgres`` user.
The server dies with the test run that started it, even a killed one.
"""

from __future__ import annotations

import ctypes
import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

READY = "database system is ready to accept connections"
START_TIMEOUT = 60.0
PR_SET_PDEATHSIG = 1  # prctl(2)


def binaries() -> Path:
    """The newest installed server's bin folder; RuntimeError with the fix when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `make test` installs Debian's postgresql package "
                           "(apt-get install postgresql)")
    return Path(found[-1]).parent


class PostgresServer:
    """One cluster; :meth:`new_database` gives a URL of a new empty database on it."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.folder = Path(tempfile.mkdtemp(prefix="smsd-pg-"))
        self.data = self.folder / "data"
        self.socket = self.folder / "socket"
        self.process: subprocess.Popen | None = None
        self.log: list[str] = []
        self._names = itertools.count(1)
        self._user: pwd.struct_passwd | None = None
        self.socket.mkdir()
        if os.geteuid() == 0:
            self._user = pwd.getpwnam("postgres")
            for path in (self.folder, self.socket):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _child(self) -> None:
        """In the server's process before it starts: the ``postgres`` user when we are root, and an
        immediate shutdown (SIGQUIT) when the test run dies, so a killed run leaves no server behind.
        The death signal is set after the user change, which clears it."""
        if self._user is not None:
            os.setgroups([])
            os.setgid(self._user.pw_gid)
            os.setuid(self._user.pw_uid)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)

    def start(self) -> "PostgresServer":
        bin_dir = binaries()
        if not self.data.exists():
            subprocess.run([str(bin_dir / "initdb"), "-D", str(self.data), "--auth=trust", "--locale=C",
                            "--encoding=UTF8", "--username=postgres", "--no-sync"],
                           check=True, capture_output=True, timeout=120, preexec_fn=self._child)
        fast = [] if self.durable else ["-c", "fsync=off", "-c", "synchronous_commit=off",
                                        "-c", "full_page_writes=off"]
        self.process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(self.data), "-k", str(self.socket),
             "-c", "listen_addresses=", *fast,
             "-c", "max_connections=300", "-c", "shared_buffers=32MB",
             "-c", "log_min_messages=warning", "-c", "log_statement=none"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
            preexec_fn=self._child)
        ready = threading.Event()

        def read() -> None:
            assert self.process is not None and self.process.stderr is not None
            for line in self.process.stderr:
                self.log.append(line)
                if READY in line:
                    ready.set()
            ready.set()  # the server ended: start() reports it

        threading.Thread(target=read, name="postgres-log", daemon=True).start()
        # The server says when it accepts connections: that line is the event waited for.
        if not ready.wait(START_TIMEOUT) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError("PostgreSQL did not start:\n" + "".join(self.log[-20:]))
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket}"

    def new_database(self) -> str:
        """A new empty database's URL (C collation like the cluster)."""
        name = f"t{os.getpid()}_{next(self._names)}"
        subprocess.run([str(binaries() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url(),
                        "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True, timeout=60)
        return self.url(name)

    def halt(self) -> None:
        """Stop the server, keeping its data: every connection is cut, new ones are refused until
        :meth:`start` (a server restarting, the link to it down)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # fast shutdown: disconnects clients, no waiting
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)
