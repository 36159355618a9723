"""The snapshot row is declared once; frame, CSV and SQLite schemas follow from it."""

import dataclasses

import pandas as pd

from zcrm_notebook.snapshots import csvfile, frame, schema, store
from zcrm_notebook.snapshots.schema import COLUMN_KINDS, SNAPSHOT_COLUMNS, Snapshot


def test_every_column_is_a_field_with_a_kind_and_a_meaning():
    fields = dataclasses.fields(Snapshot)
    assert [f.name for f in fields] == SNAPSHOT_COLUMNS
    assert all(f.metadata["kind"] in schema.KINDS and f.metadata["doc"] for f in fields)
    assert list(schema.COLUMN_DOCS) == SNAPSHOT_COLUMNS


def test_frame_csv_and_sqlite_schemas_are_derived_from_the_fields():
    assert list(frame.SNAPSHOT_DTYPES) == SNAPSHOT_COLUMNS
    assert list(frame.empty_snapshots().columns) == SNAPSHOT_COLUMNS
    for name, kind in COLUMN_KINDS.items():
        assert frame.SNAPSHOT_DTYPES[name] == frame.KIND_DTYPES[kind]
        assert f"{name} {store.SQL_TYPES[kind]}" in store._DDL
    assert set(csvfile.CSV_DTYPES) <= set(SNAPSHOT_COLUMNS)
    assert schema.COUNT_COLUMNS == [
        "total_count",
        "converted_count",
        "not_converted_count",
        "failed_count",
    ]


def test_required_columns_are_not_null_in_sqlite_and_optional_ones_may_be():
    for name in SNAPSHOT_COLUMNS:
        not_null = f"{name} {store.SQL_TYPES[COLUMN_KINDS[name]]} NOT NULL" in store._DDL
        assert not_null == schema.is_required(name)
    assert schema.is_required("polled_at") and not schema.is_required("raw_status")


def test_the_frame_of_no_snapshot_has_the_exact_dtypes():
    empty = frame.to_frame([])
    assert dict(empty.dtypes) == {
        c: pd.api.types.pandas_dtype(t) if isinstance(t, str) else t
        for c, t in frame.SNAPSHOT_DTYPES.items()
    }
