"""Checks of drawn figures shared by the plot, report and dashboard tests."""

from __future__ import annotations

from matplotlib.figure import Figure


def cut_tick_labels(fig: Figure) -> list[str]:
    """The tick labels of ``fig`` (ticks inside their axis' view, with text) and the axis
    labels that do not lie wholly inside the figure, as drawn last (call after a draw)."""
    box = fig.bbox
    cut = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            span = hi - lo
            labels = [*zip(axis.get_ticklocs(), axis.get_ticklabels()), (lo, axis.label)]
            for loc, label in labels:  # the tick labels, and the axis label (at lo: in view)
                inside_view = lo - 1e-9 * span <= loc <= hi + 1e-9 * span
                if not (inside_view and label.get_visible() and label.get_text()):
                    continue
                e = label.get_window_extent()
                if (
                    e.x0 < box.x0 - 0.5
                    or e.x1 > box.x1 + 0.5
                    or e.y0 < box.y0 - 0.5
                    or (e.y1 > box.y1 + 0.5)
                ):
                    cut.append(f"{ax.get_title()!r}: {label.get_text()!r} at {e}")
    return cut


def texts_crossing_lines(ax) -> list[str]:
    """The texts of ``ax`` (annotations too) whose drawn box a plotted line passes through
    (dotted lines, the markers the texts belong to, left out): each line is followed, in
    display coordinates, across the box's width (call after a draw)."""
    import numpy as np

    crossed = []
    for text in ax.texts:
        box = text.get_window_extent()
        for line in ax.get_lines():
            if line.get_linestyle() == ":":
                continue
            xy = line.get_transform().transform(np.column_stack(line.get_data()))
            xy = xy[~np.isnan(xy).any(axis=1)]
            if len(xy) < 2 or xy[:, 0].max() < box.x0 or xy[:, 0].min() > box.x1:
                continue
            xs = np.linspace(max(box.x0, xy[:, 0].min()), min(box.x1, xy[:, 0].max()), 200)
            ys = np.interp(xs, xy[:, 0], xy[:, 1])
            if ((box.y0 <= ys) & (ys <= box.y1)).any():
                crossed.append(f"{text.get_text()!r} crossed by {line.get_label()!r}")
    return crossed
