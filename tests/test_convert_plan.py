"""convert/options.py and convert/plan.py: the POST body, per-lead options, chunks of at most
50 leads per org and options (Hypothesis), the estimate and the dry run; no call is made."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import make_creds
from hypothesis import given, settings
from hypothesis import strategies as st

from zcrm_notebook.convert import ConvertOptions, plan_conversions
from zcrm_notebook.convert.plan import POLLS_PER_JOB, PlannedLead, chunk_leads, fingerprint
from zcrm_notebook.errors import ConfigError, LeadInputError

DEAL = {"Deal_Name": "Renewal", "Stage": "Qualification", "Closing_Date": "2026-03-31"}


def ids(n, start=3652397000009850000):
    return [str(start + i) for i in range(n)]


@pytest.fixture
def orgs():
    return {
        "us-org": make_creds("us-org", "us"),
        "eu-org": make_creds("eu-org", "eu", api_version="v8"),
    }


# -- options --------------------------------------------------------------------------------


def test_the_body_is_flat_with_only_the_options_given():
    opts = ConvertOptions(deal=DEAL, assign_to=3652397000000186017, carry_over_tags=[{"id": "1"}])
    assert opts.body(["1", "2"]) == {
        "ids": ["1", "2"],
        "Deals": DEAL,
        "assign_to": {"id": "3652397000000186017"},
        "carry_over_tags": [{"id": "1"}],
    }
    assert ConvertOptions().body(["1"]) == {"ids": ["1"]}
    assert opts.single_body() == {
        "data": [{"Deals": DEAL, "assign_to": {"id": "3652397000000186017"}}]
    }
    with pytest.raises(ConfigError, match="1-50 lead ids"):
        opts.body(ids(51))


def test_options_compare_and_store_by_their_canonical_key():
    a = ConvertOptions(deal=dict(reversed(list(DEAL.items()))))
    b = ConvertOptions(deal=DEAL)
    assert a == b and hash(a) == hash(b) and a.key() == b.key()
    assert ConvertOptions.from_dict(a.to_dict()) == a
    deal = dict(DEAL)
    c = ConvertOptions(deal=deal)
    deal["Stage"] = "Closed"  # the caller's dict is copied
    assert c == b


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"deal": {"Deal_Name": "x"}}, "missing Stage, Closing_Date"),
        ({"deal": {**DEAL, "Closing_Date": "31/03/2026"}}, "not a date YYYY-MM-DD"),
        ({"assign_to": "abc"}, "not a user id"),
        ({"apply_assignment_threshold": "yes"}, "True or False"),
        ({"deal": {**DEAL, "Amount": object()}}, "cannot be sent as JSON"),
    ],
)
def test_bad_options_are_refused_with_one_line(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ConvertOptions(**kwargs)


def test_the_threshold_needs_v8_and_rows_override_the_deal_and_owner():
    opts = ConvertOptions(apply_assignment_threshold=True)
    opts.check_version("v8", "eu-org")
    with pytest.raises(ConfigError, match="org 'us-org' uses API v5: apply_assignment_threshold"):
        opts.check_version("v5", "us-org")
    base = ConvertOptions(deal=DEAL)
    row = base.with_row({"deal_stage": "Won", "assign_to": "42", "pipeline": None})
    assert row.deal == {**DEAL, "Stage": "Won"} and row.assign_to == "42"
    assert base.with_row({}) is base
    with pytest.raises(ConfigError, match="missing Stage, Closing_Date"):
        ConvertOptions().with_row({"deal_name": "x"})


# -- chunks -----------------------------------------------------------------------------------

OPTION_SETS = [ConvertOptions(), ConvertOptions(deal=DEAL), ConvertOptions(assign_to="7")]
items_strategy = st.lists(
    st.tuples(st.sampled_from(["us-org", "eu-org", "in-org"]), st.integers(0, 2)),
    max_size=400,
)


@settings(max_examples=150, deadline=None)
@given(items_strategy)
def test_chunks_hold_every_lead_once_at_most_50_one_org_and_one_options_each(draw):
    items = [
        (org, org[:2], PlannedLead(str(10**18 + i)), OPTION_SETS[k])
        for i, (org, k) in enumerate(draw)
    ]
    chunks = chunk_leads(items)
    seen = [lead.lead_id for c in chunks for lead in c.leads]
    assert sorted(seen) == sorted(lead.lead_id for _, _, lead, _ in items)  # each exactly once
    assert all(1 <= len(c.leads) <= 50 for c in chunks)
    by_lead = {lead.lead_id: (org, opts) for org, _, lead, opts in items}
    for c in chunks:
        assert {by_lead[i] for i in c.lead_ids} == {(c.org, c.options)}
    groups = {(o, k) for o, k in draw}
    sizes = {g: sum(1 for x in draw if x == g) for g in groups}
    assert len(chunks) == sum(math.ceil(n / 50) for n in sizes.values())  # the fewest jobs
    for g in sizes:
        mine = [len(c.leads) for c in chunks if (c.org, c.options) == (g[0], OPTION_SETS[g[1]])]
        assert max(mine) - min(mine) <= 1  # balanced


def test_a_fingerprint_ignores_order_but_not_options():
    a = [("us-org", "1", ConvertOptions()), ("us-org", "2", ConvertOptions())]
    assert fingerprint(a) == fingerprint(reversed(a))
    assert fingerprint(a) != fingerprint([(o, i, ConvertOptions(deal=DEAL)) for o, i, _ in a])


# -- the plan ---------------------------------------------------------------------------------


def test_a_plan_splits_per_org_and_options_and_estimates_calls_and_credits(orgs):
    table = pd.DataFrame(
        {
            "lead_id": ids(120) + ids(30, start=3652397000009990000),
            "org": ["us-org"] * 120 + ["eu-org"] * 30,
            "deal_stage": [""] * 100 + ["Won"] * 20 + [""] * 30,
        }
    )
    plan = plan_conversions(table, orgs, options=ConvertOptions(deal=DEAL), diagnose_credits=12)
    sizes = sorted(len(c.leads) for c in plan.chunks)
    assert sizes == [20, 30, 50, 50]  # 100 + 20 with another stage, 30 in eu
    assert {c.options.deal["Stage"] for c in plan.chunks if len(c.leads) == 20} == {"Won"}
    est = plan.estimate
    assert (est.jobs, est.leads) == (4, 150)
    assert est.calls == {"post": 4, "status": 4 * POLLS_PER_JOB, "records": 3, "convert": 2}
    assert est.credits["convert"] == 10 and est.total_credits == 4 + 4 * POLLS_PER_JOB + 3 + 10
    text = plan.describe()
    assert "150 leads -> 4 mass-convert jobs of 20-50 leads" in text
    assert "us-org: 3 jobs, 120 leads" in text and "estimated:" in text
    assert plan.frame()["leads"].sum() == 150
    even = plan_conversions(ids(240), orgs, org="us-org").describe()
    assert "240 leads -> 5 mass-convert jobs of 48 leads each" in even  # not "of 48-48 leads"
    assert (
        "1 lead -> 1 mass-convert job of 1 lead\n"
        in plan_conversions(ids(1), orgs, org="us-org").describe()
    )


def test_a_plan_above_max_credits_is_refused_before_anything(orgs):
    with pytest.raises(
        ConfigError, match=r"exceed max_credits 5; .*\(command line: --max-credits\)$"
    ):
        plan_conversions(ids(200), orgs, org="us-org", max_credits=5)


def test_bad_per_lead_options_are_refused_naming_the_rows(orgs):
    table = pd.DataFrame({"lead_id": ids(3), "org": "us-org", "deal_name": ["", "x", ""]})
    with pytest.raises(LeadInputError, match="row 2") as err:
        plan_conversions(table, orgs)
    assert [r for r, _, _ in err.value.rows] == [2]


def test_options_the_orgs_version_lacks_are_refused(orgs):
    threshold = ConvertOptions(apply_assignment_threshold=False)
    assert plan_conversions(ids(3), orgs, org="eu-org", options=threshold).chunks
    with pytest.raises(ConfigError, match="needs v8"):
        plan_conversions(ids(3), orgs, org="us-org", options=threshold)
