"""The ``zcrm-notebook`` command line (argparse): one module per command.

The top layer: it may import any part of the package; the simulator only through its
public entry, when the ``demo`` and ``simulate`` commands run.
"""

from .entry import main

__all__ = ["main"]
