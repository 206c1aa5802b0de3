"""The sandbox Twilio redacts and deletes messages, and deletes call records, as Twilio does:
Body="" redacts (30400 otherwise), 20009 for what is not final yet, 204 for a delete, 20404 after."""

from __future__ import annotations

import pytest
import requests

from tests.openapi import assert_matches_spec
from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

BASE = f"/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}"
pytestmark = pytest.mark.no_sandbox


@pytest.fixture
def api(sandbox_server, control):
    """Raw HTTP to the sandbox; each successful answer with a body checked against Twilio's spec."""

    def call(method: str, path: str, *, expect: int, data=None):
        auth = (SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
        response = requests.request(method, sandbox_server.url + path, auth=auth, data=data, timeout=10)
        assert response.status_code == expect, response.text
        if expect < 300 and response.content:
            assert_matches_spec(path, method, expect, response.json())
        return response.json() if response.content else None

    return call


def sent(api, control) -> str:
    control.seed_numbers([{"phone_number": "+15125550100"}])
    return api("POST", f"{BASE}/Messages.json", data={"From": "+15125550100", "To": "+15125554567", "Body": "hi"}, expect=201)[
        "sid"
    ]


def test_message_redaction_and_deletion(api, control):
    sid = sent(api, control)
    path = f"{BASE}/Messages/{sid}.json"

    assert api("POST", path, data={"Body": ""}, expect=400)["code"] == 20009  # still queued
    control._call("POST", "message-status", {"sid": sid, "status": "delivered"})
    assert api("POST", path, data={"Body": "changed"}, expect=400)["code"] == 30400
    assert api("POST", path, data={}, expect=400)["code"] == 30400

    assert api("POST", path, data={"Body": ""}, expect=200)["body"] == ""  # checked against Twilio's schema
    assert api("GET", path, expect=200)["body"] == ""
    api("DELETE", path, expect=204)
    assert api("GET", path, expect=404)["code"] == 20404


def test_call_record_deletion(api, control):
    done = control._call("POST", "calls", {"account_sid": SANDBOX_ACCOUNT_SID})["sids"][0]
    busy = control._call("POST", "calls", {"account_sid": SANDBOX_ACCOUNT_SID, "in_progress": True})["sids"][0]

    assert api("DELETE", f"{BASE}/Calls/{busy}.json", expect=400)["code"] == 20009
    api("DELETE", f"{BASE}/Calls/{done}.json", expect=204)
    assert api("DELETE", f"{BASE}/Calls/{done}.json", expect=404)["code"] == 20404
