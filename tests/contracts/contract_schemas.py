"""Load the Zoho contract material of ``tests/contracts``: JSON Schemas and canned examples.

The schemas (``schemas/*.json``, JSON Schema draft 2020-12) describe Zoho's documented answers of
every endpoint this project calls; ``examples.toml`` lists the canned answers of ``tests/data``
with their endpoint, HTTP status, source and expected classification. Both are written for this
project from Zoho's pages and OpenAPI files, cited inside each file; ``docs/zoho-api.md`` has the
facts. Test modules use :func:`validator` and :func:`examples`; nothing here imports the package.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the project's floor is 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
SCHEMA_DIR = HERE / "schemas"
DATA_DIR = HERE.parent / "data"
EXAMPLES_TOML = HERE / "examples.toml"


def schema_paths() -> list[Path]:
    """Every schema file, sorted by name."""
    return sorted(SCHEMA_DIR.glob("*.json"))


@cache
def _schemas() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in schema_paths()}


@cache
def registry() -> Registry:
    """All schemas, each under its ``$id``, so relative ``$ref`` (``zoho_error.json``) resolve."""
    resources = [(s["$id"], Resource.from_contents(s)) for s in _schemas().values()]
    return Registry().with_resources(resources)


def validator(schema_name: str) -> Draft202012Validator:
    """A validator for ``schemas/<schema_name>`` that resolves references to its siblings."""
    return Draft202012Validator(_schemas()[schema_name], registry=registry())


def examples() -> dict[str, Any]:
    """The parsed ``examples.toml`` (``vocabulary``, ``unlisted``, ``example`` list)."""
    return tomllib.loads(EXAMPLES_TOML.read_text(encoding="utf-8"))


def load_example(entry: dict) -> Any:
    """The decoded JSON of one ``[[example]]`` entry (``None`` for an empty-body answer)."""
    if entry.get("empty_body"):
        return None
    return json.loads((DATA_DIR / entry["file"]).read_text(encoding="utf-8"))
