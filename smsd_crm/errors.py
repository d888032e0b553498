"""The project's short error tree.

Every error a user can cause (bad config, a clash between plugins) derives from
:class:`SmsdError` and carries a message fit to print on one line; the CLI prints
it without a traceback.
"""

from __future__ import annotations


class SmsdError(Exception):
    """Base of every error smsd-crm raises on purpose."""


class ConfigError(SmsdError):
    """The configuration is wrong; the message names the file and the key path."""


class StartupError(SmsdError):
    """The daemon cannot start: keyword clash, failed migration, plugin import failure."""


class PluginError(SmsdError):
    """An exception raised inside a plugin hook."""

    def __init__(self, plugin: str, hook: str, message: str) -> None:
        super().__init__(f"plugin {plugin!r} failed in {hook}: {message}")
        self.plugin = plugin
        self.hook = hook


class StorageError(SmsdError):
    """The database could not be opened, migrated or written."""


class StorageConflict(StorageError):
    """A write broke a constraint or a rule of the schema (a unique key, a check, the points
    ledger's append-only trigger); the transaction it ran in rolls back."""


class StorageUnavailable(StorageError):
    """The database server cannot be reached (the link is down, the server restarts). Transient:
    what was being written is rolled back and is tried again once it answers."""

    transient = True


class CampaignError(SmsdError):
    """A campaign cannot be made or changed as asked (an unknown segment, an empty text)."""


class PduError(SmsdError):
    """A PDU could not be decoded or encoded."""


class ModemError(SmsdError):
    """A modem failed; ``modem_id`` names it."""

    def __init__(self, modem_id: str, message: str) -> None:
        super().__init__(f"modem {modem_id}: {message}")
        self.modem_id = modem_id


class ModemUnavailable(ModemError):
    """The port is missing or closed. Transient: the pool retries with backoff."""

    transient = True


class CommandTimeout(ModemError):
    """No final result in time; the channel may be out of sync."""

    transient = True


class CommandError(ModemError):
    """The modem answered ERROR, +CME ERROR or +CMS ERROR.

    ``kind`` is ``"CME"``, ``"CMS"`` or ``""`` for a bare error; ``code`` is the
    numeric code where known; ``transient`` says whether retrying can help;
    ``message_fault`` that the message is at fault, not the modem.
    """

    def __init__(
        self, modem_id: str, command: str, kind: str, code: int | None, text: str, transient: bool,
        message_fault: bool = False,
    ) -> None:
        super().__init__(modem_id, f"{command!r} failed: {text}")
        self.command = command
        self.kind = kind
        self.code = code
        self.text = text
        self.transient = transient
        self.message_fault = message_fault  # the message is at fault (bad number, bad PDU), not the modem


class SendUncertain(ModemError):
    """A send's result never came back although the modem answers again: the SMS may or may not be
    on the air. Transient: the outbox resolves it (from storage where it can) before sending again."""

    transient = True


class ApiProblem(SmsdError):
    """A JSON API call that cannot be done: answered with ``status`` and ``message``, never a 500."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
