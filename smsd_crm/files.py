"""Files private to the user running smsd-crm: customer data, password hashes, the dashboards' signing
key and logs are readable by nobody else on the PC (standard library only).

- ``smsd-crm`` sets the umask to 077 first thing, so whatever it creates is 0600 (files) or 0700
  (folders).
- The database (with its ``-wal``, ``-shm`` and ``-journal``) and the log file are created 0600 in
  folders created 0700 by :func:`private_file` / :func:`private_dir` whatever the umask (a program that
  embeds the daemon), and an existing one that others could read is made 0600 at start (logged).
- A folder that already exists is never changed (it may be a home or a shared folder): the daemon
  warns at start when others can enter a data folder (:func:`open_folder_warnings`).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

LOGGER = logging.getLogger(__name__)
FILE_MODE = 0o600
DIR_MODE = 0o700
UMASK = 0o077
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_process() -> None:
    """From now on this process creates files 0600 and folders 0700."""
    os.umask(UMASK)


def private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents as 0700; an existing folder is left as it is."""
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode passes through the umask; this does not


def private_file(path: Path, *, create: bool = True) -> None:
    """Make ``path`` a file only its owner can read and write: created empty 0600 when missing (if
    ``create``); group's and others' access taken away when they had any (logged: it happens once)."""
    private_dir(path.parent)
    if create:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        except FileExistsError:
            pass
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, mode & 0o700)
        LOGGER.warning("%s was open to others (%04o); it is now %04o", path, mode, mode & 0o700)


def private_database(path: Path) -> None:
    """The database file and its side files, 0600 in a 0700 folder (SQLite gives the side files it
    creates the database file's mode)."""
    private_file(path)
    for suffix in SQLITE_SIDE_FILES:
        private_file(path.with_name(path.name + suffix), create=False)


def open_folder_warnings(folders: list[Path]) -> list[str]:
    """A warning for each existing folder others may enter (smsd-crm leaves existing folders alone)."""
    out = []
    for folder in dict.fromkeys(folders):
        try:
            mode = stat.S_IMODE(os.stat(folder).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            out.append(f"folder {folder} is open to others ({mode:04o}); its files are private, but "
                       f"'chmod 700 {folder}' hides their names too (docs/security.md)")
    return out
