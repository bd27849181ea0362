"""Entry point for `python -m xdsspy`."""

import sys

from xdsspy import cli

sys.exit(cli.main())
