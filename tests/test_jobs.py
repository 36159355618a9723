"""Job input at the boundary: ids as text, every bad row listed, duplicates dropped."""

import warnings

import pandas as pd
import pytest
from conftest import JOB, make_creds

from zcrm_notebook.errors import ConfigError, JobInputError
from zcrm_notebook.inputs import Job, clean_jobs


def test_list_of_ids_with_whitespace_is_cleaned():
    orgs = {"us-org": make_creds()}
    jobs = clean_jobs([f" {JOB}", "12 "], orgs)
    assert jobs == [Job("us-org", JOB), Job("us-org", "12")]


def test_dict_and_frame_forms(two_orgs):
    assert clean_jobs({"eu-org": [JOB]}, two_orgs) == [Job("eu-org", JOB)]
    df = pd.DataFrame({"job_id": [JOB, "1"], "dc": ["us", "EU"]})
    assert clean_jobs(df, two_orgs) == [Job("us-org", JOB), Job("eu-org", "1")]


def test_plain_list_with_several_orgs_needs_org(two_orgs):
    with pytest.raises(ConfigError, match="org="):
        clean_jobs([JOB], two_orgs)
    assert clean_jobs([JOB], two_orgs, org="eu-org") == [Job("eu-org", JOB)]


def test_every_kind_of_bad_id_is_listed_in_one_error(two_orgs):
    bad = [
        "+123",
        "-5",
        "12.0",
        "1e18",
        "",
        "123456789012345678901",
        "12 34",
        3.6523970000098350e18,
        float("nan"),
        None,
        True,
    ]
    rows = [{"job_id": v, "org": "us-org"} for v in bad] + [{"job_id": JOB, "org": "nope"}]
    with pytest.raises(JobInputError) as err:
        clean_jobs(pd.DataFrame(rows, dtype=object), two_orgs)
    assert [r[0] for r in err.value.rows] == list(range(1, len(rows) + 1))
    text = str(err.value)
    assert "row 8" in text and "float" in text and "unknown org 'nope'" in text
    assert "21 digits" in text


def test_duplicates_dropped_with_a_warning_naming_them(creds):
    with pytest.warns(UserWarning, match="row 3"):
        jobs = clean_jobs([JOB, "1", JOB], {"us-org": creds})
    assert jobs == [Job("us-org", JOB), Job("us-org", "1")]


def test_csv_ids_stay_text(tmp_path, two_orgs):
    path = tmp_path / "jobs.csv"
    path.write_text(f"job_id,org\n{JOB},us-org\n 18446744073709551617,eu-org\n")
    assert clean_jobs(path, two_orgs) == [
        Job("us-org", JOB),
        Job("eu-org", "18446744073709551617"),  # above 2**64: no number type kept it
    ]


def test_a_leading_zero_is_refused_naming_the_line(tmp_path, two_orgs):
    """The text 0012 is no id Zoho makes (read as a number it would be job 12)."""
    path = tmp_path / "jobs.csv"
    path.write_text(f"job_id,org\n{JOB},us-org\n 0012,eu-org\n0,eu-org\n")
    with pytest.raises(JobInputError, match="without a leading zero") as info:
        clean_jobs(path, two_orgs)
    assert "line 3: '0012': a leading zero (Zoho's ids have none)" in str(info.value)
    assert [r for r, _, _ in info.value.rows] == [3]  # "0" alone is a (digit) id


def test_100k_ids_are_accepted_quickly(creds):
    ids = [str(3652397000000000000 + i) for i in range(100_000)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jobs = clean_jobs(ids, {"us-org": creds})
    assert len(jobs) == 100_000 and jobs[-1].job_id == ids[-1]


@pytest.mark.parametrize("value", ["١٨٨٢٠٧٢١٦٤٩٨٧٤٦٦٦١٩", "１２３４５", "¹²³"])
def test_non_ascii_digits_are_refused(creds, value):
    with pytest.raises(JobInputError, match="not all digits"):
        clean_jobs([value], {"us-org": creds})


def test_a_dc_without_an_org_names_the_configured_dcs(two_orgs):
    df = pd.DataFrame({"job_id": [JOB], "dc": ["jp"]})
    with pytest.raises(JobInputError) as err:
        clean_jobs(df, two_orgs)
    assert "no org configured for dc 'jp'" in str(err.value) and "eu, us" in str(err.value)
    assert "bad row in the jobs input" in str(err.value)


def test_an_unknown_dc_is_named_as_no_data_center_and_the_id_is_not_blamed(two_orgs):
    # user trial: dc 'xx' read "job ids must be text of 1-20 digits" (the id was good) and
    # "no org configured for dc 'xx'", as if xx were a data center without an org here
    df = pd.DataFrame({"job_id": [JOB, JOB[:-1] + "9", "12.5"], "dc": ["xx", "", "us"]})
    with pytest.raises(JobInputError) as err:
        clean_jobs(df, two_orgs)
    head, *rows = str(err.value).splitlines()
    assert head == (
        "3 bad rows in the jobs input (job ids must be text of 1-20 digits 0-9 without a leading "
        "zero; every job needs a configured org, or the data center of one):"
    )
    assert "unknown data center 'xx' (data centers: us, eu, in, au, jp" in rows[0]
    assert "no org configured" not in rows[0] and "empty dc" in rows[1]
    df = pd.DataFrame({"job_id": [JOB], "dc": ["xx"]})
    with pytest.raises(JobInputError) as err:
        clean_jobs(df, two_orgs)
    head = str(err.value).splitlines()[0]
    assert head.endswith("(every job needs a configured org, or the data center of one):")


def test_org_and_dc_columns_must_agree(two_orgs):
    df = pd.DataFrame({"job_id": [JOB, "7"], "org": ["us-org", "eu-org"], "dc": ["eu", "eu"]})
    with pytest.raises(JobInputError, match="row 1.*'us-org' is in dc 'us' but the row says"):
        clean_jobs(df, two_orgs)


def test_org_argument_conflicts_with_org_column(two_orgs):
    df = pd.DataFrame({"job_id": [JOB], "org": ["us-org"]})
    with pytest.raises(ConfigError, match="conflicts"):
        clean_jobs(df, two_orgs, org="eu-org")


def test_empty_jobs_input_is_an_error(creds, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text("job_id,org\n")
    with pytest.raises(JobInputError, match="no job ids"):
        clean_jobs(path, {"us-org": creds})


def test_a_csv_error_names_the_file_line_a_quoted_line_break_and_a_blank_line_count(tmp_path):
    orgs = {"us-org": make_creds()}
    path = tmp_path / "jobs.csv"
    path.write_text(f'job_id,org,note\n{JOB},us-org,"two\nlines"\n\nx1,us-org,\n', "utf-8")
    with pytest.raises(JobInputError) as err:
        clean_jobs(path, orgs)
    assert "\n  line 5: 'x1': not all digits" in str(err.value)
    assert [r for r, _, _ in err.value.rows] == [5]


def test_an_empty_org_is_called_empty_not_unknown():
    with pytest.raises(JobInputError, match=r"row 1: '1': empty org \(configured orgs: us-org\)"):
        clean_jobs(pd.DataFrame({"job_id": ["1"], "org": [""]}), {"us-org": make_creds()})


def test_a_leads_file_given_as_jobs_is_named_a_leads_file(creds, tmp_path):
    """Trial 5: `poll leads.csv` said only that the table has no job_id column."""
    path = tmp_path / "leads.csv"
    path.write_text("lead_id,org\n1882072152664439277,us-org\n")
    with pytest.raises(JobInputError) as err:
        clean_jobs(path, {"us-org": creds})
    text = str(err.value)
    assert "no job_id column" in text and "this looks like a leads file" in text
    assert "`zcrm-notebook convert`" in text and "\n" not in text


def test_an_id_in_scientific_notation_says_a_spreadsheet_made_it_a_number(creds, tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(f"job_id,org\n{JOB},us-org\n1.88207E+18,us-org\n")
    with pytest.raises(JobInputError) as err:
        clean_jobs(path, {"us-org": creds})
    (line,) = [x for x in str(err.value).splitlines() if "1.88207E+18" in x]
    assert line.startswith("  line 3: '1.88207E+18': scientific notation: a spreadsheet (Excel)")
    assert line.endswith("keep the ids as text") and "not all digits" not in line
    with pytest.raises(JobInputError, match="not all digits"):
        clean_jobs(["1.5x"], {"us-org": creds})
