"""Built-in plugin: BANTUAN/HELP menu, "did you mean" for near-miss keywords, and the fallback.

It answers last (``trylast``), so any other plugin, including a third party's,
gets every message first.
"""

from __future__ import annotations

from typing import Callable

from pydantic import Field

from smsd_crm import Listing, Message, PluginConfig, PluginContext, Reply, closest, fits_one_sms, hookimpl


class HelpConfig(PluginConfig):
    """Keywords and replies of the help plugin."""

    keywords: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "help": {"id": ["BANTUAN", "MENU", "?"], "en": ["HELP"]},
    })
    replies: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "id": {
            "menu": "Menu {store}: {keywords}.",
            "greeting": "Halo, selamat datang di {store}! Menu: {keywords}.",
            "unknown": "Maaf, perintah tidak dikenal. Menu: {keywords}.",
            "did_you_mean": "Maksud Anda: {suggestion}? Ketik BANTUAN untuk menu.",
        },
        "en": {
            "menu": "{store} menu: {keywords}.",
            "greeting": "Hello, welcome to {store}! Menu: {keywords}.",
            "unknown": "Sorry, unknown command. Menu: {keywords}.",
            "did_you_mean": "Did you mean {suggestion}? Text HELP for the menu.",
        },
    })


@hookimpl
def register_config_model():
    """Help's config section."""
    return HelpConfig


def menu_words(ctx: PluginContext, language: str, fits: Callable[[str], bool] | None = None) -> str:
    """The first keyword of every command in ``language`` (else any language), comma separated.

    With ``fits`` (is a reply listing these words one SMS?), a plugin's second and later commands
    are left out, the last first, until it is: a plugin's first command is its main one (DAFTAR,
    PESAN, POIN, BERHENTI), and the others are named in its replies or are rarely needed.
    """
    chosen: dict[tuple[str, str], str] = {}
    for kw in ctx.keywords():
        if kw.secret_words:  # the owner's commands are not advertised
            continue
        key = (kw.plugin, kw.command)
        if key not in chosen or (kw.language == language and chosen[key][1] != language):
            chosen[key] = (kw.word, kw.language)  # type: ignore[assignment]
    keys = list(chosen)
    rank = {key: sum(k[0] == key[0] for k in keys[:i]) for i, key in enumerate(keys)}  # 0: the plugin's first
    for key in sorted((k for k in keys if rank[k]), key=lambda k: (rank[k], keys.index(k)), reverse=True):
        if fits is None or fits(", ".join(chosen[k][0] for k in keys)):  # type: ignore[index]
            break
        keys.remove(key)
    return ", ".join(chosen[k][0] for k in keys)  # type: ignore[index]


def _menu(ctx: PluginContext, template: str, language: str) -> str:
    """A reply listing the menu: every command's word, or the main ones when all would not fit one SMS
    (and, should even those not fit, as many as do)."""
    words = menu_words(ctx, language, lambda w: fits_one_sms(ctx.text(template, language, keywords=w)))
    return ctx.text(template, language, keywords=Listing(words.split(", ")))


@hookimpl(trylast=True)
def handle_message(message: Message, ctx: PluginContext) -> Reply | None:
    """Menu on BANTUAN; a suggestion for a typo; otherwise the menu with an apology."""
    if message.phone is None:
        return None
    lang = message.language
    if message.command == "help":
        # the menu asked for by its keyword; read from other words ("format buat pesen gimana") it is
        # budgeted like any automatic answer: a machine's "format SMS salah" must not start a loop
        asked = (message.keyword or "") in {k.word for k in ctx.keywords() if k.command == "help"}
        return Reply(_menu(ctx, "menu", lang), fallback=not asked)
    if message.command == "greeting":  # "Assalamualaikum", "Selamat pagi kak", "P": a polite menu
        return Reply(_menu(ctx, "greeting", lang), fallback=True)
    if message.command == "thanks":  # "ok", "makasih": nothing to answer, no SMS to pay for
        return None
    # a short text whose first word is near a keyword ("DFT Budi"); a sentence gets the menu, not a guess
    if message.keyword and len(message.keyword) >= 3 and len(message.text.split()) <= 5 and \
            message.keyword.lower() not in ctx.lexicon.fillers:  # "Ada rokok?" is no typo of ADUAN
        suggestion = closest(message.keyword, sorted({k.word for k in ctx.keywords() if not k.secret_words}),
                             cutoff=0.6)
        if suggestion:
            return Reply(ctx.text("did_you_mean", lang, suggestion=suggestion), fallback=True)
    # "Not understood" answers are budgeted per number (flood.unknown_per_hour): a machine answering
    # every SMS gets a few, never an endless exchange. The menu asked for by keyword is not one.
    return Reply(_menu(ctx, "unknown", lang), fallback=True)
