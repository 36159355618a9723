"""The lines a run says about its retry rounds and its diagnosis."""

from zcrm_notebook.convert.rounds import Diagnosis, RetryRound


def test_a_retry_round_says_what_was_sent_and_what_became_of_it():
    line = RetryRound(1, 24, {"converted": 3, "not_converted": 21}).text()
    assert line == "retry round 1: 24 leads sent again, 3 converted, 21 not converted"
    line = RetryRound(2, 5, {"not_converted": 4, "unknown": 1}).text()
    assert line == "retry round 2: 5 leads sent again, 0 converted, 4 not converted, 1 unknown"
    line = RetryRound(1, 24, {"not_converted": 24}, jobs=1, earlier=True).text()
    assert line.startswith("retry round 1 (made by an earlier run): 24 leads sent again")


def test_the_diagnosis_says_the_codes_and_the_leads_it_converted():
    found = Diagnosis(4, 20, {"DUPLICATE_DATA": 2, "MANDATORY_NOT_FOUND": 1}, converted=1)
    assert found.text() == (
        "diagnosis: asked Zoho about 4 leads (20 credits): 2 DUPLICATE_DATA, "
        "1 MANDATORY_NOT_FOUND; 1 converted by it"
    )
    assert "no lead to ask about" in Diagnosis(0, 0).text()
    assert "1 call failed" in Diagnosis(1, 5, failed=1).text()
