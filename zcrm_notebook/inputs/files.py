"""Check an input file before reading it: a regular file of a sensible size.

A config or a jobs list that is a pipe (``mkfifo``), a device (a symlink to ``/dev/zero``)
or a huge file would hang the reader or take all memory; it is refused in one line instead.
"""

from __future__ import annotations

import os
import stat

from ..errors import ConfigError

__all__ = ["check_input_file", "read_input_bytes", "MAX_CONFIG_BYTES", "MAX_TABLE_BYTES"]

#: Largest config file read (a config of a few orgs is a few KiB).
MAX_CONFIG_BYTES = 1 << 20
#: Largest jobs or leads CSV read (a million 19-digit ids with an org label is ~40 MiB).
MAX_TABLE_BYTES = 256 << 20


def check_input_file(path: str | os.PathLike, what: str, max_bytes: int) -> None:
    """Refuse ``path`` if it is not a regular file or is larger than ``max_bytes``.

    A missing file or a folder passes (its reader names that problem).

    Raises
    ------
    ConfigError
        ``path`` is a pipe, a socket or a device, or larger than ``max_bytes``.
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return
    if stat.S_ISDIR(st.st_mode):
        return
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(
            f"{what} file {str(path)!r} is not a regular file (a pipe or a device); give a file"
        )
    if st.st_size > max_bytes:
        raise ConfigError(
            f"{what} file {str(path)!r} is {st.st_size:,} bytes, larger than the "
            f"{max_bytes:,} bytes a {what} file may have"
        )


def read_input_bytes(path: str | os.PathLike, what: str, max_bytes: int) -> bytes:
    """The bytes of a checked input file (:func:`check_input_file`), at most ``max_bytes``.

    Raises
    ------
    ConfigError
        As :func:`check_input_file`, or the file grew past ``max_bytes`` while read.
    FileNotFoundError, IsADirectoryError, OSError
        As ``open``.
    """
    check_input_file(path, what, max_bytes)
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ConfigError(f"{what} file {str(path)!r} is larger than {max_bytes:,} bytes")
    return data
