"""viz/lead_outcomes.py and the report bundle's lead files: outcomes per data center or org,
semantic colours, the plot contract, leads.csv in the bundle."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from helpers_frames import three_jobs  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from zcrm_notebook.convert import LeadOutcome, outcomes_frame, read_lead_outcomes  # noqa: E402
from zcrm_notebook.errors import ConfigError  # noqa: E402
from zcrm_notebook.viz import LEAD_OUTCOME_COLORS, STATUS_COLORS, plot_lead_outcomes  # noqa: E402
from zcrm_notebook.viz.report import export_report  # noqa: E402


def leads() -> pd.DataFrame:
    rows = [("us-org", "us", "converted")] * 5 + [("us-org", "us", "not_converted")] * 2
    rows += [("eu-org", "eu", "converted")] * 3 + [("eu-org", "eu", "deleted")]
    rows += [("eu2", "eu", "not_scheduled")] * 4
    return outcomes_frame(
        LeadOutcome(org, dc, str(10**18 + i), outcome=o) for i, (org, dc, o) in enumerate(rows)
    )


def new_ax():
    return Figure().add_subplot()


def test_stacked_bars_per_data_center_in_outcome_order_with_semantic_colours():
    ax = plot_lead_outcomes(leads(), ax=new_ax())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["eu", "us"]
    bars = {c.get_label().split(" (")[0]: c for c in ax.containers}
    assert list(bars) == ["converted", "not converted", "not scheduled", "deleted"]
    assert [p.get_width() for p in bars["converted"].patches] == [3, 5]
    assert [p.get_x() for p in bars["not scheduled"].patches] == [3, 7]  # after the others
    assert to_hex(bars["converted"].patches[0].get_facecolor()) == STATUS_COLORS["completed"]
    assert to_hex(bars["not converted"].patches[0].get_facecolor()) == STATUS_COLORS["failed"]
    assert set(LEAD_OUTCOME_COLORS) == set(leads()["outcome"].cat.categories)
    assert "15 leads" in ax.get_title() and ax.get_xlabel() == "leads (count)"


def test_per_org_and_the_plot_contract():
    df, rc = leads(), dict(matplotlib.rcParams)
    before = df.copy()
    fig = plt.figure()
    try:
        ax = plot_lead_outcomes(df, by="org")
        assert ax is plt.gca()
    finally:
        plt.close(fig)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["eu-org", "eu2", "us-org"]
    pd.testing.assert_frame_equal(df, before)
    assert dict(matplotlib.rcParams) == rc
    with pytest.raises(ConfigError):
        plot_lead_outcomes(df, by="job")
    empty = plot_lead_outcomes(outcomes_frame([]), ax=new_ax())
    assert any("no lead outcomes yet" in t.get_text() for t in empty.texts)


def test_the_bundle_carries_the_lead_outcomes_when_given(tmp_path):
    paths = export_report(three_jobs(), tmp_path / "out", leads=leads())
    assert paths["leads"].name == "leads.csv" and paths["lead_outcomes"].name == "lead_outcomes.png"
    pd.testing.assert_frame_equal(read_lead_outcomes(paths["leads"]), leads())
    readme = paths["readme"].read_text()
    assert "## leads.csv" in readme and "`lead_outcomes.png`" in readme
    again = export_report(three_jobs(), tmp_path / "out")  # a bundle without leads replaces it
    assert "leads" not in again and "## leads.csv" not in again["readme"].read_text()
    assert not (tmp_path / "out" / "leads.csv").exists()  # no stale file of the last bundle
