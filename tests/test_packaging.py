"""`pip install .` (not editable) gives a working daemon: modules, plugins, console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from smsd_crm import __version__

ROOT = Path(__file__).parent.parent


def test_wheel_install_runs_outside_the_source_tree(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(wheels), str(ROOT)], check=True, timeout=300)
    target = tmp_path / "site"
    wheel = next(wheels.glob("smsd_crm-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(wheel)], check=True, timeout=300)
    (tmp_path / "config.yaml").write_text("modems:\n  - {id: sim1, port: emulator}\n")
    env = dict(os.environ, PYTHONPATH=str(target))
    # The console script the wheel declares, run from a folder without the sources.
    script = (target / "bin" / "smsd-crm").read_text()
    assert "from smsd_crm.cli.main import main" in script
    result = subprocess.run([sys.executable, "-m", "smsd_crm", "plugins", "-c", "config.yaml"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"registration {__version__} [enabled] (builtin: plugins/smsd_crm_registration)" in result.stdout
    probe = subprocess.run([sys.executable, "-c", "import smsd_crm, sys; print(smsd_crm.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert probe.stdout.startswith(str(target)), probe.stdout
    assert (target / "smsd_crm" / "data" / "common-passwords.txt").stat().st_size > 100_000  # the password rule's list


def test_the_example_package_plugin_installs_and_is_listed(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(ROOT / "plugins" / "examples" / "smsd-crm-lokasi")], check=True, timeout=300)
    (tmp_path / "config.yaml").write_text("modems: []\nplugins:\n  lokasi:\n    landmark: depan masjid\n")
    env = dict(os.environ, PYTHONPATH=str(target))
    smsd_crm = str(Path(sys.executable).parent / "smsd-crm")
    listed = subprocess.run([smsd_crm, "plugins", "-c", "config.yaml"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "lokasi 0.1.0 [enabled] (entrypoint: smsd-crm-lokasi)" in listed.stdout
    assert "keywords: ALAMAT, LOCATION, LOKASI" in listed.stdout
    (tmp_path / "off.yaml").write_text("modems: []\nplugins:\n  lokasi:\n    enabled: false\n")
    off = subprocess.run([smsd_crm, "plugins", "-c", "off.yaml"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert "lokasi 0.1.0 [disabled]" in off.stdout and "LOKASI" not in off.stdout
    without = subprocess.run([smsd_crm, "check-config", "-c", "config.yaml"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert without.returncode == 2 and "plugins.lokasi: no plugin of that name" in without.stderr
