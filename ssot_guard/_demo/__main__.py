"""``python -m ssot_guard._demo``."""

import sys

from . import main

sys.exit(main())
