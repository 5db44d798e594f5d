"""`python -m cuescore` runs the command line."""

import sys

from cuescore.cli import main

sys.exit(main())
