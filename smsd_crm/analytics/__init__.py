"""CRM analytics as plain functions: SQL or numpy/scipy in, typed values out; no Bokeh here.

docs/analytics.md gives the definitions (RFM, BG/NBD, Gamma-Gamma, retention) and says which
choices were made (RFM ties, class precedence, fallbacks) and why.
"""
