"""smsd-crm: an SMS-gateway CRM for small shops.

This module is the public plugin API; a plugin imports only from here::

    from smsd_crm import hookimpl, PluginConfig, Reply
"""

from __future__ import annotations

from .context import PluginContext
from .errors import ApiProblem, ConfigError, PluginError, SmsdError, StartupError
from .events import (CampaignFinished, ComplaintChanged, ComplaintOpened, DeliveryReported, MessageHandled,
                     MessageReceived, MessageSent, OrderPlaced, OrderStateChanged, TillSale)
from .grammar import closest, format_rupiah, split_fields, split_keyword
from .hookspecs import hookimpl
from .models import (ApiRoute, Command, Customer, Keyword, Message, Migration, Page, Product, ProfileSection,
                     Reply, Segment)
from .plugin_config import PluginConfig

__version__ = "0.1.0"

__all__ = [
    "ApiProblem", "ApiRoute", "CampaignFinished", "ComplaintChanged", "Segment", "ComplaintOpened", "ProfileSection",
    "Command", "Page", "OrderPlaced", "OrderStateChanged", "Product", "TillSale",
    "ConfigError", "Customer", "DeliveryReported", "Keyword", "Message", "MessageHandled", "MessageReceived",
    "MessageSent", "Migration", "PluginConfig", "PluginContext", "PluginError", "Reply",
    "SmsdError", "StartupError", "closest", "format_rupiah", "hookimpl", "split_fields",
    "split_keyword",
]
