"""The offline install of docs/operations.md: smsd-crm's wheel and a bundle of its dependencies' wheels
(which `make test` downloads, as a shop's helper would on a PC with internet) installed into a fresh
virtual environment with `pip install --no-index`: no registry, nothing but the bundle. Then the
installed command runs, with its package data (templates, texts, the systemd unit)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / ".venv" / "bundle"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=800, cwd=cwd)
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_a_wheel_and_its_bundle_install_without_the_registry(tmp_path):
    assert (BUNDLE / ".downloaded").exists(), "the bundle is made by `make test` (make .venv/bundle/.downloaded)"
    own = tmp_path / "own"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
        "-w", own, ROOT)
    [wheel] = own.glob("smsd_crm-*.whl")
    venv = tmp_path / "shop"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "pip", "install", "--quiet", "--no-index", "--find-links", BUNDLE, wheel)
    from smsd_crm import __version__
    assert run(venv / "bin" / "smsd-crm", "--version").strip() == f"smsd-crm {__version__}"
    assert "ExecStart=" in run(venv / "bin" / "smsd-crm", "service", "unit")
    config = tmp_path / "config.yaml"
    config.write_text("store:\n  name: Toko Offline\nmodems:\n  - id: sim1\n    port: emulator\n")
    assert "config.yaml" in run(venv / "bin" / "smsd-crm", "check-config", "-c", config)
    # the package data a shop needs: the plugins' page templates, the message catalogue, the demo data
    run(venv / "bin" / "python", "-c", "from importlib.resources import files\n"
        "for package, name in (('smsd_crm_order', 'templates'), ('smsd_crm_complaint', 'templates'),\n"
        "                      ('smsd_crm', 'texts.yaml'), ('smsd_crm', 'demo/data/products.csv')):\n"
        "    assert files(package).joinpath(name).is_dir() or files(package).joinpath(name).is_file(), name\n"
        "import smsd_crm_dashboards.worker\n", cwd=tmp_path)
