"""plot_lead_outcomes: what became of the leads of a conversion, per data center or org.

Unlike the other plots of :mod:`zcrm_notebook.viz` it takes the *lead outcome* table of a
conversion (:mod:`zcrm_notebook.convert.outcomes`, ``ConversionResult.leads``): one row
per lead. It draws on ``ax`` (or the current Axes), labels its axes with units and returns
the Axes; it never calls ``plt.show()``, never modifies ``leads`` and never touches global
rcParams.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .plotdata import choose, lead_outcome_counts
from .style import BY_LABEL, LEAD_OUTCOME_COLORS, bar_axes, legend_above, no_data
from .text import UNITS, plural

__all__ = ["plot_lead_outcomes"]


def plot_lead_outcomes(
    leads: pd.DataFrame,
    *,
    by: str = "dc",
    ax: Axes | None = None,
    tz: str | tzinfo = "UTC",
    **kwargs,
) -> Axes:
    """Stacked leads per outcome (converted, already converted, not converted, pending, not
    scheduled, unknown, deleted) for each data center or org.

    Parameters
    ----------
    leads : pandas.DataFrame
        Lead outcome table (columns ``org``, ``dc``, ``outcome`` at least). Not modified.
    by : {"dc", "org"}, default "dc"
        One bar per data center or per org.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default the current Axes.
    tz : str or tzinfo, default "UTC"
        Accepted for a uniform signature (this plot has no time axis).
    **kwargs
        Passed to each ``Axes.barh`` call (one per outcome that has leads).

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per outcome with leads, in the order above (converted green,
        already converted pale green, not converted red, the others light or neutral grey);
        a "no lead outcomes yet" note
        when ``leads`` is empty.

    Raises
    ------
    zcrm_notebook.errors.ConfigError
        For a bad ``by``.
    """
    choose(by, "by", ("dc", "org"))
    where = BY_LABEL[by]
    ax = bar_axes(ax, tz, f"{UNITS} (count)", where, f"Lead outcomes per {where}")
    counts = lead_outcome_counts(leads, by)
    if counts.empty:
        return no_data(ax, "lead outcomes")
    y = np.arange(len(counts))
    left = np.zeros(len(counts))
    for outcome in counts.columns:
        values = counts[outcome].to_numpy(float)
        if not values.any():
            continue
        style: dict[str, Any] = {
            "height": 0.7,
            "color": LEAD_OUTCOME_COLORS[outcome],
            "label": f"{outcome.replace('_', ' ')} ({int(values.sum()):,})",
        }
        ax.barh(y, values, left=left, **(style | kwargs))
        left = left + values
    ax.set_yticks(y, [str(i) for i in counts.index])
    ax.set_ylim(len(counts) - 0.5, -0.5)
    ax.set_xlim(0, max(float(left.max()), 1.0) * 1.05)
    ax.set_title(f"Lead outcomes per {where} ({plural(int(left.sum()), 'lead')})")
    legend_above(ax)
    return ax
