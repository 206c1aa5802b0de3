"""POST /__sandbox__/seed (twilio_sandbox/seeding.py): a fleet of subaccounts, their numbers,
Messaging Services and A2P objects made in one request, then served by the REST API as the
subaccount sees them, in Twilio's shapes."""

from __future__ import annotations

import pytest
import requests

from tests.openapi import assert_matches_spec

pytestmark = pytest.mark.no_sandbox


def test_a_seeded_fleet_is_what_each_subaccount_lists_and_fetches(sandbox_server, control):
    url = sandbox_server.url
    accounts = control._call("POST", "seed", {"accounts": ["Clinic A (clinic #1)", "Clinic B (clinic #2)"]})["accounts"]
    a, b = accounts
    made = control._call(
        "POST",
        "seed",
        {
            "numbers": [
                {"phone_number": "+15125550101", "account_sid": a["sid"], "voice_url": "https://x.example.com/voice"},
                {"phone_number": "+15125550102", "account_sid": b["sid"]},
            ],
            "services": [{"account_sid": a["sid"], "friendly_name": "A texts", "phone_numbers": ["+15125550101"]}],
        },
    )
    [brand] = control._call("POST", "seed", {"a2p": [{"kind": "brand", "account_sid": a["sid"], "status": "PENDING"}]})["a2p"]
    as_a = (a["sid"], a["auth_token"])

    path = f"/2010-04-01/Accounts/{a['sid']}/IncomingPhoneNumbers.json"
    numbers = requests.get(url + path, auth=as_a, timeout=10).json()
    assert_matches_spec(path, "GET", 200, numbers)
    assert [(n["sid"], n["voice_url"]) for n in numbers["incoming_phone_numbers"]] == [
        (made["numbers"][0], "https://x.example.com/voice")
    ]
    services = requests.get(url + "/v1/Services", auth=as_a, timeout=10).json()["services"]
    assert [s["sid"] for s in services] == made["services"]
    senders = requests.get(f"{url}/v1/Services/{made['services'][0]}/PhoneNumbers", auth=as_a, timeout=10).json()
    assert [n["sid"] for n in senders["phone_numbers"]] == [made["numbers"][0]]
    fetched = requests.get(f"{url}/v1/a2p/BrandRegistrations/{brand}", auth=as_a, timeout=10).json()
    assert (fetched["sid"], fetched["status"]) == (brand, "PENDING")
    as_b = (b["sid"], b["auth_token"])
    assert requests.get(f"{url}/v1/Services", auth=as_b, timeout=10).json()["services"] == []  # A's alone


def test_seeding_something_unknown_is_refused_and_seeds_nothing(control):
    refused = requests.post(f"{control.url}/__sandbox__/seed", json={"a2p": [{"kind": "spaceship"}]}, timeout=10)

    assert refused.status_code == 400 and "cannot seed that" in refused.json()["error"]
    assert control._call("GET", "a2p-state")["objects"] == []
