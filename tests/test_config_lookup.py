"""Where the config is found (-c, $SMSD_CRM_CONFIG, ./config.yaml, /etc/smsd-crm/config.yaml) and where
an installed service's data goes (/var/lib/smsd-crm, or systemd's $STATE_DIRECTORY)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from smsd_crm.config import parse_config
from smsd_crm.config_files import data_folder, find_config


def test_the_lookup_order(tmp_path):
    system = tmp_path / "etc" / "config.yaml"
    shop = tmp_path / "shop"
    shop.mkdir()
    # nothing anywhere: ./config.yaml, whose absence the loader reports
    assert find_config(None, {}, shop, system) == Path("config.yaml")
    system.parent.mkdir()
    system.write_text("{}\n")
    assert find_config(None, {}, shop, system) == system
    (shop / "config.yaml").write_text("{}\n")
    assert find_config(None, {}, shop, system) == Path("config.yaml")
    assert find_config(None, {"SMSD_CRM_CONFIG": "/x/y.yaml"}, shop, system) == Path("/x/y.yaml")
    # -c wins, even over the environment, and even when it names no file (the typo is reported)
    assert find_config("other.yaml", {"SMSD_CRM_CONFIG": "/x/y.yaml"}, shop, system) == Path("other.yaml")


def test_an_installed_config_keeps_its_data_under_var_lib(tmp_path):
    system = tmp_path / "etc" / "smsd-crm" / "config.yaml"
    system.parent.mkdir(parents=True)
    assert data_folder(system, {}, system) == Path("/var/lib/smsd-crm")
    assert data_folder(system, {"STATE_DIRECTORY": "/srv/state:/other"}, system) == Path("/srv/state")
    # anywhere else, beside the config
    assert data_folder(tmp_path / "shop" / "config.yaml", {}, system) == (tmp_path / "shop").resolve()


def test_relative_paths_of_a_config_beside_its_data(tmp_path):
    settings = parse_config("database:\n  path: var/shop.sqlite3\nlogging:\n  file: var/log.txt\n",
                            tmp_path / "config.yaml", secrets=False)
    assert settings.database.path == tmp_path.resolve() / "var" / "shop.sqlite3"
    assert settings.logging.file == tmp_path.resolve() / "var" / "log.txt"


def test_the_command_finds_the_config_in_the_working_folder_and_in_the_environment(tmp_path):
    """`smsd-crm check-config` with no -c: ./config.yaml, else $SMSD_CRM_CONFIG's file."""
    (tmp_path / "config.yaml").write_text("store:\n  name: Toko Sini\n")
    other = tmp_path / "elsewhere.yaml"
    other.write_text("store:\n  name: [not a name\n")
    env = {k: v for k, v in os.environ.items() if k != "SMSD_CRM_CONFIG"}

    def run(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "smsd_crm", "check-config"], cwd=tmp_path, text=True,
                              capture_output=True, env={**env, **extra_env}, timeout=120)

    here = run({})
    assert here.returncode == 0, here.stderr
    assert "config.yaml" in here.stdout + here.stderr
    there = run({"SMSD_CRM_CONFIG": str(other)})
    assert there.returncode == 2
    assert there.stderr.startswith(f"error: {other}")
    assert "Traceback" not in there.stderr
