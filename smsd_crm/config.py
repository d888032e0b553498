"""Configuration: YAML -> ``{$env}``/``{$file}`` secrets -> validated, frozen settings.

Every user mistake becomes one :class:`ConfigError` line naming the file, the key
path and what was expected. Plugin sections are validated later, by each
plugin's own model (see :mod:`smsd_crm.plugin_config`), with the same messages.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Sequence

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .config_files import data_folder
from .errors import ConfigError

if TYPE_CHECKING:
    from .shop_time import ShopTime

_ID = r"^[A-Za-z0-9_-]{1,32}$"


class _Loader(yaml.SafeLoader):
    """YAML as an operator means it: ``start: 21:00`` is the time 21:00, not YAML 1.1's base-60
    integer 1260 (which became 00:21), ``2:30`` not 150. The int and float resolvers are PyYAML's
    without their sexagesimal forms."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (
        "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""", re.X), list("-+0123456789"))
# "21.00" stays text: the Indonesian way to write a time (a float field still reads "0.50" as 0.5)
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"""^(?![0-9]{1,2}\.[0-9]{2}$)(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))


def _time_of_day(value: Any) -> Any:
    """ "7:30" and Indonesian "07.30" as 07:30; a bare number refused (21 would be 00:00:21)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError('a time of day is written like "21:00"')
    if isinstance(value, str):
        found = re.fullmatch(r"\s*(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s*", value)
        if found:
            return f"{int(found[1]):02d}:{found[2]}" + (f":{found[3]}" if found[3] else "")
    return value


Clock = Annotated[dt.time, BeforeValidator(_time_of_day)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Strict):
    """Who the shop is; used in reply texts."""

    name: str = Field("Toko Kita", min_length=1, max_length=30,
                      description="at most 30 characters: replies name the shop and must fit one SMS")
    id: str = Field("main", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
                    description="this store in a chain sharing one PostgreSQL database (docs/deployment.md): "
                                "its messages, orders, sales, campaigns and modems are kept under this id; "
                                "customers, consent and points are the chain's")
    language: Literal["id", "en"] = "id"
    country: str = Field("ID", pattern=r"^[A-Z]{2}$", description="region for numbers written without +")
    timezone: str = Field("Asia/Jakarta", description="the shop's local time: days, months and years counted, every time shown, quiet hours, greetings, reports; one UTC offset (no daylight saving time)")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from .shop_time import for_zone
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (for example Asia/Jakarta, Asia/Makassar)") from None
        for_zone(v)  # a zone with daylight saving time: ValueError saying so
        return v

    @property
    def time(self) -> "ShopTime":
        """Days, months, years and every time shown, in this shop's zone (``shop_time``)."""
        from .shop_time import for_zone
        return for_zone(self.timezone)


class DatabaseConfig(_Strict):
    """Where the data lives: a SQLite file (``path``, the default) or a PostgreSQL server (``url``).

    ``url`` is ``postgresql://user:password@host:port/name``, or ``postgresql:///name?host=/run/postgresql``
    for the server's Unix socket; a password belongs in the environment or a file
    (``url: {$env: SMSD_CRM_DATABASE_URL}``). With ``url`` set, ``path`` is not used.
    """

    path: Path = Path("var/smsd-crm.sqlite3")
    url: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _postgresql_only(cls, v: SecretStr | None) -> SecretStr | None:
        from .storage.database_url import url_problem
        problem = None if v is None else url_problem(v.get_secret_value())
        if problem:
            raise ValueError(problem)
        return v

    @property
    def target(self) -> str | Path:
        """What ``Database.open`` takes: the PostgreSQL URL, else the SQLite path."""
        return self.url.get_secret_value() if self.url is not None else self.path

    @property
    def engine(self) -> str:
        """``postgresql`` or ``sqlite``."""
        return "sqlite" if self.url is None else "postgresql"

    def shown(self) -> str:
        """Where the data is, fit for a log line or a page (no password)."""
        if self.url is None:
            return str(self.path)
        from .storage.database_url import redacted
        return redacted(self.url.get_secret_value())


class CreditConfig(_Strict):
    """A prepaid SIM's credit (pulsa), checked by USSD (docs/operations.md, "SIM credit"): at start,
    every ``every_hours`` and after a send the operator refused with one of ``refusal_codes``. The owner
    gets an SMS (plugins.owner.numbers) once when the balance falls below ``low``, when the SIM's active
    period or its SMS package ends within ``warn_days``, or when sends are refused for lack of credit."""

    ussd: str | None = Field(None, pattern=r"^[0-9*#]{2,30}$",
                             description="the balance code (*888#); default: the operator's, from AT+COPS")
    pattern: str | None = Field(None, description="a regular expression with groups balance and until, "
                                "for an operator's answer the built-in reading does not know")
    packed: bool = Field(False, description="send the code as packed GSM 7-bit hex (Huawei sticks)")
    every_hours: float = Field(12.0, gt=0, le=24 * 7)
    low: int = Field(10_000, ge=0, description="rupiah: below this the owner is told")
    warn_days: int = Field(3, ge=0, le=60)
    refusal_codes: list[int] = Field(default_factory=lambda: [21, 38, 41, 42, 50, 69, 500],
                                     description="+CMS ERROR codes after which the credit is checked at once")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return v


class ModemConfig(_Strict):
    """One GSM modem. ``port`` is a device path, ``socket://host:port``, or ``emulator``."""

    id: str = Field(pattern=_ID)
    port: str = Field(min_length=1)
    baudrate: int = Field(115200, gt=0)
    pin: SecretStr | None = None
    sweep_interval: float = Field(60.0, gt=0, description="seconds between AT+CMGL sweeps")
    fallback_sweep_interval: float = Field(5.0, gt=0, description="seconds between sweeps on a modem that "
                                                                    "announces no new messages (+CMTI)")
    command_timeout: float = Field(10.0, gt=0)
    send_timeout: float = Field(60.0, ge=8, description="the longest wait for +CMSS/+CMGS (at least 8 s: a "
                                "network can take that long); the wait used is learnt from the modem")
    multipart_timeout: float = Field(300.0, gt=0, description="give up waiting for missing parts")
    health_interval: float = Field(60.0, gt=0, description="seconds between health checks (the watchdog)")
    concat_ref_bits: Literal[8, 16] = Field(8, description="reference size in long SMS this modem sends")
    smsc: str | None = Field(None, pattern=r"^\+?\d{3,20}$",
                             description="service centre number, for SIMs that lack one (+62816124)")
    send: bool = Field(True, description="false: a receive-only modem")
    max_per_minute: int | None = Field(None, gt=0, description="send-rate limit of this SIM")
    max_per_day: int | None = Field(None, gt=0, description="campaign messages this SIM sends per day "
                                                              "(replies are never held back)")
    prefixes: list[str] = Field(default_factory=list,
                                description="prefer this modem for numbers starting with these (+62811)")
    credit: CreditConfig | None = Field(None, description="check the prepaid SIM's credit by USSD ({} for "
                                        "the defaults)")

    @field_validator("pin")
    @classmethod
    def _pin_digits(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not re.fullmatch(r"\d{4,8}", v.get_secret_value()):
            raise ValueError("a SIM PIN is 4 to 8 digits")
        return v


class EmulatorConfig(_Strict):
    """Emulated modems (``port: emulator``) and the socket ``smsd-crm sim`` talks to."""

    control_socket: Path = Path("var/emulator.sock")
    send_delay: float = Field(0.0, ge=0, description="seconds an emulated modem takes per SMS (real ones ~3 s)")


class SimulatorConfig(_Strict):
    """Which numbers staff may play on the phone simulator page (emulated modems only)."""

    numbers: list[str] = Field(default_factory=lambda: ["+628120000"],
                               description="E.164 prefixes staff may send from (default: 0812 0000 xxxx)")
    any_number: bool = Field(False, description="staff may send from any number (never an owner's)")

    @field_validator("numbers")
    @classmethod
    def _prefixes(cls, v: list[str]) -> list[str]:
        for prefix in v:
            if not re.fullmatch(r"\+\d{3,15}", prefix):
                raise ValueError(f"{prefix!r}: write the start of an E.164 number, such as '+628120000'")
        return v

    def allows(self, phone: str) -> bool:
        """Whether staff may send from ``phone`` (E.164)."""
        return self.any_number or phone.startswith(tuple(self.numbers))


class ApiConfig(_Strict):
    """The JSON API's rate limit, per token: ``burst`` calls at once, refilled at ``per_minute``."""

    per_minute: float = Field(120, gt=0, description="calls a token may make per minute, sustained")
    burst: int = Field(60, ge=1, description="calls a token may make at once")


class OutboxConfig(_Strict):
    """Sending: retries with exponential backoff for transient modem errors."""

    max_attempts: int = Field(5, ge=1)
    retry_min: float = Field(5.0, gt=0, description="seconds before the first retry")
    retry_max: float = Field(600.0, gt=0)
    reply_from: Literal["any", "texted"] = Field(
        "any", description="any: a reply goes out from any healthy modem (fastest); texted: from the SIM the "
        "customer texted when it can within same_sim_wait seconds")
    same_sim_wait: float = Field(10.0, ge=0, description="with reply_from: texted, seconds a reply waits for "
                                 "the SIM the customer texted")
    delivery_reports: bool = Field(False, description="ask the network for delivery reports (may be charged)")


class FloodConfig(_Strict):
    """Flood protection (core): a number sending too much gets one short notice a minute, no routing;
    automatic "not understood" replies are budgeted and a repeated text is answered once."""

    max_per_minute: int = Field(10, ge=1, description="messages from one number per minute that are answered")
    unknown_per_hour: int = Field(3, ge=0, description="automatic 'not understood' replies to one number per "
                                  "hour; after that such messages are stored and not answered")
    repeat_minutes: float = Field(10, ge=0, description="the same text from a number again within this many "
                                  "minutes is stored and not answered again (0: off)")
    replies_per_hour: int = Field(30, ge=1, description="replies of any kind to one number per hour; after "
                                  "that its messages are stored and not answered (a machine in a loop)")
    reply: dict[str, str] = Field(default_factory=lambda: {
        "id": "Terlalu banyak pesan dari nomor Anda. Mohon tunggu 1 menit lalu coba lagi.",
        "en": "Too many messages from your number. Please wait a minute and try again.",
    })


_HOST_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


def _is_address(text: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class WebConfig(_Strict):
    """The staff and owner web pages. Loopback only unless ``host`` says otherwise."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535, description="0 picks a free port")
    session_minutes: float = Field(480, gt=0, description="a login lasts this long without use")
    lockout_attempts: int = Field(5, ge=1, description="wrong logins (per address, per name, per known browser) "
                                  "before each further try must wait 1 s, 2 s, 4 s ... (never a lock)")
    lockout_minutes: float = Field(15, gt=0, description="the longest of those waits")
    secure_cookies: bool = Field(False, description="true when served over HTTPS by a proxy")
    max_connections: int = Field(256, ge=8, le=20000, description="connections open at once; one more "
                                 "closes the oldest not in a request handler (lowered to fit the open-file "
                                 "limit)")
    header_timeout: float = Field(10, gt=0, le=300, description="seconds each request has to send its request "
                                  "line and headers (a new connection's first one from the connection, later "
                                  "ones from their first byte), else the connection is closed")
    body_timeout: float = Field(30, gt=0, le=3600, description="seconds a request's body has to arrive in full "
                                "after its headers, else it is answered 408 and the connection closed")
    idle_timeout: float = Field(60, gt=0, le=3600, description="seconds a kept-alive connection may wait "
                                "between requests")
    allowed_hosts: list[str] = Field(default_factory=list, description="names the pages answer to besides "
                                     "localhost and numbers such as 127.0.0.1 (toko.lan); any other Host gets 421")
    session_max_hours: float = Field(12, gt=0, description="a login ends this long after it began, however "
                                     "much it is used")

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, v: list[str]) -> list[str]:
        names = []
        for name in v:
            plain = str(name).strip().lower().rstrip(".")
            if not (_HOST_NAME.fullmatch(plain) or _is_address(plain)):
                raise ValueError(f"{name!r}: a host name or address alone, without http:// or a port "
                                 "(for example toko.lan or 192.168.1.10)")
            names.append(plain)
        return names

    @property
    def allowed_hosts_set(self) -> frozenset[str]:
        """``allowed_hosts`` as the Host check reads it (lower case)."""
        return frozenset(self.allowed_hosts)


class DashboardsConfig(_Strict):
    """The owner's dashboards, computed in a worker process of their own (never on the SMS loop)."""

    start: Literal["on_demand", "at_startup"] = Field(
        "on_demand", description="on_demand: the worker starts when a dashboard is first opened; at_startup: "
        "with the daemon, so the first look finds the numbers computed")
    idle_minutes: float = Field(10, gt=0, description="the worker stops (its memory given back) after this long "
                                "with no dashboard open; it starts again when one is opened")
    own_cpu: bool = Field(True, description="while the worker runs on a PC with 2 CPUs or more, the daemon keeps "
                          "the first CPU for itself and the worker uses the others, so charts being computed never "
                          "delay an SMS reply (false: both may use every CPU)")


class CostsConfig(_Strict):
    """What messages and complaints cost the shop (profitability, campaign previews)."""

    sms_part: float = Field(350, ge=0, description="rupiah per SMS part sent (the SIM's tariff)")
    complaint: float = Field(25_000, ge=0, description="rupiah of staff time per complaint")


class QuietHours(_Strict):
    """No campaign message leaves between ``start`` and ``end`` (local time; may span midnight)."""

    start: Clock = dt.time(21, 0)
    end: Clock = dt.time(8, 0)


class Holiday(_Strict):
    """A dated greeting to every customer (Lebaran, Natal, Tahun Baru...)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    date: dt.date
    text: dict[Literal["id", "en"], str]


class GreetingsConfig(_Strict):
    """Greetings made into campaigns once per customer and occasion, from ``send_at`` local time."""

    send_at: Clock = dt.time(9, 0)
    birthday: bool = False
    birthday_text: dict[Literal["id", "en"], str] = Field(default_factory=lambda: {
        "id": "Selamat ulang tahun, {nama}! Salam hangat dari {toko}.",
        "en": "Happy birthday, {nama}! Warm wishes from {toko}."})
    holidays: list[Holiday] = Field(default_factory=list)
    winback_days: int | None = Field(None, gt=0, description="greet customers whose last purchase was this "
                                                              "many days ago (off when empty)")
    winback_text: dict[Literal["id", "en"], str] = Field(default_factory=lambda: {
        "id": "Halo {nama}, lama tidak mampir! {toko} punya barang baru untuk Anda.",
        "en": "Hello {nama}, we miss you! {toko} has new things for you."})


class CampaignsConfig(_Strict):
    """Promotions, greetings and their pace."""

    quiet_hours: QuietHours | None = QuietHours()
    weekly_cap: int | None = Field(2, ge=1, description="promotions per customer per 7 days (greetings apart)")
    window_per_modem: int = Field(2, ge=1, le=20, description="campaign messages queued ahead per sending modem")
    default_name: dict[Literal["id", "en"], str] = Field(default_factory=lambda: {"id": "Pelanggan",
                                                                                   "en": "Customer"})
    greetings: GreetingsConfig = GreetingsConfig()
    replies: dict[Literal["id", "en"], dict[str, str]] = Field(default_factory=lambda: {
        "id": {"done": "Promo #{id} selesai: {sent} terkirim, {delivered} diterima, {failed} gagal, "
                       "{skipped} dilewati.",
               "done_no_reports": "Promo #{id} selesai: {sent} terkirim (diterima: tidak diketahui, laporan "
                                  "pengiriman mati), {failed} gagal, {skipped} dilewati."},
        "en": {"done": "Promo #{id} done: {sent} sent, {delivered} delivered, {failed} failed, {skipped} skipped.",
               "done_no_reports": "Promo #{id} done: {sent} sent (delivered: not known, delivery reports are off), "
                                  "{failed} failed, {skipped} skipped."}},
        description="the owner's summary when a PROMO is done; done_no_reports when outbox.delivery_reports is "
                    "off (without reports nobody knows how many arrived)")


class TextingConfig(_Strict):
    """Words a shop adds to what the SMS reader understands (docs/customers-texting.md).

    Product names and aliases come from the catalogue; these are the other words.
    """

    abbreviations: dict[str, str] = Field(default_factory=dict, description="shorthand -> word: {bsk: besok}")
    synonyms: dict[str, str] = Field(default_factory=dict, description="customer word -> catalogue word")
    units: dict[str, str] = Field(default_factory=dict, description="word -> a known unit: {kresek: bungkus}")
    fillers: list[str] = Field(default_factory=list, description="words that carry no item or intent")
    greetings: list[str] = Field(default_factory=list)
    thanks: list[str] = Field(default_factory=list)
    phrases: dict[Literal["order", "price", "cancel", "status", "complain", "stop", "start", "help", "info",
                          "balance", "rewards", "register", "update"], list[str]] = Field(
        default_factory=dict, description="command -> extra phrases that show it")

    @field_validator("abbreviations", "units")
    @classmethod
    def _one_word(cls, v: dict[str, str]) -> dict[str, str]:
        for word in v:
            if len(str(word).split()) != 1:
                raise ValueError(f"{word!r}: one word each (several-word names go in synonyms or the catalogue's "
                                 "aliases)")
        return v

    @field_validator("units")
    @classmethod
    def _known_units(cls, v: dict[str, str]) -> dict[str, str]:
        from .understanding.lexicon import Lexicon
        Lexicon().extended(units=v)  # raises ValueError naming the unknown unit
        return v

    def lexicon(self):
        """The default lexicon with these words added (a ``understanding.lexicon.Lexicon``)."""
        from .understanding.lexicon import Lexicon
        return Lexicon().extended(**self.model_dump())


class LoggingConfig(_Strict):
    """Log level and optional file."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: Path | None = None


class BackupConfig(_Strict):
    """Backups of the SQLite database (``smsd-crm backup``; docs/operations.md). ``daily_at``: a time
    of day in store.timezone ("02:30") at which the daemon makes one itself, keeping the ``keep``
    newest in ``folder`` (default: ``backups/`` beside the database); unset, only the command makes them.
    Keep a copy off the PC too: a backup on the same disk does not survive the disk."""

    folder: Path | None = None
    keep: int = Field(14, ge=1, le=1000)
    daily_at: Clock | None = None


def preferred_modem(modems: Sequence[ModemConfig], number: str) -> str | None:
    """The first sending modem whose ``prefixes`` match ``number`` (E.164; routing by operator), if any."""
    for m in modems:
        if m.send and any(number.startswith(p) for p in m.prefixes):
            return m.id
    return None


class Settings(_Strict):
    """The whole validated configuration. Paths are absolute (resolved against the file)."""

    store: StoreConfig = StoreConfig()
    database: DatabaseConfig = DatabaseConfig()
    modems: list[ModemConfig] = Field(default_factory=list)
    emulator: EmulatorConfig = EmulatorConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    api: ApiConfig = ApiConfig()
    outbox: OutboxConfig = OutboxConfig()
    flood: FloodConfig = FloodConfig()
    web: WebConfig = WebConfig()
    dashboards: DashboardsConfig = DashboardsConfig()
    costs: CostsConfig = CostsConfig()
    campaigns: CampaignsConfig = CampaignsConfig()
    texting: TextingConfig = TextingConfig()
    logging: LoggingConfig = LoggingConfig()
    backup: BackupConfig = BackupConfig()
    plugins_dir: Path | None = None
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)
    source: Path | None = Field(None, exclude=True)

    @field_validator("modems")
    @classmethod
    def _unique_ids(cls, v: list[ModemConfig]) -> list[ModemConfig]:
        seen: set[str] = set()
        for m in v:
            if m.id in seen:
                raise ValueError(f"modem id {m.id!r} is used twice")
            seen.add(m.id)
        return v

    @field_validator("texting", "dashboards", mode="before")
    @classmethod
    def _empty_section(cls, v: Any) -> Any:
        return {} if v is None else v  # "texting:" with every line commented out

    @field_validator("plugins", mode="before")
    @classmethod
    def _sections_are_mappings(cls, v: Any) -> Any:
        if v is None:  # "plugins:" with every section commented out
            return {}
        if isinstance(v, dict):
            for name, section in v.items():
                if section is None:
                    v[name] = {}
                elif not isinstance(section, dict):
                    raise ValueError(f"plugins.{name} must be a mapping (e.g. enabled: true)")
        return v


def key_path(loc: tuple[Any, ...]) -> str:
    """``('modems', 0, 'baudrate')`` -> ``modems[0].baudrate``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_SECRET_KEYS = frozenset({"pin", "url", "password", "token", "secret"})


def describe_errors(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> str:
    """One line for every error pydantic found: ``key.path: what is expected``."""
    parts = []
    for err in exc.errors():
        path = key_path(prefix + tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            parts.append(f"{path}: unknown key")
        elif err["type"] == "missing":
            parts.append(f"{path}: required key is missing")
        else:
            got = err.get("input")
            # A secret (a PIN, a database URL with its password) is never repeated back.
            secret = bool(err["loc"]) and str(err["loc"][-1]) in _SECRET_KEYS
            shown = "" if isinstance(got, (dict, list)) or secret else f" (got {got!r})"
            parts.append(f"{path}: {err['msg'].removeprefix('Value error, ')}{shown}")
    return "; ".join(parts)


_UNSET = object()  # a secret left out: its key is dropped, as if it were not in the file


def _resolve_secrets(node: Any, base: Path, loc: tuple[Any, ...] = (), secrets: bool = True) -> Any:
    """``{$env}`` / ``{$file}`` values read. With ``secrets`` False (commands that never use a
    secret: a cashier's ``order list`` needs no owner PIN) one that cannot be read is left out."""
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)) in ("$env", "$file"):
            kind, ref = next(iter(node.items()))
            # Where the data lives is never optional: a command run without it would quietly
            # open a new SQLite file instead of the shop's server.
            needed = secrets or loc == ("database", "url")
            if kind == "$env":
                if ref not in os.environ:
                    if not needed:
                        return _UNSET
                    raise ConfigError(f"{key_path(loc)}: environment variable {ref!r} is not set")
                return os.environ[ref]
            path = (base / str(ref)).expanduser()
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                if not needed:
                    return _UNSET
                raise ConfigError(f"{key_path(loc)}: cannot read secret file {path}: {exc.strerror}") from None
        pairs = ((k, _resolve_secrets(v, base, loc + (k,), secrets)) for k, v in node.items())
        return {k: v for k, v in pairs if v is not _UNSET}
    if isinstance(node, list):
        return [_resolve_secrets(v, base, loc + (i,), secrets) for i, v in enumerate(node)]
    return node


def _absolute(settings: Settings, base: Path, data: Path) -> Settings:
    def fix(p: Path | None, under: Path) -> Path | None:
        return None if p is None else (p if p.is_absolute() else under / p)
    return settings.model_copy(update={
        "database": settings.database.model_copy(update={"path": fix(settings.database.path, data)}),
        "emulator": settings.emulator.model_copy(
            update={"control_socket": fix(settings.emulator.control_socket, data)}),
        "logging": settings.logging.model_copy(update={"file": fix(settings.logging.file, data)}),
        "backup": settings.backup.model_copy(update={"folder": fix(settings.backup.folder, data) or (
            fix(settings.database.path, data).parent / "backups")}),
        "plugins_dir": fix(settings.plugins_dir, base),
    })


def parse_config(text: str, source: Path, *, secrets: bool = True) -> Settings:
    """Validate YAML text; ``source`` names the file in messages and anchors relative paths
    (data paths in :func:`~.config_files.data_folder`).
    ``secrets=False``: a secret that cannot be read is left out instead of stopping (see
    :func:`load_config`)."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{where}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, not {type(data).__name__}")
    base = source.resolve().parent
    try:
        data = _resolve_secrets(data, base, secrets=secrets)
        settings = Settings.model_validate(data)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_errors(exc)}") from None
    return _absolute(settings, base, data_folder(source)).model_copy(update={"source": source})


def load_config(path: str | Path, *, secrets: bool = True) -> Settings:
    """Read and validate a config file; ConfigError (one line) on any problem. Only the daemon
    needs secrets (``run``, ``demo``, ``check-config``); other commands pass ``secrets=False`` so
    a terminal without ``OWNER_PIN`` (a cashier's) can still list orders: an unreadable secret is
    then left out (the owner's SMS commands, which need it, only run in the daemon)."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read: {exc}") from None
    return parse_config(text, source, secrets=secrets)
