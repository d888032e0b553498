"""The plugin author's kit: ``smsd_crm.testing`` drives the example plugin's own tests, from the
plugin's folder after ``pip install``, and a plugin's config model is typed through its context; a
running shop matches each answer to its own SMS, and says what went wrong when there is none.
(Mistakes in the kit's arguments: test_testing_kit_errors.py.)"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from mypy import api as mypy_api

from smsd_crm import Message, PluginContext, Reply, hookimpl
from smsd_crm.testing import routed_shop, running_shop

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "plugins" / "examples" / "smsd-crm-lokasi"

TYPED = '''
from pydantic import Field
from smsd_crm import Message, PluginConfig, PluginContext, Reply, hookimpl

class MyConfig(PluginConfig):
    landmark: str = ""

@hookimpl
def handle_message(message: Message, ctx: PluginContext[MyConfig]) -> Reply | None:
    return Reply(ctx.config.{field})
'''


def _mypy(tmp_path: Path, field: str) -> tuple[str, int]:
    source = tmp_path / f"plugin_{field}.py"
    source.write_text(textwrap.dedent(TYPED.format(field=field)))
    out, err, status = mypy_api.run([str(source), "--follow-imports=silent", "--ignore-missing-imports",
                                     "--no-incremental", "--config-file", str(ROOT / "pyproject.toml")])
    return out + err, status


def test_a_plugins_config_fields_are_typed_through_its_context(tmp_path):
    out, status = _mypy(tmp_path, "landmark")
    assert status == 0, out
    out, status = _mypy(tmp_path, "landmrak")  # a typo in the field's name is caught before it runs
    assert status == 1 and '"MyConfig" has no attribute "landmrak"' in out, out


def test_the_example_plugins_tests_use_only_the_kit():
    tree = ast.parse((EXAMPLE / "tests" / "test_lokasi.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert {m for m in imported if m.startswith("smsd_crm")} == {"smsd_crm.testing", "smsd_crm_lokasi.plugin"}


def test_the_example_plugins_tests_pass_from_its_own_folder_after_pip_install(tmp_path):
    folder = tmp_path / "smsd-crm-lokasi"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    (folder / "conftest.py").unlink()  # the installed package is what the tests import
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(folder)],
                   check=True, timeout=300)
    shutil.rmtree(folder / "smsd_crm_lokasi")  # not importable from the folder: only from the install
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    tests = (EXAMPLE / "tests" / "test_lokasi.py").read_text().count("\nasync def test_")
    assert f"{tests} passed" in result.stdout and tests >= 5, result.stdout


# Each text and the built-in plugin that answers it.
ASKED = [("HELP", "help"), ("DAFTAR Budi Santoso, Jl Mawar 1", "registration"), ("STOP", "optout"),
         ("INFO", "info")]


@pytest.mark.parametrize("shop, same_number", [(routed_shop, False), (running_shop, False), (running_shop, True)],
                         ids=["routed", "running", "running-one-number"])
async def test_sends_gathered_at_once_are_each_answered_by_their_own_plugin(tmp_path, shop, same_number):
    phones = ["081234567801"] * len(ASKED) if same_number else [f"08123456780{i}" for i in range(1, len(ASKED) + 1)]
    async with shop(tmp_path) as s:
        replies = await asyncio.gather(*(s.send(phone, text) for phone, (text, _) in zip(phones, ASKED)))
        queued = await s.rows("SELECT plugin, text FROM messages WHERE direction = 'out'")
    assert [r.plugin for r in replies] == [plugin for _, plugin in ASKED]
    assert {r.plugin: r.text for r in replies} == {row["plugin"]: row["text"] for row in queued}


def _plugin(name: str, hook) -> ModuleType:
    module = ModuleType(name)
    module.handle_message = hookimpl(hook)
    return module


async def _fails(message: Message, ctx: PluginContext) -> Reply | None:
    raise RuntimeError("out of patience")


async def test_a_running_shop_answers_a_failing_plugins_messages_as_the_routed_shop(tmp_path):
    plugins = {"failing": _plugin("failing", _fails)}
    asked = [("081234567801", "makasih"), ("081234567802", "HELP")]  # no reply at all; a reply from another plugin
    (tmp_path / "routed").mkdir()
    (tmp_path / "running").mkdir()
    async with routed_shop(tmp_path / "routed", plugins=plugins) as routed:
        expected = [await routed.send(phone, text) for phone, text in asked]
    async with running_shop(tmp_path / "running", plugins=plugins) as running:
        got = [await running.send(phone, text) for phone, text in asked]
    assert got == expected
    assert any(r.text is None and r.plugin == "failing" and "out of patience" in (r.why or "") for r in got), got


async def test_a_reply_the_network_refuses_is_none_with_the_outboxs_error(tmp_path):
    async with running_shop(tmp_path) as shop:
        shop.modem.core.submit_error = 21  # +CMS ERROR: 21, the message refused: it fails at once, no retry
        reply = await shop.send("081234567801", "HELP")
        failed = await shop.rows("SELECT state, last_error FROM messages WHERE direction = 'out'")
    assert [row["state"] for row in failed] == ["failed"]
    assert reply.text is None and reply.plugin == "help"
    assert reply.why == f"reply failed: {failed[0]['last_error']}"


async def test_a_running_shop_that_gets_no_answer_says_what_it_waited_for(tmp_path):
    started, release = asyncio.Event(), asyncio.Event()

    async def stuck(message: Message, ctx: PluginContext) -> Reply | None:
        started.set()
        await release.wait()
        return None

    async with running_shop(tmp_path, plugins={"stuck": _plugin("stuck", stuck)}) as shop:
        shop.wait = 2.0  # the plugin holds the message until released: the wait can only run out
        try:
            with pytest.raises(TimeoutError) as raised:
                await shop.send("0812 3456 7801", "TUNGGU")
        finally:
            release.set()
    # In practice the SMS is stored at once and the plugin holds it; either way the message says which.
    assert re.fullmatch(r"no answer to 'TUNGGU' from \+6281234567801 within 2 s: (the SMS was not stored|"
                        r"the message \(id \d+\) is still 'received': a plugin is still at work, .*)",
                        str(raised.value)), raised.value
