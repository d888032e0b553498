"""Where the config file is looked for, and where the data it names by relative paths lives.

Lookup order (the first that exists wins; an explicit ``-c`` always wins, even when missing, so a
typo is reported instead of silently running another shop's config):

1. ``-c PATH`` on the command line,
2. ``$SMSD_CRM_CONFIG``,
3. ``./config.yaml`` (a checkout, the demo),
4. ``/etc/smsd-crm/config.yaml`` (an installed service, ``docs/operations.md``).

Relative data paths (``database.path``, ``logging.file``, ``emulator.control_socket``) are anchored
beside the config file, except for a config under ``/etc/smsd-crm``: /etc is for configuration, not
state (FHS), so they go under ``$STATE_DIRECTORY`` (set by systemd's ``StateDirectory=``) or
``/var/lib/smsd-crm``. ``{$file: ...}`` secrets and ``plugins_dir`` stay beside the config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

ENV_CONFIG = "SMSD_CRM_CONFIG"
LOCAL_CONFIG = Path("config.yaml")
SYSTEM_CONFIG = Path("/etc/smsd-crm/config.yaml")
SYSTEM_STATE = Path("/var/lib/smsd-crm")


def find_config(explicit: str | Path | None = None, environ: Mapping[str, str] | None = None,
                cwd: Path | None = None, system: Path = SYSTEM_CONFIG) -> Path:
    """The config file to read: ``explicit``, else ``$SMSD_CRM_CONFIG``, else the first of
    ``./config.yaml`` and ``system`` that exists, else ``./config.yaml`` (whose absence the loader
    reports). Relative answers are relative to ``cwd`` (default: the process's)."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    here = cwd or Path.cwd()
    if (here / LOCAL_CONFIG).exists():
        return LOCAL_CONFIG
    if system.exists():
        return system
    return LOCAL_CONFIG


def data_folder(config: Path, environ: Mapping[str, str] | None = None,
                system: Path = SYSTEM_CONFIG) -> Path:
    """The folder relative data paths of ``config`` are anchored in (absolute)."""
    env = os.environ if environ is None else environ
    folder = config.resolve().parent
    if folder == system.resolve().parent:
        return Path(env.get("STATE_DIRECTORY", "").split(":")[0] or SYSTEM_STATE)
    return folder
