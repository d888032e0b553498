"""Built-in plugin: BANTUAN/HELP menu, "did you mean" for near-miss keywords, and the fallback.

It answers last (``trylast``), so any other plugin, including a third party's,
gets every message first.
"""

from __future__ import annotations

from pydantic import Field

from smsd_crm import Message, PluginConfig, PluginContext, Reply, closest, hookimpl


class HelpConfig(PluginConfig):
    """Keywords and replies of the help plugin."""

    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "help": {"id": ["BANTUAN", "MENU", "?"], "en": ["HELP"]},
    })
    replies: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "id": {
            "menu": "Menu {store}: {keywords}. Contoh: DAFTAR Budi#Jl. Mawar 5",
            "unknown": "Maaf, perintah tidak dikenal. Menu: {keywords}.",
            "did_you_mean": "Maksud Anda: {suggestion}? Ketik BANTUAN untuk menu.",
        },
        "en": {
            "menu": "{store} menu: {keywords}. Example: REGISTER Budi#Jl. Mawar 5",
            "unknown": "Sorry, unknown command. Menu: {keywords}.",
            "did_you_mean": "Did you mean {suggestion}? Text HELP for the menu.",
        },
    })


@hookimpl
def register_config_model():
    """Help's config section."""
    return HelpConfig


def menu_words(ctx: PluginContext, language: str) -> str:
    """The first keyword of every command in ``language`` (else any language), comma separated."""
    chosen: dict[tuple[str, str], str] = {}
    for kw in ctx.keywords():
        if kw.secret_words:  # the owner's commands are not advertised
            continue
        key = (kw.plugin, kw.command)
        if key not in chosen or (kw.language == language and chosen[key][1] != language):
            chosen[key] = (kw.word, kw.language)  # type: ignore[assignment]
    return ", ".join(word for (word, _) in chosen.values())  # type: ignore[misc]


@hookimpl(trylast=True)
def handle_message(message: Message, ctx: PluginContext) -> Reply | None:
    """Menu on BANTUAN; a suggestion for a typo; otherwise the menu with an apology."""
    if message.phone is None:
        return None
    lang = message.language
    words = menu_words(ctx, lang)
    if message.command == "help":
        return Reply(ctx.text("menu", lang, keywords=words))
    if message.keyword and len(message.keyword) >= 3:
        suggestion = closest(message.keyword, sorted({k.word for k in ctx.keywords() if not k.secret_words}),
                             cutoff=0.6)
        if suggestion:
            return Reply(ctx.text("did_you_mean", lang, suggestion=suggestion))
    return Reply(ctx.text("unknown", lang, keywords=words))
