"""The ``smsd-crm`` command: ``main.py`` parses and dispatches; one module per group of subcommands."""
