"""The plugin author's kit: ``smsd_crm.testing`` drives the example plugin's own tests, from the
plugin's folder after ``pip install``, and a plugin's config model is typed through its context."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from mypy import api as mypy_api

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
