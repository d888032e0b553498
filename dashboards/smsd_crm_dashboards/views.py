"""Every dashboard the daemon serves, in menu order (titles: ``dash.view.*`` in the catalogue)."""

from __future__ import annotations

from smsd_crm.models import View

from . import crosssell, customers, future, messages, profit, retention, sales, service

VIEWS = [
    View("sales", "dash.view.sales", sales.make),
    View("customers", "dash.view.customers", customers.make),
    View("profit", "dash.view.profit", profit.make),
    View("future", "dash.view.future", future.make),
    View("retention", "dash.view.retention", retention.make),
    View("crosssell", "dash.view.crosssell", crosssell.make),
    View("service", "dash.view.service", service.make),
    View("messages", "dash.view.messages", messages.make),
]
