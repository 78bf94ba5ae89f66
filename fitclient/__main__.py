"""``python -m fitclient``: the ``mixfit`` command (``fitclient.cli``)."""

import sys

from .cli import main

sys.exit(main())
