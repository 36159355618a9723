"""Load a snapshot frame from a file: a snapshot CSV or an SQLite store.

The one place that turns a path given by a user (``zcrm-notebook report SOURCE``,
``Dashboard.from_csv`` / ``from_store``) into the snapshot DataFrame: the kind of file is
told by its content (an SQLite header), not its name, unless the caller says which kind
it expects.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from .csvfile import read_snapshots
from .store import read_store

__all__ = ["load_snapshots", "is_store_file"]

_SQLITE_HEADER = b"SQLite format 3\x00"
_WHAT = {None: "snapshot CSV or store", "csv": "snapshot CSV", "store": "store"}


def is_store_file(path: str | os.PathLike) -> bool:
    """True when ``path`` starts with the SQLite file header (a snapshot store, maybe)."""
    with open(path, "rb") as fh:
        return fh.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER


def load_snapshots(source: str | os.PathLike, kind: str | None = None) -> pd.DataFrame:
    """The snapshot frame of a CSV or an SQLite store file.

    Parameters
    ----------
    source : str or PathLike
        The file; ``~`` is expanded.
    kind : {None, "csv", "store"}, default None
        None: told by the file's content; otherwise the file must be of that kind.

    Returns
    -------
    pandas.DataFrame
        Columns and dtypes of :data:`~zcrm_notebook.snapshots.frame.SNAPSHOT_DTYPES`.

    Raises
    ------
    ConfigError
        If ``source`` is missing, a folder, a pipe or a device, or not a snapshot file of
        the expected kind.
    """
    if kind not in _WHAT:
        raise ConfigError(f"kind={kind!r} is not allowed; use None, 'csv' or 'store'")
    path = Path(source).expanduser()
    if path.is_dir():
        raise ConfigError(f"{str(source)!r} is a folder; give a {_WHAT[kind]} file")
    if not path.exists():
        raise ConfigError(f"{_WHAT[kind]} {str(source)!r} does not exist")
    if not path.is_file():  # a pipe would hang the reader, a device never end
        raise ConfigError(f"{_WHAT[kind]} {str(source)!r} is not a regular file; give a file")
    if kind == "store" or (kind is None and is_store_file(path)):
        return read_store(path)
    return read_snapshots(path)
