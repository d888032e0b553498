"""smsd-crm: an SMS-gateway CRM for small shops.

This module is the public plugin API; a plugin imports only from here::

    from smsd_crm import hookimpl, PluginConfig, Reply
"""

from __future__ import annotations

from .context import PluginContext
from .errors import ApiProblem, ConfigError, PluginError, SmsdError, StartupError
from .events import (
    CampaignFinished,
    ComplaintChanged,
    ComplaintOpened,
    CreditAlert,
    DeliveryReported,
    MessageHandled,
    MessageReceived,
    MessageSent,
    OrderPlaced,
    OrderStateChanged,
    TillSale,
)
from .hookspecs import hookimpl
from .i18n import Speaker
from .models import (
    ApiRoute,
    Command,
    Complaint,
    Customer,
    HomeLine,
    HomeSection,
    Keyword,
    Message,
    Migration,
    Order,
    OrderLine,
    Page,
    Product,
    ProfileSection,
    Reply,
    Segment,
    View,
)
from .plugin_config import PluginConfig, SecretValue
from .sms.fit import Listing, clip, fits_one_sms, to_gsm7
from .sms.typed_text import tidy_typed
from .understanding import (
    MAX_ITEMS,
    AskSize,
    ItemRequest,
    Lexicon,
    Measure,
    Packs,
    choose,
    parse_items,
    size_text,
    wrong_pack,
)
from .understanding.fields import Registration, parse_birthday, parse_registration, parse_update, person_name
from .understanding.grammar import closest, format_rupiah, record_id, record_number, split_fields, split_keyword

__version__ = "0.2.0"

__all__ = [
    "ApiProblem", "ApiRoute", "CampaignFinished", "CreditAlert", "ComplaintChanged", "Segment", "ComplaintOpened", "ProfileSection",
    "HomeLine", "HomeSection", "tidy_typed",
    "Command", "Page", "OrderPlaced", "OrderStateChanged", "Product", "TillSale", "View",
    "ConfigError", "Customer", "DeliveryReported", "Keyword", "Listing", "Message", "MessageHandled",
    "MessageReceived",
    "MessageSent", "Migration", "PluginConfig", "SecretValue", "PluginContext", "PluginError", "Reply",
    "SmsdError", "StartupError", "clip", "closest", "fits_one_sms", "format_rupiah", "hookimpl", "split_fields",
    "split_keyword", "to_gsm7", "record_id", "record_number",
    "MAX_ITEMS", "AskSize", "ItemRequest", "Lexicon", "Measure", "Packs", "choose", "parse_items", "size_text", "wrong_pack",
    "Registration", "parse_birthday", "parse_registration", "parse_update", "person_name", "Speaker",
    "Complaint", "Order", "OrderLine",
]
