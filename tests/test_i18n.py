"""The one message catalogue: both languages name the same texts, every name a page, a dashboard or
a staff command uses exists, and numbers, money and dates are written the page language's way."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from pathlib import Path

from smsd_crm.i18n import Catalogue, Speaker, catalogue, format_number, format_when, lookup
from smsd_crm.plugin_config import PluginConfig
from smsd_crm.shop_time import MONTHS, for_zone

ROOT = Path(__file__).parent.parent / "smsd_crm"
PLUGINS = ROOT.parent / "plugins"  # the built-in services
TEMPLATES = [*ROOT.glob("web/templates/*.html"), *PLUGINS.glob("smsd_crm_*/templates/*.html")]
NAME = re.compile(r"""\bt\(\s*["']([^"']+)["']\s*[,)]""")
PREFIX = re.compile(r"""\bt\(\s*["']([^"']+\.)["']\s*~\s*""")
# Python that speaks through the catalogue: the dashboards and the staff's command-line output
SOURCES = [*(ROOT.parent / "dashboards" / "smsd_crm_dashboards").glob("*.py"), ROOT / "web" / "dashboard_pages.py",
           *PLUGINS.glob("smsd_crm_*/*.py")]
PY_NAME = re.compile(r"""\.t\(\s*["']([^"']+)["']\s*[,)]""")
PY_PREFIX = re.compile(r"""\.t\(\s*f["']([^"'{]+)\{""")
PY_GROUP = re.compile(r"""\bword\(\s*["']([^"']+)["']\s*,""")


def test_both_languages_have_the_same_names():
    names = catalogue().names()
    assert names["id"] == names["en"], names["id"] ^ names["en"]


def test_every_name_the_pages_use_is_in_the_catalogue():
    names = catalogue().names()["id"]
    for path in TEMPLATES:
        text = path.read_text()
        assert "tr(" not in text, path.name  # texts are named in the catalogue, not written in pairs
        for name in NAME.findall(text):
            assert name in names, (path.name, name)
        for prefix in PREFIX.findall(text):
            assert any(n.startswith(prefix) for n in names), (path.name, prefix)


def test_every_name_the_dashboards_and_staff_commands_use_is_in_the_catalogue():
    from smsd_crm_dashboards.views import builtin_views

    names = catalogue().names()["id"]
    used = 0
    for path in SOURCES:
        text = path.read_text()
        assert not re.search(r"\btr\(", text), path.name  # no Indonesian/English pairs written in the code
        for name in PY_NAME.findall(text):
            assert name in names, (path.name, name)
            used += 1
        for prefix in PY_PREFIX.findall(text):
            assert any(n.startswith(prefix) for n in names), (path.name, prefix)
        for group in PY_GROUP.findall(text):
            assert any(n.startswith(group + ".") for n in names), (path.name, group)
    assert used > 100  # the patterns still find what the code looks up
    assert all(view.title_name in names for view in builtin_views())


def test_words_fall_back_to_the_value_and_texts_fill_fields():
    speak = Speaker("en")
    assert speak.word("state", "new") == "new" and Speaker("id").word("state", "new") == "baru"
    assert Speaker("id").word("state", "a-plugin-state") == "a-plugin-state"
    assert speak.t("welcome", name="kasir") == "Welcome, kasir"
    assert Speaker("id").word("segment", "Champions") == "Juara"


def test_sms_templates_and_pages_share_the_lookup():
    table = {"id": {"x": "halo"}, "en": {"x": "hello", "y": "only english"}}
    assert lookup(table, "x", "en") == "hello" and lookup(table, "y", "id") == "only english"
    config = PluginConfig(replies=table)
    assert config.template("x", "fr") == "halo" == Catalogue(table).text("x", "fr")


def test_numbers_money_and_dates_in_the_language_s_way():
    assert format_number(1234567, "id") == "1.234.567" and format_number(1234567, "en") == "1,234,567"
    assert format_number(1234.5, "id", 1) == "1.234,5" and format_number(1234.5, "en", 1) == "1,234.5"
    assert Speaker("en").money(1234567.4) == "Rp1.234.567" == Speaker("id").money(1234567)
    # stored instants are UTC (naive means UTC) and are shown in shop time (Asia/Jakarta unless told)
    assert format_when("2026-05-07T14:03:59", "id") == "7 Mei 2026 21.03"
    assert format_when("2026-05-07T14:03:59+00:00", "en", for_zone("Asia/Makassar")) == "7 May 2026 22:03"
    assert format_when(datetime(2026, 8, 17, 9, 5, tzinfo=timezone.utc), "en") == "17 Aug 2026 16:05"
    assert format_when(datetime(2026, 8, 17, 20, 5), "en") == "18 Aug 2026 03:05"  # the shop's next day
    # a date alone is a calendar day, never converted
    assert format_when(date(2026, 8, 17), "id") == "17 Agu 2026" and format_when("2026-08-17", "en") == "17 Aug 2026"
    assert format_when("soon", "en") == "soon" and format_when(None, "id") == ""


def test_one_when_for_pages_shop_time_in_the_page_s_language():
    jayapura = for_zone("Asia/Jayapura")
    at = "2026-12-31T16:30:00+00:00"
    assert Speaker("id", time=jayapura).when(at) == "1 Jan 2027 01.30"
    assert Speaker("en", time=jayapura).when(at, zone=True) == "1 Jan 2027 01:30 WIT"
    assert Speaker("id").day(at) == "31 Des 2026" and Speaker("en", time=jayapura).day(at) == "1 Jan 2027"
    assert Speaker("en").clock(at, seconds=True) == "23:30:00" and Speaker("id").clock(at) == "23.30"
    assert set(Speaker("id").functions()) >= {"t", "word", "number", "money", "when", "day", "clock"}
    # one source of month names: shop_time.MONTHS
    import smsd_crm.i18n as i18n
    assert not hasattr(i18n, "MONTHS")
    assert [Speaker("en").day(f"2026-{m:02d}-15") for m in (5, 8, 10, 12)] == [
        f"15 {MONTHS[m - 1][1]} 2026" for m in (5, 8, 10, 12)]
