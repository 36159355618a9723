"""Data-quality checks of successive status answers of one job (pure functions).

Zoho's counts need not add up (its own sample answer has 45 converted of 40) and may go
backwards between polls; a final status may be followed by a non-final one. The poll loop
keeps every answer exactly as received and warns once per job and kind of problem
(:class:`~zcrm_notebook.errors.DataQualityWarning`); the per-job summary flags the same
problems (:func:`zcrm_notebook.analysis.summary.summarize_jobs`).
"""

from __future__ import annotations

from ..api.status import JobStatus

__all__ = ["quality_problems"]


def quality_problems(prev: JobStatus | None, st: JobStatus) -> list[tuple[str, str]]:
    """What looks wrong in ``st`` (after ``prev``), as ``(kind, text)`` pairs.

    Kinds: ``backwards`` (converted or failed count went down, or the total changed),
    ``regressed`` (a final status followed by a non-final one), ``mismatch`` (converted +
    not converted + failed != total; Zoho's own sample has 45 converted of 40). The data is
    never changed: the poller warns, the per-job summary flags.
    """
    problems = []
    if prev is not None:
        pairs = ((prev.converted_count, st.converted_count), (prev.failed_count, st.failed_count))
        went_down = any(a is not None and b is not None and b < a for a, b in pairs)
        total_changed = None not in (prev.total_count, st.total_count) and (
            prev.total_count != st.total_count
        )
        if went_down or total_changed:
            problems.append(("backwards", f"counts went backwards {prev.counts} -> {st.counts}"))
        if prev.is_final and not st.is_final:
            problems.append(("regressed", f"status went from {prev.status} back to {st.status}"))
    total, conv, pending, failed = st.counts
    known = total is not None and conv is not None and pending is not None and failed is not None
    if known and conv + pending + failed != total:  # type: ignore[operator]
        problems.append(("mismatch", f"counts do not add up: {conv}+{pending}+{failed} != {total}"))
    return problems
