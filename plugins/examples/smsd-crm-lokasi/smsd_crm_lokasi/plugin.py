"""LOKASI / LOCATION: where the shop is. Uses only the public smsd_crm API."""

from __future__ import annotations

from pydantic import Field

from smsd_crm import Message, PluginConfig, PluginContext, Reply, hookimpl


class LokasiConfig(PluginConfig):
    """Where the shop is; operators set it under plugins.lokasi in config.yaml."""

    address: str = "Jl. Contoh No. 1"
    landmark: str = ""
    map_url: str = ""
    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "where": {"id": ["LOKASI", "ALAMAT"], "en": ["LOCATION"]},
    })
    replies: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "id": {"where": "{store}: {address}{landmark}{map}", "landmark": " ({landmark})", "map": ". Peta: {url}"},
        "en": {"where": "{store}: {address}{landmark}{map}", "landmark": " ({landmark})", "map": ". Map: {url}"},
    })


@hookimpl
def register_config_model():
    """This plugin's config section."""
    return LokasiConfig


@hookimpl
def handle_message(message: Message, ctx: PluginContext[LokasiConfig]) -> Reply | None:
    """Answer LOKASI with the address, a landmark and a map link when configured."""
    if message.command != "where" or message.phone is None:
        return None
    c, lang = ctx.config, message.language
    landmark = ctx.text("landmark", lang, landmark=c.landmark) if c.landmark else ""
    link = ctx.text("map", lang, url=c.map_url) if c.map_url else ""
    return Reply(ctx.text("where", lang, address=c.address, landmark=landmark, map=link))
