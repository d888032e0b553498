"""``python -m smsd_crm`` is the same as the ``smsd-crm`` command."""

from .cli import main

raise SystemExit(main())
