"""``smsd-crm service unit``: the systemd unit shipped with the package, for this installation."""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

UNIT = "smsd-crm.service"


def unit_text(executable: str) -> str:
    """The shipped unit with ``ExecStart`` running ``executable`` (an absolute path)."""
    return resources.files("smsd_crm").joinpath("data", UNIT).read_text(encoding="utf-8").replace(
        "@SMSD_CRM@", executable)


def _executable() -> str:
    found = shutil.which("smsd-crm")
    beside = Path(sys.executable).with_name("smsd-crm")  # the venv's, when it is not on PATH
    return str(Path(found).resolve() if found else beside)


def cmd_service_unit(args: argparse.Namespace) -> int:
    """Print the systemd unit (save it as /etc/systemd/system/smsd-crm.service; docs/operations.md)."""
    sys.stdout.write(unit_text(_executable()))
    return 0


def add_parsers(sub) -> None:
    """``service unit``."""
    service = sub.add_parser("service", help="run smsd-crm as a systemd service", description=__doc__)
    service_sub = service.add_subparsers(dest="service_command", required=True, metavar="SERVICECOMMAND")
    unit = service_sub.add_parser("unit", help="print the systemd unit for this installation",
                                  description=cmd_service_unit.__doc__)
    unit.set_defaults(func=cmd_service_unit, verbose=False)
