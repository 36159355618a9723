"""``python -m zcrm_notebook`` -> the ``zcrm-notebook`` command line."""

import sys

from .cli import main

sys.exit(main())
