"""The example package plugin, tested the way a plugin author would: through smsd-crm's own pipeline."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))  # the package's source, not installed

from smsd_crm import Message  # noqa: E402
from smsd_crm.config import parse_config  # noqa: E402
from smsd_crm.daemon import offline_session  # noqa: E402
from smsd_crm.plugins import DEFAULT_PLUGINS  # noqa: E402

import smsd_crm_lokasi.plugin as lokasi  # noqa: E402


@pytest.fixture
async def ctx(tmp_path, monkeypatch):
    # Register the plugin as smsd-crm would find it through its entry point.
    monkeypatch.setattr("smsd_crm.plugins.DEFAULT_PLUGINS", (*DEFAULT_PLUGINS, ("lokasi", lokasi.__name__)))
    settings = parse_config('store: {name: Toko Uji}\nplugins:\n  lokasi:\n    landmark: depan masjid\n'
                            '    map_url: "https://peta.example/t"\n', tmp_path / "c.yaml")
    # Without entry points: an in-tree build's egg-info would register it a second time.
    async with offline_session(settings, entry_points=False) as (host, _):
        yield host


def message(text: str, command: str | None, language: str = "id") -> Message:
    return Message(1, "+6281234567890", "+6281234567890", text, datetime.now(timezone.utc), "sim1",
                   text.split()[0].upper() if text else None, command, "", language)


async def test_lokasi_answers_with_address_landmark_and_map(ctx):
    plugin, reply = await ctx.call_first("handle_message", message=message("LOKASI", "where"))
    assert plugin == "lokasi"
    assert reply.text == "Toko Uji: Jl. Contoh No. 1 (depan masjid). Peta: https://peta.example/t"


async def test_english_and_keywords(ctx):
    assert ctx.keyword_table["LOCATION"].plugin == "lokasi"
    assert ctx.keyword_table["ALAMAT"].language == "id"
    _, reply = await ctx.call_first("handle_message", only="lokasi", message=message("LOCATION", "where", "en"))
    assert reply.text.endswith("Map: https://peta.example/t")


async def test_other_messages_are_left_to_other_plugins(ctx):
    _, reply = await ctx.call_first("handle_message", only="lokasi", message=message("POIN", "balance"))
    assert reply is None
