"""Canned HTTP answers for the tests of the client and the answer mapping (no network)."""

from __future__ import annotations

import json

import requests

JOB = "3652397000009835020"
URL = "https://www.zohoapis.eu/crm/v5/Leads/actions/mass_convert?job_id=" + JOB


def response(status: int, body=b"", headers=None) -> requests.Response:
    r = requests.Response()
    r.status_code, r.url = status, URL
    r._content = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    r.headers.update(headers or {"Content-Type": "application/json"})
    return r
