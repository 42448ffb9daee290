"""``python -m molvae ...`` runs the command-line interface."""

import sys

from molvae.cli.main import main

sys.exit(main())
