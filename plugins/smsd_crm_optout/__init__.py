"""Built-in plugin: BERHENTI/STOP/UNREG stops promotions, MULAI/START resumes them.

The consent record and the check when a promotion is sent belong to core
(``ctx.consent``), so replacing or disabling this plugin can never let a
promotion reach someone who opted out. Replies to the customer's own requests
are never affected.
"""

from __future__ import annotations

from pydantic import Field

from smsd_crm import Message, PluginConfig, PluginContext, Reply, hookimpl


class OptOutConfig(PluginConfig):
    """Keywords and replies of the opt-out plugin."""

    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "stop": {"id": ["BERHENTI", "UNREG"], "en": ["STOP"]},
        "start": {"id": ["MULAI"], "en": ["START"]},
    })
    replies: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "id": {
            "stopped": "Anda tidak akan menerima promosi dari {store} lagi. Balasan pesanan tetap dikirim. "
                       "Ketik MULAI untuk promosi lagi.",
            "started": "Terima kasih! Anda akan menerima promosi dari {store}. Ketik BERHENTI untuk berhenti.",
        },
        "en": {
            "stopped": "You will get no more promotions from {store}. Replies to your requests still come. "
                       "Text START to get them again.",
            "started": "Thank you! You will get promotions from {store}. Text STOP to stop.",
        },
    })


@hookimpl
def register_config_model():
    """The opt-out plugin's config section."""
    return OptOutConfig


@hookimpl(tryfirst=True)
async def handle_message(message: Message, ctx: PluginContext) -> Reply | None:
    """Record the customer's choice in core and confirm it."""
    if message.phone is None or message.command not in ("stop", "start"):
        return None
    allowed = message.command == "start"
    await ctx.consent.set(message.phone, allowed, message.id, source=ctx.name)
    return Reply(ctx.text("started" if allowed else "stopped", message.language))
