"""Trust Hub steps the sandbox's own A2P tests take through its HTTP API (the `api` fixture,
tests/twilio_sandbox/conftest.py)."""

from __future__ import annotations

import json

from tests.conftest import SandboxControl
from twilio_sandbox import SANDBOX_ACCOUNT_SID

PRIMARY = "BU" + "0a" * 16


def control_post(control: SandboxControl, path: str, payload: dict) -> None:
    """POST a control request (reviews, decisions) to the sandbox."""
    control._call("POST", path, payload)


def profile_submit(api, coll: str, policy: str, end_user_type: str, *, with_address: bool) -> str:
    """A Trust Hub bundle (`coll`: CustomerProfiles or TrustProducts) made compliant and submitted, as
    Twilio's ISV guide does it; its SID. Every step's answer is checked against the spec (`api`)."""
    bundle = api("POST", f"/v1/{coll}", data={"FriendlyName": "p", "Email": "a@example.com", "PolicySid": policy}, expect=201)
    sid = bundle["sid"]
    user = api("POST", "/v1/EndUsers", data={"FriendlyName": "u", "Type": end_user_type, "Attributes": "{}"}, expect=201)
    objects = [user["sid"], PRIMARY]
    if with_address:
        rep = api("POST", "/v1/EndUsers", data={"FriendlyName": "r", "Type": "authorized_representative_1"}, expect=201)
        address = api(
            "POST",
            f"/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Addresses.json",
            data={
                "CustomerName": "Demo",
                "Street": "1 Main St",
                "City": "Austin",
                "Region": "TX",
                "PostalCode": "78701",
                "IsoCountry": "US",
                "FriendlyName": "addr",
            },
            expect=201,
        )
        doc = api(
            "POST",
            "/v1/SupportingDocuments",
            data={
                "FriendlyName": "d",
                "Type": "customer_profile_address",
                "Attributes": json.dumps({"address_sids": address["sid"]}),
            },
            expect=201,
        )
        objects += [rep["sid"], doc["sid"]]
    noncompliant = api("POST", f"/v1/{coll}/{sid}/Evaluations", data={"PolicySid": policy}, expect=201)
    assert noncompliant["status"] == "noncompliant"
    for object_sid in objects:
        api("POST", f"/v1/{coll}/{sid}/EntityAssignments", data={"ObjectSid": object_sid}, expect=201)
    assert len(api("GET", f"/v1/{coll}/{sid}/EntityAssignments", expect=200)["results"]) == len(objects)
    assert api("POST", f"/v1/{coll}/{sid}/Evaluations", data={"PolicySid": policy}, expect=201)["status"] == "compliant"
    assert api("POST", f"/v1/{coll}/{sid}", data={"Status": "pending-review"}, expect=200)["status"] == "pending-review"
    return sid
