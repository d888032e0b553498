"""Plugin discovery, config sections, keyword registry, async-aware hook calls, and the CLI."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from smsd_crm import __version__
from smsd_crm.config import parse_config
from smsd_crm.errors import ConfigError, PluginError, StartupError
from smsd_crm.plugins import BUILTIN_ORDER, PluginHost

from .conftest import SMSD_CRM

ROOT = Path(__file__).parent.parent


def _settings(tmp_path: Path, plugins_yaml: str = "", files: dict[str, str] | None = None):
    pdir = tmp_path / "plugins"
    pdir.mkdir(exist_ok=True)
    for name, body in (files or {}).items():
        (pdir / name).write_text(textwrap.dedent(body))
    text = "plugins_dir: plugins\n" + textwrap.dedent(plugins_yaml)
    (tmp_path / "config.yaml").write_text(text)
    return parse_config(text, tmp_path / "config.yaml")


ECHO = """
    from pydantic import Field
    from smsd_crm import PluginConfig, Reply, hookimpl

    class Config(PluginConfig):
        keywords: dict = Field(default_factory=lambda: {"echo": {"id": ["GEMA"], "en": ["ECHO"]}})

    @hookimpl
    def register_config_model():
        return Config

    @hookimpl
    async def handle_message(message, ctx):
        if message.command == "echo":
            return Reply(message.args)
"""


def test_builtins_and_plugin_dir_file_are_loaded(tmp_path):
    host = PluginHost.load(_settings(tmp_path, files={"echo.py": ECHO}), third_party=False)
    names = [(p.name, p.source) for p in host.plugins]
    assert names == [("registration", "builtin"), ("order", "builtin"), ("complaint", "builtin"), ("points", "builtin"),
                     ("info", "builtin"),
                     ("optout", "builtin"), ("webhooks", "builtin"), ("owner", "builtin"), ("help", "builtin"),
                     ("echo", "file")]
    assert host.keyword_table["GEMA"].plugin == "echo"
    assert host.keyword_table["ECHO"].language == "en"
    assert host.keyword_table["DAFTAR"].command == "register"


def test_keyword_clash_stops_startup_naming_both(tmp_path):
    clash = ECHO.replace('["GEMA"]', '["DAFTAR"]')
    with pytest.raises(ConfigError, match=r"config.yaml: plugins.echo.keywords.echo.id: 'DAFTAR' is already a "
                       r"keyword of plugin 'registration' \(command register\)"):
        PluginHost.load(_settings(tmp_path, files={"echo.py": clash}), third_party=False)


@pytest.mark.parametrize("keywords, error", [
    ("info: {id: [HARGA]}",  # one word on two commands of a plugin
     r"plugins.info.keywords.info.id: 'HARGA' is already a keyword of this plugin \(command price\)"),
    ("pricee: {id: [HRG]}",  # a command name typo
     r"plugins.info.keywords: .*no command named 'pricee' \(this plugin's commands: info, price\)"),
])
def test_a_keyword_mistake_in_the_config_is_refused(tmp_path, keywords, error):
    settings = _settings(tmp_path, f"""
        plugins:
          info:
            keywords:
              {keywords}
        """)
    with pytest.raises(ConfigError, match=error):
        PluginHost.load(settings, third_party=False)


def test_keyword_override_in_config_resolves_a_clash(tmp_path):
    clash = ECHO.replace('["GEMA"]', '["DAFTAR"]')
    settings = _settings(tmp_path, """
        plugins:
          echo:
            keywords:
              echo: {id: [ULANG]}
        """, files={"echo.py": clash})
    host = PluginHost.load(settings, third_party=False)
    assert host.keyword_table["ULANG"].plugin == "echo"
    assert host.keyword_table["DAFTAR"].plugin == "registration"


def test_disabling_a_builtin_removes_its_keywords(tmp_path):
    host = PluginHost.load(_settings(tmp_path, "plugins:\n  order:\n    enabled: false\n"), third_party=False)
    assert not {"PESAN", "ORDER", "BATAL", "STATUS"} & set(host.keyword_table)
    assert "DAFTAR" in host.keyword_table and not host.pm.has_plugin("order")


def test_disabled_plugin_is_listed_but_not_active(tmp_path):
    settings = _settings(tmp_path, "plugins:\n  echo:\n    enabled: false\n", files={"echo.py": ECHO})
    host = PluginHost.load(settings, third_party=False)
    assert [p.name for p in host.enabled()] == ["registration", "order", "complaint", "points", "info", "optout",
                                                  "webhooks", "owner", "help"]
    assert "GEMA" not in host.keyword_table
    assert not host.pm.has_plugin("echo")


def test_misspelt_hook_is_a_startup_error(tmp_path):
    typo = "from smsd_crm import hookimpl\n\n@hookimpl\ndef handle_mesage(message):\n    return None\n"
    with pytest.raises(StartupError, match="handle_mesage"):
        PluginHost.load(_settings(tmp_path, files={"typo.py": typo}), third_party=False)


def test_a_hook_argument_the_hook_does_not_have_is_one_line_naming_the_right_ones(tmp_path):
    wrong = "from smsd_crm import hookimpl\n\n@hookimpl\ndef handle_message(msg, ctx):\n    return None\n"
    with pytest.raises(StartupError) as caught:
        PluginHost.load(_settings(tmp_path, files={"args.py": wrong}), third_party=False)
    assert "\n" not in str(caught.value) and "{'msg'}" in str(caught.value)
    assert str(caught.value).endswith("handle_message takes (message, ctx)")


def test_plugin_import_error_is_one_line(tmp_path):
    with pytest.raises(StartupError, match="failed to import: ZeroDivisionError"):
        PluginHost.load(_settings(tmp_path, files={"boom.py": "1/0\n"}), third_party=False)


def test_plugin_section_is_validated_by_the_plugin_model(tmp_path):
    with pytest.raises(ConfigError, match=r"plugins\.echo\.keywords: .*keyword 1 of echo\.id must be one word"):
        PluginHost.load(_settings(tmp_path, "plugins:\n  echo:\n    keywords:\n      echo: {id: [1]}\n",
                                  files={"echo.py": ECHO}), third_party=False)


def test_reply_override_keeps_other_defaults(tmp_path):
    settings = _settings(tmp_path, "plugins:\n  registration:\n    replies:\n      id:\n        welcome: Hai {name}\n")
    host = PluginHost.load(settings, third_party=False)
    config = host.plugins[0].config
    assert config.template("welcome", "id") == "Hai {name}"
    assert "BANTUAN" in config.template("updated", "id")
    assert config.template("welcome", "en").startswith("Welcome")


async def test_call_first_awaits_and_wraps_errors(tmp_path):
    failing = ECHO.replace("return Reply(message.args)", "raise ValueError('bad')")
    host = PluginHost.load(_settings(tmp_path, files={"echo.py": failing}), third_party=False)
    from datetime import datetime, timezone

    from smsd_crm.models import Message
    msg = Message(1, "+62811", "+62811", "GEMA x", datetime.now(timezone.utc), "sim1", "GEMA", "echo", "x")
    with pytest.raises(PluginError) as info:
        await host.call_first("handle_message", only="echo", message=msg)
    assert info.value.plugin == "echo" and "ValueError: bad" in str(info.value)


def test_plugins_cli_lists_builtins_hooks_and_the_file_plugin(tmp_path):
    _settings(tmp_path, files={"echo.py": ECHO})
    result = subprocess.run([SMSD_CRM, "plugins", "-c", str(tmp_path / "config.yaml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name in ("registration", "order", "complaint", "points", "info", "optout", "webhooks", "owner", "help"):
        # Each built-in service is a package in the top-level plugins/ folder, found by its entry point.
        assert f"{name} {__version__} [enabled] (builtin: plugins/smsd_crm_{name})" in out  # smsd-crm's own
        assert (ROOT / "plugins" / f"smsd_crm_{name}" / "__init__.py").is_file()
    assert f"echo [enabled] (file: {tmp_path / 'plugins' / 'echo.py'})" in out
    assert "hooks: handle_message, register_config_model" in out
    assert "keywords: ECHO, GEMA" in out


def test_every_hook_is_documented_with_its_signature():
    import inspect

    from smsd_crm import hookspecs
    docs = (ROOT / "docs" / "plugins.md").read_text()
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(func, "smsd_crm_spec"):
            assert f"{name}{inspect.signature(func)}" in docs, name
            assert func.__doc__, name


def test_stale_smsd_crm_metadata_first_on_the_path_is_refused(tmp_path):
    """A stray dist-info (an old install, a folder on PYTHONPATH) must not decide the built-ins."""
    stray = tmp_path / "stray" / "smsd_crm-6.6.6.dist-info"
    stray.mkdir(parents=True)
    (stray / "METADATA").write_text("Metadata-Version: 2.1\nName: smsd-crm\nVersion: 6.6.6\n")
    (stray / "entry_points.txt").write_text("[smsd_crm]\nevil = evil_mod\n")
    _settings(tmp_path)
    result = subprocess.run([SMSD_CRM, "plugins", "-c", str(tmp_path / "config.yaml")], capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(tmp_path / "stray")})
    assert result.returncode == 1 and result.stdout == ""
    assert ("the installed smsd-crm metadata (smsd-crm 6.6.6 at " in result.stderr
            and "lacks registration, order, complaint, points, info, optout, webhooks, owner, help; lists unknown "
            "built-in(s) evil: it is stale or not this copy's" in result.stderr), result.stderr


@pytest.mark.parametrize("body, why, line", [
    ("import sys\nsys.exit(0)\n", "SystemExit: 0", 2),
    ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import", 1),
])
def test_a_plugin_that_cannot_be_imported_says_so_and_can_be_switched_off(tmp_path, body, why, line):
    _settings(tmp_path, files={"broken.py": body})
    config = str(tmp_path / "config.yaml")
    result = subprocess.run([SMSD_CRM, "check-config", "-c", config], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"failed to import: {why} at {tmp_path / 'plugins' / 'broken.py'}:{line} (fix it, move it out of " \
        "plugins_dir, or set plugins.broken.enabled: false)" in result.stderr
    with open(config, "a") as f:
        f.write("plugins:\n  broken: {enabled: false}\n")
    result = subprocess.run([SMSD_CRM, "plugins", "-c", config], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "broken [disabled] (file: " in result.stdout, result.stderr


@pytest.mark.parametrize("hook", ["register_migrations", "register_pages", "register_api", "register_commands",
                                  "register_dashboards", "register_segments"])
def test_check_config_calls_every_start_up_hook(tmp_path, hook):
    _settings(tmp_path, files={"later.py": f"""
        from smsd_crm import hookimpl

        @hookimpl
        def {hook}():
            raise RuntimeError("not today")
        """})
    config = str(tmp_path / "config.yaml")
    result = subprocess.run([SMSD_CRM, "check-config", "-c", config], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr.strip()) == (
        1, f"error: plugin 'later' failed in {hook}: RuntimeError: not today")
    # the core commands still work (a plugin's commands are only read when the config loads)
    result = subprocess.run([SMSD_CRM, "plugins", "-c", config], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "later [enabled]" in result.stdout, result.stderr


@pytest.mark.parametrize("view, error", [
    ('View("sales", "Penjualan", make)', "plugin 'peta': register_dashboards: the name 'sales' is taken by a "
                                         "built-in dashboard"),
    ('View("Peta Toko", "Peta", make)', "plugin 'peta' failed in register_dashboards: ValueError: dashboard name "
                                        "'Peta Toko': lower-case letters, digits, - and _ (it is a URL)"),
    ('View("peta", "Peta", lambda doc, data, hub, lang=None: None)', "plugin 'peta' failed in register_dashboards: "
                                                                     "ValueError: dashboard 'peta': make must be a "
                                                                     "function defined at the top of a module"),
])
def test_check_config_refuses_a_dashboard_the_worker_could_not_serve(tmp_path, view, error):
    _settings(tmp_path, files={"peta.py": f"""
        from smsd_crm import View, hookimpl

        def make(doc, data, hub, lang=None):
            pass

        @hookimpl
        def register_dashboards():
            return [{view}]
        """})
    result = subprocess.run([SMSD_CRM, "check-config", "-c", str(tmp_path / "config.yaml")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and result.stderr.startswith(f"error: {error}"), result.stderr


def test_an_empty_plugins_section_is_no_section(tmp_path):
    (tmp_path / "config.yaml").write_text("plugins:\n")
    result = subprocess.run([SMSD_CRM, "check-config", "-c", str(tmp_path / "config.yaml")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_check_config_warns_when_nothing_answers_sms(tmp_path):
    sections = "".join(f"  {name}: {{enabled: false}}\n" for name in BUILTIN_ORDER)
    (tmp_path / "config.yaml").write_text("plugins:\n" + sections)
    result = subprocess.run([SMSD_CRM, "check-config", "-c", str(tmp_path / "config.yaml")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert "warning: no enabled plugin answers SMS (every built-in service is disabled)" in result.stderr


def test_newcomers_mistakes_are_named_with_what_to_do(tmp_path):
    _settings(tmp_path, files={"typo.py": """
        from smsd_crm import hookimpl

        @hookimpl
        def handle_messages(message, ctx):
            return None
        """})
    config = str(tmp_path / "config.yaml")
    result = subprocess.run([SMSD_CRM, "check-config", "-c", config], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "plugin 'typo': unknown hook 'handle_messages' (did you mean 'handle_message'?); the hooks are: " \
        "campaign_fields, customer_profile, handle_message," in result.stderr
    (tmp_path / "plugins" / "typo.py").write_text("import os\n\nimport no_such_module\n")
    result = subprocess.run([SMSD_CRM, "check-config", "-c", config], capture_output=True, text=True, timeout=60)
    assert f"ModuleNotFoundError: No module named 'no_such_module' at {tmp_path / 'plugins' / 'typo.py'}:3" \
        in result.stderr
    (tmp_path / "plugins" / "typo.py").write_text(textwrap.dedent("""
        from pydantic import Field
        from smsd_crm import PluginConfig, hookimpl

        class C(PluginConfig):
            keywords: dict = Field(default_factory=lambda: {"x": {"id": ["ZZZ"]}})

        @hookimpl
        def register_config_model():
            return C

        async def handle_message(message, ctx):  # @hookimpl forgotten
            return None
        """))
    result = subprocess.run([SMSD_CRM, "check-config", "-c", config], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "warning: plugin 'typo' has keywords but no handle_message hook: nothing answers them (is @hookimpl " \
        "missing?)" in result.stderr


def test_a_clash_names_the_line_the_operator_wrote(tmp_path):
    settings = _settings(tmp_path, """
        plugins:
          order:
            keywords:
              order: {id: [BATAL]}
        """)
    with pytest.raises(ConfigError, match=r"plugins.order.keywords.order.id: 'BATAL' is already a keyword of this "
                       r"plugin \(command cancel\)"):
        PluginHost.load(settings, third_party=False)
