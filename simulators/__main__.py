"""`python -m simulators -c PLANT` or `python -m simulators scale ...`."""

import sys

from simulators.cli import main

sys.exit(main())
