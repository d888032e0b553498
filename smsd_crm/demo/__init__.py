"""The demo shop: its catalogue, a seeded three-year history, the banner ``smsd-crm demo`` prints."""
