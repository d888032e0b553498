"""CRM analytics as plain functions: SQL or numpy/scipy in, typed values out; no Bokeh here.

Definitions follow ../shared/design/analytics.md; docs/analytics.md says which
choices were made (RFM ties, class precedence, fallbacks) and why.
"""
