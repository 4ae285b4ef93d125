"""`python -m astvmap show FILE.py`: the same as the `astvmap` console script (see astvmap.cli)."""

import sys

from .cli import main

sys.exit(main())
