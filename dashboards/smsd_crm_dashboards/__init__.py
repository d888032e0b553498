"""The owner's Bokeh dashboards (issue 6): one module per view, served by the daemon behind the owner login.

The numbers come from ``smsd_crm.analytics`` (plain tested functions); this package only draws them.
"""
