"""The snapshot row and where it is kept: schema, DataFrame, CSV file, stores.

One row per poll of one job (:class:`~zcrm_notebook.snapshots.schema.Snapshot`), its
pandas frame, its CSV file, the SQLite and in-memory stores. It may import
:mod:`zcrm_notebook.api` (job states) and ``errors`` (and pandas / pyarrow / sqlite3).
"""
