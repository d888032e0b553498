"""Mistakes in the arguments of ``smsd_crm.testing``'s shops: one clear line each, before any
daemon starts."""

from __future__ import annotations

import re
from types import ModuleType

import pytest

from smsd_crm import ConfigError, StartupError
from smsd_crm.testing import routed_shop, running_shop

SHOPS = pytest.mark.parametrize("shop", [routed_shop, running_shop], ids=["routed", "running"])


@SHOPS
@pytest.mark.parametrize("config, line", [("store: {name: [unclosed", 1), ("store:\n\tname: x", 2)],
                         ids=["unclosed", "tab"])
async def test_broken_yaml_is_a_one_line_config_error_naming_the_line(tmp_path, shop, config, line):
    with pytest.raises(ConfigError) as raised:
        async with shop(tmp_path, config):
            pass  # pragma: no cover
    assert re.fullmatch(rf"the test shop's config is not valid YAML at line {line}, column \d+: [^\n]+",
                        str(raised.value)), raised.value


async def test_config_is_text_or_a_mapping(tmp_path):
    with pytest.raises(TypeError, match="^the test shop's config is YAML text or a mapping, not PosixPath$"):
        async with routed_shop(tmp_path, tmp_path / "config.yaml"):
            pass  # pragma: no cover


@SHOPS
@pytest.mark.parametrize("module", ["smsd_crm_help", None], ids=["name", "none"])
async def test_plugins_map_a_name_to_a_module(tmp_path, shop, module):
    with pytest.raises(TypeError, match=rf"^plugins must map a name to a module: 'mine' maps to {module!r}$"):
        async with shop(tmp_path, plugins={"mine": module}):
            pass  # pragma: no cover


@SHOPS
async def test_one_module_given_under_two_names(tmp_path, shop):
    module = ModuleType("my_plugin")
    with pytest.raises(StartupError) as raised:
        async with shop(tmp_path, plugins={"mine": module, "also_mine": module}):
            pass  # pragma: no cover
    assert str(raised.value) == "module my_plugin given twice, as 'mine' and 'also_mine'"
