"""Config validation: one clear line per mistake, secrets from env and files, and the CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from smsd_crm.config import load_config, parse_config
from smsd_crm.errors import ConfigError

from .conftest import SMSD_CRM

GOOD = """
modems:
  - id: sim1
    port: /dev/ttyUSB0
plugins:
  registration:
    replies:
      id:
        welcome: "Halo {name}!"
"""


def test_example_config_is_valid():
    settings = load_config(Path(__file__).parent.parent / "config.yaml")
    assert settings.modems[0].port == "emulator"
    assert settings.database.path.is_absolute()


def test_relative_paths_are_anchored_at_the_config_file(tmp_path):
    settings = parse_config(GOOD, tmp_path / "c.yaml")
    assert settings.database.path == tmp_path / "var" / "smsd-crm.sqlite3"


@pytest.mark.parametrize("text,expected", [
    ("modems:\n  - id: sim1\n    port: /dev/x\n    baud: 9600\n", "modems[0].baud: unknown key"),
    ("modems:\n  - id: sim1\n    port: /dev/x\n    baudrate: fast\n", "modems[0].baudrate: "),
    ("modems:\n  - port: /dev/x\n", "modems[0].id: required key is missing"),
    ("store:\n  language: fr\n", "store.language: "),
    ("outbox:\n  max_attempts: 0\n", "outbox.max_attempts: "),
    ("modems:\n  - {id: a, port: /x}\n  - {id: a, port: /y}\n", "is used twice"),
    ("modems: [ {id: a\n", "invalid YAML"),
    ("- just\n- a list\n", "the top level must be a mapping"),
    ("plugins:\n  registration: 5\n", "plugins.registration must be a mapping"),
    ("modems:\n  - id: s\n    port: /x\n    pin: '12'\n", "modems[0].pin: "),
    ("web:\n  max_connections: 2\n", "web.max_connections: "),
    ("web:\n  header_timeout: 0\n", "web.header_timeout: "),
    ("web:\n  idle_timeout: forever\n", "web.idle_timeout: "),
])
def test_mistakes_name_the_key_path(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(text, tmp_path / "broken.yaml")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'broken.yaml'}")
    assert expected in message
    assert "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_secrets_from_env_and_file(tmp_path, monkeypatch):
    (tmp_path / "pin.txt").write_text("4321\n")
    monkeypatch.setenv("SIM2_PIN", "1234")
    text = ("modems:\n  - {id: a, port: /x, pin: {$file: pin.txt}}\n"
            "  - {id: b, port: /y, pin: {$env: SIM2_PIN}}\n")
    settings = parse_config(text, tmp_path / "c.yaml")
    assert [m.pin.get_secret_value() for m in settings.modems] == ["4321", "1234"]
    assert "4321" not in repr(settings) and "1234" not in repr(settings)


def test_missing_secret_names_the_path(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_PIN", raising=False)
    with pytest.raises(ConfigError, match=r"modems\[0\]\.pin: environment variable 'NOPE_PIN' is not set"):
        parse_config("modems:\n  - {id: a, port: /x, pin: {$env: NOPE_PIN}}\n", tmp_path / "c.yaml")


BROKEN_CONFIGS = {
    "unknown_key.yaml": ("modems:\n  - id: sim1\n    port: /dev/x\n    sped: 1\n", "modems[0].sped: unknown key"),
    "wrong_type.yaml": ("outbox:\n  retry_min: soon\n", "outbox.retry_min: "),
    "bad_yaml.yaml": ("store: {name: [\n", "invalid YAML"),
    "bad_plugin_key.yaml": ("plugins:\n  registration:\n    replys: {}\n", "plugins.registration.replys: unknown key"),
    "no_such_plugin.yaml": ("plugins:\n  ordr:\n    enabled: true\n", "plugins.ordr: no plugin of that name"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_CONFIGS) + ["missing.yaml"])
def test_check_config_cli_prints_one_line_and_fails(tmp_path, name):
    if name != "missing.yaml":
        (tmp_path / name).write_text(BROKEN_CONFIGS[name][0])
    result = subprocess.run([SMSD_CRM, "check-config", "-c", str(tmp_path / name)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(tmp_path / name) in lines[0]
    expected = "file not found" if name == "missing.yaml" else BROKEN_CONFIGS[name][1]
    assert expected in lines[0]


def test_check_config_cli_accepts_a_good_file(tmp_path):
    (tmp_path / "ok.yaml").write_text(GOOD)
    result = subprocess.run([SMSD_CRM, "check-config", "-c", str(tmp_path / "ok.yaml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "registration" in result.stdout


@pytest.mark.parametrize("written, expected", [
    ("21:00", dt.time(21, 0)), ('"21:00"', dt.time(21, 0)), ("7:30", dt.time(7, 30)), ("21.00", dt.time(21, 0))])
def test_a_time_of_day_is_read_as_the_operator_wrote_it(tmp_path, written, expected):
    """YAML 1.1 reads an unquoted 21:00 as the base-60 number 1260, which became 00:21."""
    settings = parse_config(f"campaigns:\n  quiet_hours:\n    start: {written}\noutbox:\n  retry_min: 0.50\n",
                            tmp_path / "config.yaml")
    assert settings.campaigns.quiet_hours.start == expected
    assert settings.outbox.retry_min == 0.5  # a float field still reads 0.50


def test_a_bare_number_is_not_a_time_of_day(tmp_path):
    with pytest.raises(ConfigError, match=r'backup.daily_at: a time of day is written like "21:00" \(got 2\)'):
        parse_config("backup:\n  daily_at: 2\n", tmp_path / "config.yaml")
