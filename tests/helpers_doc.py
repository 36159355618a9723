"""The tables of docs/zoho-api.md, "Error table", as rows of cells (for the tests that keep
the package's tables equal to the project's Zoho reference)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "zoho-api.md"


def error_tables() -> dict[str, list[dict[str, str]]]:
    """``### title`` of each table under "## Error table" -> its rows, keyed by header."""
    text = DOC.read_text(encoding="utf-8").split("\n## Error table", 1)[1].split("\n## ", 1)[0]
    tables = {}
    for section in text.split("\n### ")[1:]:
        title, body = section.split("\n", 1)
        lines = [ln for ln in body.splitlines() if ln.startswith("|")]
        header = [c.strip() for c in lines[0].strip("|").split("|")]
        rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
        tables[title.strip()] = [dict(zip(header, row)) for row in rows]
    return tables


def first_code(cell: str) -> str | None:
    """The code a row is about: the first backticked word of its first cell (None for
    "(none)", "(no body)", "common codes")."""
    found = re.match(r"`([^`]+)`", cell)
    return found.group(1) if found else None


def first_action(cell: str) -> str:
    """The action of a row: the first backticked word of its action cell."""
    return re.search(r"`([a-z_]+)`", cell).group(1)
