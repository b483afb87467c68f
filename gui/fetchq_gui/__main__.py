"""``python -m fetchq_gui``: the same as the ``fetchq`` command."""

import sys

from .app import main

sys.exit(main())
