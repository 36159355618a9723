"""Tables derived from the snapshot frame: per job, data center, org, and over time.

Pure, vectorised functions of pandas frames (no I/O, no plotting). They may import
:mod:`zcrm_notebook.snapshots` (the schema) and ``errors``.
"""
