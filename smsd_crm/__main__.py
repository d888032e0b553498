"""``python -m smsd_crm`` is the same as the ``smsd-crm`` command."""

from .cli.main import main

raise SystemExit(main())
