"""``python -m zcrm_notebook`` -> the ``zcrm-notebook`` command line."""

import sys

from .cli.main import main

sys.exit(main())
