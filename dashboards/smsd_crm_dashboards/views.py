"""Every dashboard the daemon serves, in menu order."""

from __future__ import annotations

from smsd_crm.web.dashboards import View

from . import crosssell, customers, future, messages, profit, retention, sales, service

VIEWS = [
    View("sales", "Penjualan", "Sales", sales.make),
    View("customers", "Pelanggan", "Customers", customers.make),
    View("profit", "Laba", "Profitability", profit.make),
    View("future", "Nilai masa depan", "Future value", future.make),
    View("retention", "Retensi", "Retention", retention.make),
    View("crosssell", "Dibeli bersama", "Cross-sell", crosssell.make),
    View("service", "Layanan", "Service", service.make),
    View("messages", "Pesan & promosi", "Messages & campaigns", messages.make),
]
