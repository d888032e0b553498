"""Built-in plugin: PESAN/ORDER/BELI orders, BATAL to cancel a new one, STATUS; staff move orders.

Written like a third-party plugin: the public API only. Staff move orders on the
desk at /orders, through the JSON API or with ``smsd-crm order``; the customer
gets an SMS at every step.
"""

from .desk import customer_profile, home_section, register_api, register_pages
from .moves import MOVES, STATES, OrderError, move
from .sms import handle_message, register_commands, register_config_model

__all__ = ["MOVES", "STATES", "OrderError", "customer_profile", "handle_message", "move", "register_api",
           "home_section", "register_commands", "register_config_model", "register_pages"]
