"""Issue 10, point 5: a job whose answers never change is given up, not polled for ever.

``PollPolicy(give_up_unchanged_s=...)`` (seconds; the name decided for the issue): a job whose
status and counts have not changed for that long, or that keeps answering a status word the
package does not know, is backed off to ``max_interval_s`` and then given up with an
``error`` row, ``error_code == "GIVEN_UP_UNCHANGED"``, whose message says why. The poller
runs on a manual simulated clock: nothing sleeps for real.
"""

from __future__ import annotations

import logging
import warnings

import pytest
from hostile_server import Answer, FakeZoho, by_job, manual_poller, status_body

import zcrm_notebook as zn

# hostile answers warn (DataQualityWarning) by design; what they warn about is tested in
# test_quality.py and test_poller.py; here the warnings are not the subject
pytestmark = pytest.mark.filterwarnings("ignore::zcrm_notebook.errors.DataQualityWarning")

ORG = "still-org"
GOOD = "3652397000009835020"
STILL = "3652397000009835021"
GIVE_UP_S = 300.0
MIN_S, MAX_S = 5.0, 20.0
# The backstop (simulated) ends the run if the job is never given up; the budget bounds calls.
BACKSTOP = {"deadline_s": 10 * GIVE_UP_S, "budget": 400}


def policy(**kw) -> zn.PollPolicy:
    return zn.PollPolicy(seed=1, min_interval_s=MIN_S, max_interval_s=MAX_S,
                         give_up_unchanged_s=GIVE_UP_S, **BACKSTOP, **kw)  # fmt: skip


STILL_ANSWERS = {
    "in progress, counts frozen": lambda req, n: Answer(
        200, status_body("IN_PROGRESS", total=10, converted=3, not_converted=7)
    ),
    "scheduled for ever": lambda req, n: Answer(
        200, status_body("SCHEDULED", total=10, converted=0, not_converted=10)
    ),
    "unknown word, counts frozen": lambda req, n: Answer(
        200, status_body("PAUSED", total=10, converted=3, not_converted=7)
    ),
    "unknown word, counts moving": lambda req, n: Answer(
        200, status_body("ON_HOLD", total=50, converted=n % 50, not_converted=50 - n % 50)
    ),
    # answers that change every time but flap between earlier values: no progress
    "counts flapping": lambda req, n: Answer(
        200, status_body("IN_PROGRESS", total=10, converted=3 + n % 2, not_converted=7 - n % 2)
    ),
    "counts cycling": lambda req, n: Answer(
        200, status_body("IN_PROGRESS", total=10, converted=n % 3, not_converted=10 - n % 3)
    ),
    "state flapping": lambda req, n: Answer(
        200, status_body("IN_PROGRESS" if n % 2 else "SCHEDULED", 10, 0, 10)
    ),
    "known and unknown word flapping": lambda req, n: Answer(
        200, status_body("IN_PROGRESS" if n % 2 else "PAUSED", 10, 3, 7)
    ),
    "total flapping": lambda req, n: Answer(
        200, status_body("IN_PROGRESS", total=10 + n % 2, converted=3, not_converted=7)
    ),
}


def moving_then_done(req, n):
    """A slow but live job: one lead every poll, done after 100 polls (well past GIVE_UP_S)."""
    done = min(n // 2, 50)
    word = "COMPLETED" if done == 50 else "IN_PROGRESS"
    return Answer(200, status_body(word, total=50, converted=done, not_converted=50 - done))


@pytest.fixture
def fake():
    with FakeZoho() as server:
        yield server


def run(fake, answers, caplog):
    caplog.set_level(logging.WARNING)
    fake.status = by_job(answers)
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    poller = manual_poller({ORG: [GOOD, *answers]}, {ORG: creds}, policy=policy())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = poller.run()
    return poller, df, caught


@pytest.mark.parametrize("case", list(STILL_ANSWERS))
def test_a_job_that_never_changes_is_given_up_with_an_error_row(fake, caplog, case):
    poller, df, caught = run(fake, {STILL: STILL_ANSWERS[case]}, caplog)
    rows = df[df["job_id"] == STILL]
    last = rows.iloc[-1]
    assert last["error_code"] == "GIVEN_UP_UNCHANGED", rows[["status", "error_code"]].tail(3)
    assert last["status"] == "error"
    assert isinstance(last["error_message"], str) and 0 < len(last["error_message"]) < 500
    assert poller.stopped_reason == "finished"
    first = rows["polled_at"].iloc[0]
    waited = (last["polled_at"] - first).total_seconds()
    assert GIVE_UP_S <= waited <= GIVE_UP_S + 2 * MAX_S, f"given up after {waited:.0f} s"
    assert fake.status_requests(STILL) <= 30, "not backed off towards max_interval_s"
    gaps = rows["polled_at"].diff().dt.total_seconds().dropna().iloc[-4:-1]
    assert (gaps >= 0.85 * MAX_S).all(), f"last gaps {gaps.tolist()} (max_interval_s={MAX_S})"
    assert df[df["job_id"] == GOOD]["status"].astype(str).tolist() == ["completed"]
    said = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert len([t for t in said if STILL in t]) <= 3, "warned more than once or twice"


def test_a_slow_job_that_keeps_moving_is_not_given_up(fake, caplog):
    poller, df, _ = run(fake, {STILL: moving_then_done}, caplog)
    rows = df[df["job_id"] == STILL]
    assert "GIVEN_UP_UNCHANGED" not in set(rows["error_code"].dropna())
    assert rows["status"].astype(str).iloc[-1] == "completed"
    assert (rows["polled_at"].iloc[-1] - rows["polled_at"].iloc[0]).total_seconds() > GIVE_UP_S
    assert poller.stopped_reason == "finished"


def test_give_up_unchanged_s_is_validated():
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(zn.ZcrmError, match="give_up_unchanged_s"):
            zn.PollPolicy(give_up_unchanged_s=bad)


def test_give_up_unchanged_s_none_never_gives_up(fake, caplog):
    fake.status = by_job({STILL: STILL_ANSWERS["in progress, counts frozen"]})
    creds = zn.OrgCredentials(org=ORG, **fake.org_config())
    still = zn.PollPolicy(seed=1, min_interval_s=MIN_S, max_interval_s=MAX_S,
                          give_up_unchanged_s=None, deadline_s=4 * GIVE_UP_S)  # fmt: skip
    poller = manual_poller({ORG: [STILL]}, {ORG: creds}, policy=still)
    df = poller.run()
    assert poller.stopped_reason == "deadline"
    assert "GIVEN_UP_UNCHANGED" not in set(df["error_code"].dropna())
    assert (df["polled_at"].iloc[-1] - df["polled_at"].iloc[0]).total_seconds() > 3 * GIVE_UP_S
