"""load_snapshots: a snapshot frame from a CSV or a store file, told by its content."""

import pandas as pd
import pytest
from test_store import snaps

from zcrm_notebook.errors import ConfigError
from zcrm_notebook.snapshots.csvfile import write_snapshots_csv
from zcrm_notebook.snapshots.frame import to_frame
from zcrm_notebook.snapshots.load import load_snapshots
from zcrm_notebook.snapshots.store import SnapshotStore


def test_a_csv_and_a_store_load_to_the_same_frame_whatever_their_names(tmp_path):
    write_snapshots_csv(to_frame(snaps()), tmp_path / "run.sqlite")  # a CSV, misnamed
    with SnapshotStore(tmp_path / "run.csv") as store:  # a store, misnamed
        store.extend(snaps())
    for name in ("run.sqlite", "run.csv"):
        pd.testing.assert_frame_equal(load_snapshots(tmp_path / name), to_frame(snaps()))


def test_a_kind_that_does_not_match_the_file_is_refused(tmp_path):
    write_snapshots_csv(to_frame(snaps()), tmp_path / "s.csv")
    with pytest.raises(ConfigError, match="not a snapshot store"):
        load_snapshots(tmp_path / "s.csv", "store")
    with pytest.raises(ConfigError, match="kind="):
        load_snapshots(tmp_path / "s.csv", "parquet")


@pytest.mark.parametrize("kind, what", [(None, "snapshot CSV or store"), ("csv", "snapshot CSV")])
def test_missing_files_and_folders_are_one_line_errors(tmp_path, kind, what):
    with pytest.raises(ConfigError, match=f"{what} .* does not exist"):
        load_snapshots(tmp_path / "nope.csv", kind)
    with pytest.raises(ConfigError, match=f"is a folder; give a {what} file"):
        load_snapshots(tmp_path, kind)
