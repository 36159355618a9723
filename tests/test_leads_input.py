"""inputs/leads.py: the leads to convert checked at the boundary, with the id rules and the
table reader of job files, plus per-lead options."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from conftest import make_creds

from zcrm_notebook.errors import ConfigError, LeadInputError
from zcrm_notebook.inputs.leads import clean_leads

LEAD = "3652397000009851001"
LEAD2 = "3652397000009851002"


@pytest.fixture
def orgs():
    return {"us-org": make_creds("us-org", "us"), "eu-org": make_creds("eu-org", "eu")}


def test_every_form_gives_the_same_frame_of_text_ids(orgs, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(f"\ufefflead_id;org\r\n{LEAD};us-org\r\n{LEAD2};eu-org\r\n", encoding="utf-8")
    from_csv = clean_leads(path, orgs)
    from_dict = clean_leads({"us-org": [LEAD], "eu-org": [LEAD2]}, orgs)
    from_frame = clean_leads(
        pd.DataFrame({"lead_id": [LEAD, LEAD2], "org": ["us-org", "eu-org"]}), orgs
    )
    for df in (from_csv, from_dict, from_frame):
        assert list(df.columns) == ["org", "dc", "lead_id", "row"]
        assert df["lead_id"].tolist() == [LEAD, LEAD2] and df["dc"].tolist() == ["us", "eu"]
        assert str(df["lead_id"].dtype) == "string" and str(df["row"].dtype) == "Int64"
    one = clean_leads([LEAD, int(LEAD2)], orgs, org="eu-org")
    assert one["lead_id"].tolist() == [LEAD, LEAD2] and set(one["org"]) == {"eu-org"}


def test_a_dc_column_names_the_org_of_that_data_center(orgs):
    df = clean_leads(pd.DataFrame({"lead_id": [LEAD], "dc": ["EU"]}), orgs)
    assert df["org"].tolist() == ["eu-org"]


def test_bad_ids_orgs_and_options_are_refused_in_one_message_naming_the_rows(orgs):
    table = pd.DataFrame(
        {
            "lead_id": [LEAD, 3.652397000009851e18, "12a", LEAD2, "55"],
            "org": ["us-org", "us-org", "us-org", "mars-org", "us-org"],
            "closing_date": ["", "", "", "", "31/03/2026"],
            "assign_to": ["1.5", "", "", "", ""],
        }
    )
    with pytest.raises(LeadInputError) as err:
        clean_leads(table, orgs)
    rows = [r for r, _, _ in err.value.rows]
    assert rows == [1, 2, 3, 4, 5]
    text = str(err.value)
    assert text.startswith("5 bad rows in the leads input")
    assert "row 2: 3.652397000009851e+18: a float" in text and "unknown org 'mars-org'" in text
    assert "closing_date '31/03/2026' is not a date YYYY-MM-DD" in text
    assert "assign_to not all digits" in text


def test_a_lead_id_with_a_leading_zero_is_refused_naming_its_line(orgs, tmp_path):
    """'0' + a 19-digit id would be planned as another lead than the id itself."""
    path = tmp_path / "leads.csv"
    path.write_text(f"lead_id,org\n{LEAD},us-org\n0{LEAD},us-org\n")
    with pytest.raises(LeadInputError) as err:
        clean_leads(path, orgs)
    text = str(err.value)
    assert text.startswith("1 bad row in the leads input") and "without a leading zero" in text
    assert f"line 3: '0{LEAD}': a leading zero" in text and len(text.splitlines()) == 2
    assert clean_leads(["0", "7"], orgs, org="us-org")["lead_id"].tolist() == ["0", "7"]


def test_python_api_errors_name_the_argument_and_the_flag_only_as_command_line(orgs):
    table = pd.DataFrame({"lead_id": [LEAD], "org": ["us-org"]})
    with pytest.raises(ConfigError) as err:
        clean_leads(table, orgs, org="us-org")
    text = str(err.value)
    assert text.startswith("org='us-org' conflicts with the table's org column; drop one")
    assert text.endswith("(command line: --org)") and text.count("--org") == 1


def test_duplicates_are_dropped_with_a_warning_and_overrides_kept(orgs):
    table = pd.DataFrame(
        {
            "lead_id": [LEAD, LEAD, LEAD2],
            "org": ["us-org"] * 3,
            "Deal_Name": ["A", "B", ""],
            "closing_date": ["2026-03-31", "", " "],
        }
    )
    with pytest.warns(UserWarning, match=f"dropped 1 duplicate lead ids \\(row 2: {LEAD}\\)"):
        df = clean_leads(table, orgs)
    assert df["lead_id"].tolist() == [LEAD, LEAD2]
    assert (
        df["deal_name"].tolist() == ["A", pd.NA] and df["closing_date"].tolist()[0] == "2026-03-31"
    )
    assert df["row"].tolist() == [1, 3]


def test_a_plain_list_needs_an_org_when_several_are_configured(orgs):
    with pytest.raises(ConfigError, match="needs org="):
        clean_leads([LEAD], orgs)


def test_importing_the_inputs_does_not_load_pandas():
    code = "import sys, zcrm_notebook.inputs; print('pandas' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        == "False\n"
    )
