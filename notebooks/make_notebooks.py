"""Write the notebooks of this folder from the cell texts below (run it after editing them).

    python notebooks/make_notebooks.py

The .ipynb files are committed without outputs; tests/test_notebooks.py checks that they
match this script and executes them top to bottom against the simulator. Each notebook has
one cell tagged ``parameters`` (papermill's convention): the tests insert a cell after it
to speed the simulator up and write into a temporary folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

# fmt: off
QUICKSTART = [
    ("md", """\
# Quick start: poll mass-convert jobs into a DataFrame

Zoho CRM's *mass convert* converts up to 50 leads per job and answers with a **job id**; the
job then runs in the background. This notebook polls a batch of such jobs until every one is
finished and keeps **every poll** as a row of a pandas DataFrame, then summarises, plots and
exports it.

It needs no Zoho account: a built-in **simulator** of Zoho (accounts server and CRM API, four
data centers) runs on `127.0.0.1` inside this kernel, and the notebook talks to it through the
same OAuth and HTTP code as it would to real Zoho. To use your own org, see
`03-your-zoho-org.ipynb`."""),
    ("params", """\
SPEED = 3.0  # simulated seconds per real second: the batch takes ~65-85 simulated s, ~25 s here
N_JOBS = 36  # jobs in the simulated batch (spread over 4 data centers)
OUT_DIR = "zcrm-quickstart"  # where the config, the CSVs and the report go"""),
    ("md", """\
## 1. A fake Zoho on this machine

`default_scenario` builds one org per data center (`us`, `eu`, `in`, `au`) with generated
credentials, and a batch of jobs: most complete, some with failed leads, one whole job fails,
one pauses half-way for a few seconds (too short for the `stalled` flag, which needs 10
minutes without movement: `PollPolicy.stalled_after_s`), and one listed job id is unknown to
Zoho. Half the jobs finish within
about 20 simulated seconds, the last one after about 65. `write_config` writes the orgs as a
TOML config file (the same format you would write for real orgs) and `write_jobs_csv` the
list of job ids.

The simulator has its own clock. `SimClock()` is a clock that stands still until told to
move: `clock.paced_sleep(SPEED)` below is what the poller calls to wait, and it moves the
simulated time on by what was asked, `SPEED` times faster than real time. So the jobs only
run while they are being polled, however long you take to read this."""),
    ("code", """\
from pathlib import Path

import pandas as pd

import zcrm_notebook as zn
from zcrm_notebook.simulator import SimClock, default_scenario

out = Path(OUT_DIR)
out.mkdir(parents=True, exist_ok=True)
clock = SimClock()  # simulated time: it moves only while the poller waits
sim_sleep = clock.paced_sleep(SPEED)  # a wait of t simulated s lasts t / SPEED real s

sim = default_scenario(n_jobs=N_JOBS, clock=clock).start()
sim.write_config(out / "sim.toml")
sim.write_jobs_csv(out / "jobs.csv")
sim"""),
    ("md", """\
## 2. The batch of jobs

A batch is a list of job ids for one org, a dict `{org: [ids]}`, or a table (DataFrame or
CSV) with a `job_id` column and an `org` (or `dc`) column. Job ids are 19-digit numbers, too
long for a float: always keep them as **text** (`dtype=str`)."""),
    ("code", """\
jobs = pd.read_csv(out / "jobs.csv", dtype=str)
print(jobs.groupby("org").size().to_string())
jobs.head()"""),
    ("md", """\
## 3. Poll until every job is finished

`poll_jobs` polls each job on a schedule that bounds how late its finish is seen: at most
`max_delay_s` after it (13 s by default; 20 here), sooner when its counts let the finish be
predicted, never twice within `min_interval_s`. At most 5 calls in flight per org, with
retries and backoff on errors and rate limits. It returns when every job is `completed` or
`failed` (or given up as an `error`). `clock=`/`sleep=` hand it the simulator's clock; with
real Zoho leave them out. Here it takes about 25 seconds.

A job it got **no status** for is named after the run, with Zoho's code: `INVALID_DATA` means
Zoho does not know the job id (a typo, another org's job, or one too old); here it is the
simulator's unknown id. Tables and the dashboard show it as `no status (INVALID_DATA)`."""),
    ("code", """\
df = zn.poll_jobs(
    out / "jobs.csv",
    config=out / "sim.toml",
    policy=zn.PollPolicy(min_interval_s=5, max_delay_s=20),
    clock=clock.time,
    sleep=sim_sleep,
    progress=True,
)
jobs = zn.summarize_jobs(df)
no_status = jobs.query("status == 'error'")
print(f"{len(df)} snapshots of {len(jobs)} job ids; {len(no_status)} of them got no status:")
MEANING = {"INVALID_DATA": "Zoho does not know this job id"}
for job in no_status.itertuples():
    code = job.last_error_code
    print(f"no status ({code}) for job {job.job_id} of {job.org}: {MEANING.get(code, '')}")"""),
    ("md", """\
## 4. The snapshot DataFrame

One row per poll of one job, in arrival order: the time the answer arrived (`polled_at`, UTC),
the org and data center, the status and the lead counts Zoho reported. `status == "error"`
means *we* could not get a status (here: the unknown job id); it is never the job's own
`failed`. Here is the history of the job polled most often:"""),
    ("code", """\
print(df.dtypes.to_string())
busiest = df["job_id"].value_counts().index[0]
df[df["job_id"] == busiest]"""),
    ("md", """\
## 5. Summaries

`summarize_jobs` gives one row per job (latest status and counts, progress, failure rate,
duration, throughput, flags such as `stalled`) as raw values to compute with; `style_jobs`
shows the columns to read first, formatted (percentages, `h:mm:ss`, status colours), without
changing the frame. `summarize_dcs` and `summarize_orgs` give one row per data center or
org, with a 95 % confidence interval of the lead failure rate."""),
    ("code", """\
per_job = zn.summarize_jobs(df)
# highest failure rate first; a job without a status (no failure rate) at the top
worst = per_job.sort_values("failure_rate", ascending=False, na_position="first")
zn.style_jobs(worst.head(8))"""),
    ("code", """\
zn.summarize_dcs(df).round(3)"""),
    ("md", """\
## 6. Plots

The functions of `zcrm_notebook.viz` draw on a matplotlib Axes you give them (or the current
one) and return it; `make_report` puts four of them on one figure."""),
    ("code", """\
import matplotlib.pyplot as plt

from zcrm_notebook import viz

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 4.5), layout="constrained")
viz.plot_progress(df, ax=ax1)
viz.plot_failure_rate(df, ax=ax2);"""),
    ("code", """\
zn.make_report(df, tz="Europe/Paris")"""),
    ("md", """\
## 7. Export (CSV, Parquet, Excel)

`write_snapshots_csv` writes ISO-8601 UTC times and job ids as text; `read_snapshots` reads
the file back with the exact dtypes. `export_report` writes the snapshots, the three summaries
(as CSV here, and Parquet; `"xlsx"` gives one Excel workbook with the `excel` extra) and the
figures (PNG) with a README describing every column. It writes only into a new or
empty folder, or one holding a previous report (which it replaces): it never overwrites
files of yours."""),
    ("code", """\
path = zn.write_snapshots_csv(df, out / "snapshots.csv")
assert zn.read_snapshots(path).equals(df)  # a round trip gives the same frame
files = zn.export_report(df, out / "report", formats=("csv", "parquet"))
for name, p in files.items():
    print(f"{name:>18}  {p}")"""),
    ("md", """\
## 8. Clean up

Stop the simulator (it would stop with the kernel anyway)."""),
    ("code", """\
sim.stop()"""),
]

DASHBOARD = [
    ("md", """\
# Live dashboard

Start watching a batch of jobs and keep working while the bars fill up: the dashboard polls
in a **background thread** and redraws itself from the kernel's event loop, so other cells
still run, the **Stop** button answers within about a second, and the figure is redrawn in
place (no pile of figures).

What it shows: overall progress (leads processed / total), one bar per data center (or org),
jobs by status, the jobs that need attention (failed, no status, stalled, slowest) and one
figure (progress over time, failure rate by data center). Controls: Start, Stop, the
slider's two ends (the shortest gap between two polls of a job, and the longest a finish may
go unseen), group by / filter, and Export (the report bundle to a folder).

Here it watches the built-in simulator's multi-data-center scenario (no Zoho account needed),
with realistic timings: jobs wait in the queue for up to 5 simulated minutes, convert 0.2 to 5
leads a second, and some pause on the way. Half of them are done after about 3 simulated
minutes, the last after about 6: at `SPEED = 8` the run takes about a minute."""),
    ("params", """\
SPEED = 8.0  # simulated seconds per real second: the batch takes ~6 simulated minutes, ~1 min here
N_JOBS = 36
OUT_DIR = "zcrm-dashboard"
MIN_INTERVAL_S = 5.0  # shortest gap between two polls of a job (simulated seconds)
MAX_DELAY_S = 20.0  # longest a job's finish may go unseen (simulated seconds)
RUN_TO_END = True  # False: start, stop and export with the buttons yourself"""),
    ("md", """\
The simulator has its own clock. `SimClock()` stands still until told to move:
`clock.paced_sleep(SPEED)` is what the dashboard's poller calls to wait, and it moves the
simulated time on by what was asked, `SPEED` times faster than real time. So the jobs only
run while the dashboard polls: they start when you press **Start**, and pause while it is
stopped."""),
    ("code", """\
import time
from pathlib import Path

import zcrm_notebook as zn
from zcrm_notebook.simulator import SimClock, default_scenario
from zcrm_notebook.dashboard import Dashboard

out = Path(OUT_DIR)
out.mkdir(parents=True, exist_ok=True)
clock = SimClock()  # simulated time: it moves only while the poller waits
sim_sleep = clock.paced_sleep(SPEED)  # a wait of t simulated s lasts t / SPEED real s

sim = default_scenario(n_jobs=N_JOBS, clock=clock, realistic=True).start()  # on 127.0.0.1
sim.write_config(out / "sim.toml")
sim.write_jobs_csv(out / "jobs.csv")
store = out / time.strftime("run-%Y%m%d-%H%M%S.sqlite")  # a new batch: a new journal"""),
    ("md", """\
## The dashboard

Same arguments as `poll_jobs` (jobs, `config=`, `policy=`...). `store=` takes an SQLite file
that journals every snapshot: a dead kernel loses nothing, Start after Stop resumes from it,
and the run can be browsed later (last cell). Without `store=` the snapshots are kept in
memory. Press **Start** (here the cell starts it for you) and **Stop** whenever you like.

During **Run All** a click may seem to do nothing for a while: the kernel takes widget
clicks between cells (and during the `await` cell below), so a click made while another
cell runs is acted on when that cell ends. Nothing is lost; the dashboard then catches up."""),
    ("code", """\
dash = Dashboard(
    out / "jobs.csv",
    config=out / "sim.toml",
    policy=zn.PollPolicy(min_interval_s=MIN_INTERVAL_S, max_delay_s=MAX_DELAY_S),
    store=store,
    clock=clock.time,  # the simulator's clock; leave clock/sleep out with real Zoho
    sleep=sim_sleep,
    export_dir=str(out / "report"),
)
if RUN_TO_END:
    dash.start()
dash"""),
    ("md", """\
## Keep working while it polls

`dash.snapshots` is the snapshot DataFrame so far, at any moment (a copy: use it freely)."""),
    ("code", """\
now = dash.snapshots
print(f"polling: {dash.running}; {len(now)} snapshots so far")
if not dash.running and now.empty:
    print("Nothing polled yet: press Start on the dashboard above (or run dash.start()).")"""),
    ("md", """\
## Wait for the end without freezing the kernel

`await dash.wait_async()` waits while the dashboard keeps redrawing and its buttons keep
working. (A blocking `time.sleep` or `dash.wait()` would hold the kernel: nothing would be
redrawn meanwhile.) Interrupting the kernel stops the waiting, not the polling; **Stop** (or
`dash.stop()`) stops the polling."""),
    ("code", """\
if RUN_TO_END:
    await dash.wait_async(timeout=600)
    print("ended:", dash.handle.stopped_reason)
    if dash.handle.stopped_reason != "finished":
        print("Not every job is final: the cells below show the run so far. Press Start to "
              "go on, then run them again.")"""),
    ("code", """\
from zcrm_notebook.viz.text import not_final_text

partial = not_final_text(zn.summarize_jobs(dash.snapshots))
if partial:  # what follows (summary, export, browsing) is of the run so far
    print(f"Partial run: {partial} (their pending leads are not failed).")
per_dc = zn.summarize_dcs(dash.snapshots)  # 21 columns; the ones read first:
per_dc[["dc", "n_jobs", "leads_total", "leads_converted", "leads_failed", "leads_pending",
        "failure_rate", "median_duration_s"]].round(3)"""),
    ("md", """\
## Export

The **Export** button writes the report bundle of what is shown (the filter applies) to the
folder in the box and lists the files next to it; `dash.export(folder)` does the same from
code. The folder must be new, empty, or hold a previous report (replaced): files of yours are
never overwritten."""),
    ("code", """\
if RUN_TO_END:
    files = dash.export()
    print("\\n".join(str(p) for p in files.values()))"""),
    ("md", """\
## Browse a past run

A dashboard also opens a finished run from its SQLite store (or a snapshot CSV, with
`Dashboard.from_csv(path)`), say in a new kernel the next day. It has no Start or Stop;
grouping, filter and Export work. Here: the store this run wrote, with times in Paris."""),
    ("code", """\
if RUN_TO_END:
    past = Dashboard.from_store(store, tz="Europe/Paris")
    display(past)"""),
    ("md", """\
`dash.stop()` stops polling; `dash.close()` also removes the widgets and closes the store.
The simulator stops with the kernel."""),
]

YOUR_ORG = [
    ("md", """\
# Your Zoho org

The live dashboard against **your** Zoho CRM. Nothing here needs to be edited in code: set
up credentials once (below), put your job ids in a CSV, and run all cells. Without
credentials the notebook stops at a message saying what to set, and nothing is sent
anywhere. To try everything without Zoho, use `02-live-dashboard.ipynb`.

## 1. Credentials (once per org)

zcrm_notebook reads the status of mass-convert jobs with OAuth 2.0 through Zoho Accounts,
one accounts server per data center (`us`, `eu`, `in`, `au`, `jp`, `cn`, `ca`, `sa`, `uk`).

1. In the Zoho API console of your data center add a **Self Client**; note its *client id*
   and *client secret*.
2. In the self client, *Generate Code* with the scope `ZohoCRM.mass_convert.leads.READ`.
   This *grant token* lives a few minutes and works once.
3. In a terminal (so no secret lands in a notebook), exchange it for a refresh token:

   ```bash
   zcrm-notebook auth --org acme-eu --dc eu --client-id 1000.XXXX --grant-token 1000.abc...
   ```

   The client secret is asked for (hidden). The refresh token goes to your user's token
   store (a 0600 file; `zcrm-notebook auth --status` shows where), and this notebook finds
   it there. Zoho's page: "Generate Access and Refresh Token",
   https://www.zoho.com/crm/developer/docs/api/v8/access-refresh.html

Instead of the token store you can use a TOML file with one `[orgs.<name>]` table per org
(`dc`, `client_id`, `client_secret`, `refresh_token`; see the README) and set `CONFIG` below
or the environment variable `ZCRM_NOTEBOOK_CONFIG` to its path, or set `ZOHO_CLIENT_ID`,
`ZOHO_CLIENT_SECRET`, `ZOHO_REFRESH_TOKEN` and `ZOHO_DC` in Jupyter's environment. Never
paste secrets into a notebook cell.

## 2. Jobs

A CSV with a `job_id` column (ids as text) and an `org` column (an org label of your
credentials) or a `dc` column; set `JOBS` below (or `ZCRM_NOTEBOOK_JOBS`)."""),
    ("params", """\
import os

CONFIG = os.environ.get("ZCRM_NOTEBOOK_CONFIG", "orgs.toml")  # TOML of orgs, if it exists
JOBS = os.environ.get("ZCRM_NOTEBOOK_JOBS", "jobs.csv")  # job_id + org (or dc) columns
STORE = "zcrm-run.sqlite"  # journal of every snapshot: a restart resumes from it
OUT_DIR = "zcrm-report"  # where Export writes
MIN_INTERVAL_S = 10.0  # shortest gap between two polls of a job (seconds)
MAX_DELAY_S = 60.0  # longest a job's finish may go unseen (seconds): credits against news
DEADLINE_S = 6 * 3600  # stop watching after this long
TZ = "UTC"  # time zone of the times shown, e.g. "Europe/Paris"
WAIT = True  # wait in this notebook until every job is finished, then summarise"""),
    ("md", """\
## 3. Check the set-up

This cell only reads local files and environment variables, and checks every job id. If
something is missing or wrong it says what to set or fix, and every later cell is skipped
(`READY` is False)."""),
    ("code", """\
from pathlib import Path

import zcrm_notebook as zn

READY, orgs, problems = False, {}, []
config = CONFIG if CONFIG and Path(CONFIG).is_file() else None
if CONFIG and config is None and CONFIG != "orgs.toml":
    problems.append(f"no config file {CONFIG!r} (CONFIG)")
try:  # the config file if there is one, else the token store and ZOHO_* variables
    orgs = zn.load_orgs(config)
except zn.ZcrmError as exc:
    why = str(exc)
    if why.startswith("no Zoho org configured"):  # nothing found anywhere
        why = "no config file, no token from `zcrm-notebook auth`, no ZOHO_* variables"
    problems.append(f"no usable Zoho credentials: {why}")
if not Path(JOBS).is_file():
    problems.append(f"no jobs file {JOBS!r}: a CSV with job_id and org (or dc) columns")
elif orgs:
    try:  # job ids checked here, without any call to Zoho
        jobs = zn.clean_jobs(JOBS, orgs)
    except zn.ZcrmError as exc:
        problems.append(f"jobs file {JOBS!r} has bad rows (fix them and run again): {exc}")
if problems:
    print("Not ready, so the rest of this notebook is skipped (nothing was sent to Zoho):")
    print("\\n".join(f"- {p}" for p in problems))
    if not orgs:
        print(\"\"\"
Give this notebook Zoho credentials in one of these ways:
- once, in a terminal: zcrm-notebook auth --org NAME --dc DC --client-id ID --grant-token CODE
- in the parameters cell above: CONFIG = "path/to/orgs.toml" (a TOML file of orgs, see README)
- in Jupyter's environment: ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN and ZOHO_DC
  (then restart Jupyter)\"\"\")
    if not Path(JOBS).is_file():
        print('Put your jobs in the parameters cell: JOBS = "path/to/jobs.csv"')
    print("Then run all cells again. For a demo without Zoho, open 02-live-dashboard.ipynb.")
else:
    READY = True
    print(f"{len(orgs)} org(s) from {config or 'the token store / environment'}:")
    for name, creds in orgs.items():  # no secret is printed
        print(f"  {name}: data center {creds.dc}, API {creds.api_domain}")
    print(f"{len(jobs)} job(s) in {JOBS}")"""),
    ("md", """\
## 4. Watch

The dashboard polls in the background: keep working in other cells, press **Stop** at any
time (every snapshot is kept in `STORE`; **Start** resumes without re-polling finished jobs)."""),
    ("code", """\
if READY:
    from zcrm_notebook.dashboard import Dashboard

    policy = zn.PollPolicy(
        min_interval_s=MIN_INTERVAL_S, max_delay_s=MAX_DELAY_S, deadline_s=DEADLINE_S
    )
    dash = Dashboard(JOBS, orgs, policy=policy, store=STORE, tz=TZ, export_dir=OUT_DIR)
    dash.start()
    display(dash)
else:
    print("skipped: not ready (see the check above)")"""),
    ("code", """\
if READY and WAIT:
    await dash.wait_async()
    print("ended:", dash.handle.stopped_reason)
    display(zn.summarize_orgs(dash.snapshots))
else:
    print("skipped")"""),
    ("md", """\
## 5. Export

The **Export** button, or from code:"""),
    ("code", """\
if READY and WAIT:
    files = dash.export(OUT_DIR)
    print("\\n".join(str(p) for p in files.values()))
else:
    print("skipped")"""),
]

CONVERT = [
    ("md", """\
# Convert leads, and see what became of each one

Zoho CRM's *mass convert* takes up to 50 lead ids and answers with a job id; the job then runs
in the background and its status says only how many leads were converted or failed. This
notebook goes the whole way, from a list of leads to the fate of **each** lead:

1. **plan**: the leads become jobs of at most 50 per org, with the calls and API credits it
   will cost (a dry run sends nothing);
2. **schedule**: every job is written to a **ledger** (an SQLite file) *before* its POST, so a
   crash or a lost answer never sends a lead twice;
3. **watch** the jobs (the same poller and snapshots as `poll_jobs`);
4. **read the leads back** and build the **lead outcome table**: one row per lead, with the
   contact, account and deal it became, or why not;
5. **diagnose** (opt-in) and **retry** the leads that were not converted.

It needs no Zoho account: the built-in simulator holds 60 leads per org in four data centers
(about one in ten cannot be converted: a duplicate, a record awaiting approval, a mandatory
deal field the lead cannot fill)."""),
    ("params", """\
SPEED = 10.0  # simulated seconds per real second: the jobs take ~1 simulated minute, ~6 s here
N_LEADS = 60  # leads per org in the simulator (4 orgs)
OUT_DIR = "zcrm-convert"  # where the config, the ledger and the report go"""),
    ("md", """\
## 1. A fake Zoho with leads

`write_leads_csv` writes the leads it holds as a CSV with a `lead_id` and an `org` column:
the input of `convert_leads` (a list of ids, `{org: [ids]}` or a DataFrame work too). Lead ids
are 19-digit numbers: keep them as **text**."""),
    ("code", """\
from pathlib import Path

import pandas as pd

import zcrm_notebook as zn
from zcrm_notebook.simulator import SimClock, default_scenario

out = Path(OUT_DIR)
out.mkdir(parents=True, exist_ok=True)
clock = SimClock()  # simulated time: it moves only while the loop waits
sim_sleep = clock.paced_sleep(SPEED)

sim = default_scenario(n_jobs=1, n_leads=N_LEADS, clock=clock).start()
sim.write_config(out / "sim.toml")
sim.write_leads_csv(out / "leads.csv")
store = out / "run.sqlite"  # the ledger and the snapshots: run again to resume
for old in out.glob("run.sqlite*"):
    old.unlink()  # this notebook starts afresh each time
pd.read_csv(out / "leads.csv", dtype=str).head()"""),
    ("md", """\
## 2. Plan: a dry run

Each conversion here also creates a deal (`ConvertOptions(deal=...)`: `Deal_Name`, `Stage` and
`Closing_Date` are required). `dry_run=True` returns the plan and sends nothing."""),
    ("code", """\
deal = {"Deal_Name": "Renewal", "Stage": "Qualification", "Closing_Date": "2026-03-31"}
options = zn.ConvertOptions(deal=deal)
kwargs = dict(config=out / "sim.toml", store=store, clock=clock.time, sleep=sim_sleep)
plan = zn.convert_leads(out / "leads.csv", options=options, dry_run=True, **kwargs)
print(plan.describe())
plan.frame()"""),
    ("md", """\
## 3. Convert: schedule, watch, read back

The same call without `dry_run`. It returns when every lead is accounted for (or at
`deadline_s`); with real Zoho leave `clock=`/`sleep=` out."""),
    ("code", """\
result = zn.convert_leads(out / "leads.csv", options=options, **kwargs)
print(result.summary())"""),
    ("md", """\
## 4. The lead outcome table

One row per lead: its job, the contact / account / deal it became and when, or its outcome:
`already_converted` (converted before its job was made: not by this run),
`not_converted` (the job did not convert it; Zoho says how many, not why),
`not_scheduled` (Zoho refused the POST: `error_code`), `pending` (the job had not finished),
`unknown`, `deleted`."""),
    ("code", """\
leads = result.leads
print(leads["outcome"].value_counts().to_string())
leads.head()"""),
    ("md", """\
Every job's converted leads match the job's last `Converted_Count` (a mismatch would be
flagged in the ledger and warned about):"""),
    ("code", """\
last = result.snapshots.groupby("job_id")["converted_count"].last()
per_job = leads[leads["outcome"] == "converted"].groupby("job_id").size()
check = pd.DataFrame({"leads read back converted": per_job, "last Converted_Count": last})
check"""),
    ("code", """\
zn.plot_lead_outcomes(leads);"""),
    ("md", """\
## 5. Why were they not converted? (opt-in)

Zoho's job does not say. The single-lead convert does, but it costs 5 API credits and
**converts the lead** when it can: it is never called unless you give it a budget."""),
    ("code", """\
why = zn.diagnose_not_converted(
    store, credits=50, config=out / "sim.toml", clock=clock.time, sleep=sim_sleep
)
why[why["outcome"] != "converted"].dropna(subset=["error_code"])[
    ["org", "lead_id", "job_id", "outcome", "error_code", "reason"]
]"""),
    ("md", """\
## 6. Retry the leads not converted

Some leads failed only because the deal needs a field they cannot fill. Retried without a
deal (new options), they convert; the ledger keeps the lineage (attempt 2, from which chunk)."""),
    ("code", """\
again = zn.retry_not_converted(
    store, config=out / "sim.toml", options=zn.ConvertOptions(), clock=clock.time, sleep=sim_sleep
)
print(again.summary())
again.leads[
    ["org", "lead_id", "attempt", "outcome", "contact_id", "reason_attempt", "reason"]
].head(8)  # reason_attempt: the attempt whose answer gave the reason"""),
    ("md", """\
## 7. Run it again: nothing is sent twice

The same input and store resume the same batch: what is open is watched, what finished is
reconciled, nothing is scheduled twice. Here everything is done: no call at all."""),
    ("code", """\
rerun = zn.convert_leads(out / "leads.csv", options=options, **kwargs)
print(rerun.summary())
assert rerun.stats["calls"].sum() == 0"""),
    ("md", """\
## 8. The report, and the dashboard of a past run

`export_report(..., leads=...)` adds `leads.csv` and the outcome plot to the report bundle.
`Dashboard.from_store` opens the run (snapshots and ledger) and lists the leads not converted,
with their job."""),
    ("code", """\
final = zn.convert_leads(out / "leads.csv", options=options, **kwargs)  # the whole batch now
files = zn.export_report(final.snapshots, out / "report", leads=final.leads)  # retries included
print("\\n".join(f"{k:>18}  {p}" for k, p in files.items()))
zn.Dashboard.from_store(store)"""),
    ("code", """\
sim.stop()"""),
]

# fmt: on

NOTEBOOKS = {
    "01-quickstart.ipynb": QUICKSTART,
    "02-live-dashboard.ipynb": DASHBOARD,
    "03-your-zoho-org.ipynb": YOUR_ORG,
    "04-convert-leads.ipynb": CONVERT,
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """The notebook ``name`` (no outputs, stable cell ids)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, (kind, source) in enumerate(cells):
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
        # The ids nbstripout's git filter gives (the cell's index): the filter, installed
        # as the README says, then leaves a committed notebook byte for byte unchanged.
        cell.id = str(i)
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def main(argv: list[str]) -> int:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(name, cells), HERE / name)
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
