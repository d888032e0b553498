"""Example single-file plugin: HALO / HELLO answers with a greeting by name.

Drop a file like this into the folder named by ``plugins_dir`` in config.yaml
and restart; ``smsd-crm plugins`` lists it. See docs/plugins.md.
"""

from pydantic import Field

from smsd_crm import Message, PluginConfig, PluginContext, Reply, hookimpl


class GreetingConfig(PluginConfig):
    """Keywords and reply texts; an operator overrides them under plugins.greeting."""

    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "greet": {"id": ["HALO", "HAI"], "en": ["HELLO"]},
    })
    replies: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "id": {"known": "Halo {name}! Terima kasih sudah menghubungi {store}.",
               "stranger": "Halo! Ketik DAFTAR nama#alamat untuk menjadi anggota {store}."},
        "en": {"known": "Hello {name}! Thanks for texting {store}.",
               "stranger": "Hello! Text REGISTER name#address to join {store}."},
    })


@hookimpl
def register_config_model():
    """This plugin's config section."""
    return GreetingConfig


@hookimpl
async def handle_message(message: Message, ctx: PluginContext) -> Reply | None:
    """Greet a known customer by name, invite a stranger to register."""
    if message.command != "greet" or message.phone is None:
        return None
    customer = await ctx.customers.get(message.phone)
    if customer and customer.name:
        return Reply(ctx.text("known", message.language, name=customer.name))
    return Reply(ctx.text("stranger", message.language))
