"""``python -m fetchq_gui``: the same as the ``fetchq`` command. An absolute import, so the
frozen app (PyInstaller runs this file as a script) starts the same way."""

import sys

from fetchq_gui.launcher import main

sys.exit(main())
