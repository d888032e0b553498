"""Example smsd-crm plugin package: see plugin.py."""
