"""What the retry rounds and the diagnosis of a run did: their counts, one line each.

:func:`round_done` counts the outcomes of a retry round's leads right after the round;
:func:`earlier_round` counts those of a round an earlier run of the same input made;
:func:`diagnosis_done` counts what the single-lead convert answered for the leads it was
asked about (Zoho's codes, the leads it converted, the calls that failed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from .diagnose import DIAGNOSED
from .plan import CREDITS
from .retry import retry_round_key
from .session import Key, Session

__all__ = ["RetryRound", "Diagnosis", "round_done", "earlier_round", "diagnosis_done"]


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class RetryRound:
    """A retry round of an input: ``sent`` leads in ``jobs`` jobs, and their outcomes after
    it (``outcomes``: outcome -> leads, e.g. ``{"converted": 3, "not_converted": 21}``);
    ``earlier``: made by an earlier run of the same input (this run sent none of it)."""

    round_no: int
    sent: int
    outcomes: dict[str, int] = field(default_factory=dict)
    jobs: int = 0
    earlier: bool = False

    def text(self) -> str:
        """``"retry round 1: 24 leads sent again, 3 converted, 21 not converted"`` (``"retry
        round 1 (made by an earlier run): ..."`` for an earlier one)."""
        counts = {"converted": 0, "not_converted": 0, **self.outcomes}
        shown = [(k, n) for k, n in counts.items() if n or k in ("converted", "not_converted")]
        said = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in shown)
        when = " (made by an earlier run)" if self.earlier else ""
        return f"retry round {self.round_no}{when}: {_n(self.sent, 'lead')} sent again, {said}"


@dataclass(frozen=True)
class Diagnosis:
    """The diagnosis of a run: ``asked`` leads (answered calls), the ``credits`` spent,
    Zoho's ``codes`` (code -> leads), the leads it ``converted``, the calls that ``failed``."""

    asked: int
    credits: int
    codes: dict[str, int] = field(default_factory=dict)
    converted: int = 0
    failed: int = 0

    def text(self) -> str:
        """``"diagnosis: asked Zoho about 4 leads (20 credits): 2 DUPLICATE_DATA, ...;
        1 converted by it"``."""
        if not self.asked and not self.failed:
            return "diagnosis: no lead to ask about (no lead not converted without a reason)"
        head = f"diagnosis: asked Zoho about {_n(self.asked, 'lead')} ({self.credits:,} credits)"
        codes = ", ".join(f"{n:,} {code}" for code, n in self.codes.items())
        parts = [head + (f": {codes}" if codes else "")]
        if self.converted:
            parts.append(f"{self.converted:,} converted by it")
        if self.failed:
            parts.append(f"{_n(self.failed, 'call')} failed (reason in leads' reason column)")
        return "; ".join(parts)


def round_done(
    session: Session, round_no: int, keys: Sequence[Key], jobs: int = 0, earlier: bool = False
) -> RetryRound:
    """The outcomes of retry round ``round_no``'s leads ``keys`` (sent in ``jobs`` jobs)
    now."""
    counts = Counter(row.outcome for row in session.ledger.outcomes(list(keys)))
    return RetryRound(round_no, len(keys), dict(sorted(counts.items())), jobs, earlier)


def earlier_round(session: Session, batch: int, round_no: int) -> RetryRound | None:
    """Retry round ``round_no`` of input ``batch`` as an earlier run made it (its leads'
    outcomes now); None when the ledger has no such round."""
    made = session.ledger.batch_for(retry_round_key(batch, round_no), kind="retry")
    if made is None:
        return None
    chunks = [c for c in session.ledger.chunks() if c.batch_id == made]
    keys = list(dict.fromkeys((c.org, lead) for c in chunks for lead in c.lead_ids))
    return round_done(session, round_no, keys, len(chunks), earlier=True)


def diagnosis_done(session: Session, asked: Sequence[Key], credits: int) -> Diagnosis:
    """What the diagnosis found for the leads ``asked`` (``credits``: spent)."""
    rows = session.ledger.outcomes(list(asked))
    converted = sum(1 for r in rows if r.outcome == "converted" and r.reason == DIAGNOSED)
    failed = sum(1 for r in rows if (r.reason or "").startswith("diagnosis failed"))
    found = Counter(r.error_code for r in rows if r.outcome != "converted" and r.error_code)
    codes = dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))  # most, then by name
    return Diagnosis(credits // CREDITS["convert"], credits, codes, converted, failed)
