"""poll/quality.py: data-quality checks of successive answers, never fixing the data."""

from pathlib import Path

from zcrm_notebook.api.status import parse_status

DATA = Path(__file__).parent / "data"
JOB = "3652397000009835020"


def st(status, total, conv, pending, failed):
    return parse_status(
        JOB,
        {
            "data": [
                {
                    "Status": status,
                    "Total_Count": total,
                    "Converted_Count": conv,
                    "Not_Converted_Count": pending,
                    "Failed_Count": failed,
                }
            ]
        },
    )


def kinds(prev, cur):
    from zcrm_notebook.poll.quality import quality_problems

    return [k for k, _ in quality_problems(prev, cur)]


def test_quality_checks_flag_without_fixing():
    a = st("in progress", 10, 5, 4, 1)
    assert kinds(None, a) == []
    assert kinds(a, st("in progress", 10, 6, 3, 1)) == []
    assert kinds(a, st("in progress", 10, 3, 6, 1)) == ["backwards"]
    assert kinds(a, st("in progress", 12, 5, 6, 1)) == ["backwards"]
    assert kinds(st("completed", 10, 9, 0, 1), st("in progress", 10, 9, 0, 1)) == ["regressed"]
    assert kinds(None, st("completed", 40, 45, 0, 0)) == ["mismatch"]
