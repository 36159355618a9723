"""What the retry rounds and the diagnosis of a run did: their counts, one line each.

:func:`round_done` counts the outcomes of a retry round's leads right after the round;
:func:`diagnosis_done` counts what the single-lead convert answered for the leads it was
asked about (Zoho's codes, the leads it converted, the calls that failed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from .diagnose import DIAGNOSED
from .plan import CREDITS
from .session import Key, Session

__all__ = ["RetryRound", "Diagnosis", "round_done", "diagnosis_done"]


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class RetryRound:
    """A retry round made by a run: ``sent`` leads, and their outcomes after it
    (``outcomes``: outcome -> leads, e.g. ``{"converted": 3, "not_converted": 21}``)."""

    round_no: int
    sent: int
    outcomes: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        """``"retry round 1: 24 leads sent again, 3 converted, 21 not converted"``."""
        counts = {"converted": 0, "not_converted": 0, **self.outcomes}
        shown = [(k, n) for k, n in counts.items() if n or k in ("converted", "not_converted")]
        said = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in shown)
        return f"retry round {self.round_no}: {_n(self.sent, 'lead')} sent again, {said}"


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


def round_done(session: Session, round_no: int, keys: Sequence[Key]) -> RetryRound:
    """The outcomes of retry round ``round_no``'s leads ``keys`` now."""
    counts = Counter(row.outcome for row in session.ledger.outcomes(list(keys)))
    return RetryRound(round_no, len(keys), dict(sorted(counts.items())))


def diagnosis_done(session: Session, asked: Sequence[Key], credits: int) -> Diagnosis:
    """What the diagnosis found for the leads ``asked`` (``credits``: spent)."""
    rows = session.ledger.outcomes(list(asked))
    converted = sum(1 for r in rows if r.outcome == "converted" and r.reason == DIAGNOSED)
    failed = sum(1 for r in rows if (r.reason or "").startswith("diagnosis failed"))
    found = Counter(r.error_code for r in rows if r.outcome != "converted" and r.error_code)
    codes = dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))  # most, then by name
    return Diagnosis(credits // CREDITS["convert"], credits, codes, converted, failed)
