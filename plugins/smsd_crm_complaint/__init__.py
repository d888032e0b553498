"""Built-in plugin: KOMPLAIN/KELUHAN/ADUAN/COMPLAINT opens a ticket; staff answer and close it.

Timestamps (opened, first answer, closed) are kept for the service analytics.
Staff answer from the desk at /complaints, the JSON API or ``smsd-crm complaint``;
answers go out as SMS. Written like a third-party plugin: the public API only.
"""

from .desk import customer_profile, home_section, register_api, register_pages
from .tickets import (
    ComplaintError,
    answer,
    close,
    handle_message,
    register_commands,
    register_config_model,
)

__all__ = ["ComplaintError", "answer", "close", "customer_profile", "handle_message", "register_api",
           "home_section", "register_commands", "register_config_model", "register_pages"]
