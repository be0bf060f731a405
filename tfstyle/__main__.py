"""`python -m tfstyle ...`: the `tfstyle` command, for when its script is not
on PATH. Every command is there."""

import sys

from tfstyle_cli.main import main

sys.exit(main())
