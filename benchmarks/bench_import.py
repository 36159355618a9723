"""Import time: `import zcrm_notebook` (and its main entry points) vs `import pandas`."""

from __future__ import annotations

import statistics
import subprocess
import sys


def _seconds(code: str, repeat: int) -> float:
    prog = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", prog], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeat)
    ]
    return statistics.median(runs)


def import_time(repeat: int = 7) -> dict:
    """Median seconds over fresh interpreters; ratios against pandas in the same run."""
    pandas = _seconds("import pandas", repeat)
    package = _seconds("import zcrm_notebook", repeat)
    entry = _seconds("from zcrm_notebook import poll_jobs, to_frame, summarize_jobs", repeat)
    check = (
        "import sys, zcrm_notebook; from zcrm_notebook import poll_jobs, to_frame; "
        "sys.exit(bool({'matplotlib', 'ipywidgets', 'zcrm_notebook.simulator'} & set(sys.modules)))"
    )
    lazy = subprocess.run([sys.executable, "-c", check]).returncode == 0
    return {
        "pandas_s": pandas,
        "package_s": package,
        "entry_points_s": entry,
        "package_over_pandas": package / pandas,
        "entry_over_pandas": entry / pandas,
        "heavy_modules_lazy": lazy,
    }
