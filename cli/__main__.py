"""`python -m tfstyle_cli`: the same as the `tfstyle` command."""

import sys

from .main import main

sys.exit(main())
