"""``python -m bot``: the same CLI as the ``sahut`` command."""

from bot.cli import main

raise SystemExit(main())
