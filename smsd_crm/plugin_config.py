"""The base of every plugin's config section: ``enabled``, ``keywords``, ``replies``.

A plugin subclasses :class:`PluginConfig`, gives ``keywords`` and ``replies``
defaults, and adds its own fields. Operators override any of them in
config.yaml; an override of one reply or one command's words keeps the other
defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .i18n import lookup

Language = str


@dataclass(frozen=True)
class SecretValue:
    """A value from a plugin's settings that no stored SMS may hold (the owner's PIN): masked in every
    text from ``numbers`` (any spelling) wherever a group of digits equals it, whatever the words."""

    value: str
    numbers: tuple[str, ...]


class PluginConfig(BaseModel):
    """``keywords``: command -> language -> words. ``replies``: language -> name -> template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    keywords: dict[str, dict[Language, list[str]]] = Field(default_factory=dict)
    replies: dict[Language, dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in ("keywords", "replies"):
            given = data.get(name)
            if not isinstance(given, dict):
                continue
            merged = {k: dict(v) for k, v in cls.model_fields[name].get_default(
                call_default_factory=True).items()}
            for key, value in given.items():
                if name == "replies" and isinstance(value, dict):
                    merged[key] = {**merged.get(key, {}), **value}
                else:
                    merged[key] = value
            data[name] = merged
        return data

    @field_validator("keywords")
    @classmethod
    def _words_are_single_tokens(cls, v: dict[str, dict[str, list[str]]]):
        # Checked by hand too: a subclass may annotate ``keywords`` loosely as ``dict``.
        if not isinstance(v, dict):
            raise ValueError("keywords must map a command to {language: [words]}")
        for command, by_lang in v.items():
            if not isinstance(by_lang, dict):
                raise ValueError(f"keywords of {command} must map a language to a list of words")
            for lang, words in by_lang.items():
                if not isinstance(words, list):
                    raise ValueError(f"keywords of {command}.{lang} must be a list of words")
                for w in words:
                    if not isinstance(w, str) or not w or any(c.isspace() for c in w):
                        raise ValueError(f"keyword {w!r} of {command}.{lang} must be one word")
        commands = cls.model_fields["keywords"].get_default(call_default_factory=True)
        if commands and (unknown := sorted(set(v) - set(commands), key=str)):
            # a typo ("pricee") would add words that no command answers to
            raise ValueError(f"no command named {', '.join(map(repr, unknown))} "
                             f"(this plugin's commands: {', '.join(sorted(commands))})")
        return v

    def secret_values(self) -> list[SecretValue]:
        """Secrets this section holds, each with the numbers whose texts may carry it. Core masks them
        before an SMS is stored; only the plugin whose command declares ``secret_words`` reads the real
        text. Those numbers are also never played by staff in the phone simulator."""
        return []

    def template(self, name: str, language: str, fallback_language: str = "id") -> str:
        """The template ``name`` in ``language``, else in ``fallback_language``, else in any (the one
        catalogue lookup the pages use too: :func:`smsd_crm.i18n.lookup`)."""
        try:
            return lookup(self.replies, name, language, fallback_language)
        except KeyError:
            raise KeyError(f"no reply template named {name!r}") from None
