"""``python -m devstack`` (``make run``): run the dev stack until Ctrl-C."""

import sys

from devstack import main

sys.exit(main())
