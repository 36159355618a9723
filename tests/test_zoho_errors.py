"""simulator/zoho_errors.py: the simulator's error answers are docs/zoho-api.md's, in
HTTP status, message and details keys; an undocumented details shape is refused."""

from __future__ import annotations

import pytest
from helpers_doc import DOC, error_tables, first_code

from zcrm_notebook.simulator.zoho_errors import ERRORS, UNVERIFIED_PERMISSION, error_body

ROWS = [row for rows in error_tables().values() for row in rows]
TEXT = DOC.read_text(encoding="utf-8")


def rows_of(code: str) -> list[dict[str, str]]:
    return [r for r in ROWS if first_code(r.get("code", "")) == code]


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_each_code_has_zoho_s_http_status_message_and_details_keys(code):
    row, doc = ERRORS[code], rows_of(code)
    assert doc, f"{code} is not in the doc's error table"
    assert any(r["HTTP"].startswith(str(row.http_status)) for r in doc)
    if row.message_documented:
        assert f'"{row.message}"' in TEXT
    else:  # a composed message: the doc must say that none is documented
        assert any(r["message"].startswith("—") for r in doc)
    said = " ".join(r["details keys"] for r in doc)
    for shape in row.shapes:
        assert all(f"`{key}`" in said for key in shape), (code, sorted(shape))


def test_an_undocumented_details_shape_is_refused():
    assert error_body("INVALID_DATA", {"param_name": "job_id"})[0] == 400
    with pytest.raises(ValueError, match="not a documented shape"):
        error_body("INVALID_DATA", {"api_name": "job_id"})  # the simulator's old wording
    with pytest.raises(ValueError, match="not a documented shape"):
        error_body("LIMIT_EXCEEDED", {"limit": 50})
    status, body = error_body("NO_PERMISSION")
    assert (status, body["details"]) == (403, {"permissions": [UNVERIFIED_PERMISSION]})
    assert "UNVERIFIED" in TEXT.split(UNVERIFIED_PERMISSION, 1)[1][:200]
