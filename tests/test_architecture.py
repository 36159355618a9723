"""docs/architecture.md names real modules, lists every module, answers the five questions;
no module of the package cites a document outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "zcrm_notebook"
DOC = (ROOT / "docs" / "architecture.md").read_text()
MODULE = re.compile(r"`((?:[a-z_]+/)*[a-z_]+\.py)`")

ANSWERS = {
    "sends HTTP": "api/transport.py",
    "parses a status": "api/status.py",
    "decides the next poll": "poll/policy.py",
    "draws the failure-rate plot": "viz/failure_rate.py",
    "serves the fake token endpoint": "simulator/accounts.py",
}


def package_modules() -> set[str]:
    return {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")} - {
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE
    }


def test_every_module_the_doc_names_exists():
    named = set(MODULE.findall(DOC))
    assert named and not {m for m in named if not (PACKAGE / m).is_file()}


def test_the_doc_has_one_line_for_every_module():
    listed = set(re.findall(r"(?m)^- `((?:[a-z_]+/)*[a-z_]+\.py)`:", DOC))
    assert listed == package_modules()


def test_the_five_newcomer_questions_are_answered_by_file_names():
    section = DOC.split("## Where is the code that", 1)[1].split("\n## ", 1)[0]
    found = dict(re.findall(r"(?m)^- (.+?)\? `([a-z_/]+\.py)`$", section))
    assert found == ANSWERS
    assert all((PACKAGE / module).is_file() for module in found.values())


def test_every_subpackage_says_its_job_and_what_it_may_import():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = init.read_text().split('"""')[1]
        assert "import" in doc and len(doc.split()) > 20, init


def test_no_module_cites_a_document_outside_the_repository():
    outside = re.compile(r"shared/|ZOHO_API\.md|DESIGN\.md")
    cited = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in PACKAGE.rglob("*.py")
        for n, line in enumerate(p.read_text().splitlines(), start=1)
        if outside.search(line)
    ]
    assert cited == []


def test_documents_cited_in_the_package_are_in_the_repository():
    cited = {
        m for p in PACKAGE.rglob("*.py") for m in re.findall(r"docs/[\w.-]+\.md", p.read_text())
    }
    missing = {m for m in cited if not (ROOT / m).is_file()}
    assert cited and missing == set()
