"""``python -m qstash_receiver.cli`` runs the console script."""

from . import main

raise SystemExit(main())
