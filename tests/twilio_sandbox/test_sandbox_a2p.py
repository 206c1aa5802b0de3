"""The sandbox's A2P 10DLC endpoints: Twilio's shapes (validated against Twilio's Trust Hub,
Messaging and API v2010 descriptions), Twilio's error codes, and controllable reviews."""

from __future__ import annotations

import pytest
import requests

from tests.twilio_sandbox.trust_hub import control_post, profile_submit
from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

AUTH = (SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
pytestmark = pytest.mark.no_sandbox


def test_the_whole_registration_matches_twilios_schemas_and_reviews_are_controlled(api, control, sandbox_server):
    control_post(control, "a2p-review", {"mode": "manual"})
    profile = profile_submit(
        api, "CustomerProfiles", "RNdfbf3fae0e1107f8aded0e7cead80bf5", "customer_profile_business_information", with_address=True
    )
    product = profile_submit(
        api, "TrustProducts", "RNb0d4771c2c98518d916a3d4cd70a8f8b", "us_a2p_messaging_profile_information", with_address=False
    )
    assert api("GET", "/v1/CustomerProfiles", params={"FriendlyName": "p"}, expect=200)["results"][0]["sid"] == profile

    # Manual review: still pending until the control API decides.
    assert api("GET", f"/v1/CustomerProfiles/{profile}", expect=200)["status"] == "pending-review"
    control_post(control, "a2p-decide", {"sid": profile, "outcome": "approve"})
    control_post(control, "a2p-decide", {"sid": product, "outcome": "approve"})
    assert api("GET", f"/v1/TrustProducts/{product}", expect=200)["status"] == "twilio-approved"

    brand = api(
        "POST",
        "/v1/a2p/BrandRegistrations",
        data={"CustomerProfileBundleSid": profile, "A2PProfileBundleSid": product, "SkipAutomaticSecVet": "true"},
        expect=201,
    )
    assert brand["status"] == "PENDING"
    assert api("GET", "/v1/a2p/BrandRegistrations", expect=200)["data"][0]["sid"] == brand["sid"]

    # A failed brand is reviewed again on POST (202).
    control_post(control, "a2p-decide", {"sid": brand["sid"], "outcome": "reject", "code": 30793})
    assert api("GET", f"/v1/a2p/BrandRegistrations/{brand['sid']}", expect=200)["status"] == "FAILED"
    assert api("POST", f"/v1/a2p/BrandRegistrations/{brand['sid']}", expect=202)["status"] == "PENDING"
    user = api("GET", "/v1/EndUsers", expect=200)["results"][0]
    updated = api("POST", f"/v1/EndUsers/{user['sid']}", data={"Attributes": '{"business_name": "B"}'}, expect=200)
    assert updated["attributes"] == {"business_name": "B"}

    service = api("POST", "/v1/Services", data={"FriendlyName": "s", "UseInboundWebhookOnNumber": "true"}, expect=201)
    assert service["use_inbound_webhook_on_number"] is True
    campaign_form = {
        "BrandRegistrationSid": brand["sid"],
        "Description": "Appointment reminders",
        "MessageFlow": "Patients give their number at the front desk",
        "MessageSamples": ["Reminder one", "Reminder two"],
        "UsAppToPersonUsecase": "LOW_VOLUME",
        "HasEmbeddedLinks": "false",
        "HasEmbeddedPhone": "true",
    }
    # A brand not yet approved cannot carry a campaign: Twilio's 21717.
    refused = requests.post(
        f"{sandbox_server.url}/v1/Services/{service['sid']}/Compliance/Usa2p", data=campaign_form, auth=AUTH, timeout=10
    )
    assert (refused.status_code, refused.json()["code"]) == (400, 21717)
    control_post(control, "a2p-decide", {"sid": brand["sid"], "outcome": "approve"})
    assert api("GET", f"/v1/a2p/BrandRegistrations/{brand['sid']}", expect=200)["status"] == "APPROVED"

    campaign = api("POST", f"/v1/Services/{service['sid']}/Compliance/Usa2p", data=campaign_form, expect=201)
    assert campaign["message_samples"] == ["Reminder one", "Reminder two"]
    assert campaign["campaign_status"] == "IN_PROGRESS"
    control_post(control, "a2p-decide", {"sid": campaign["sid"], "outcome": "reject", "code": 30909})
    fetched = api("GET", f"/v1/Services/{service['sid']}/Compliance/Usa2p/{campaign['sid']}", expect=200)
    assert fetched["campaign_status"] == "FAILED"
    assert fetched["errors"][0]["code"] == 30909
    assert api("GET", f"/v1/Services/{service['sid']}/Compliance/Usa2p", expect=200)["compliance"][0]["sid"] == campaign["sid"]

    [phone_sid] = control.seed_numbers([{"phone_number": "+15125550100"}])
    added = api("POST", f"/v1/Services/{service['sid']}/PhoneNumbers", data={"PhoneNumberSid": phone_sid}, expect=201)
    assert added["sid"] == phone_sid
    other = api("POST", "/v1/Services", data={"FriendlyName": "other"}, expect=201)
    in_other = requests.post(
        f"{sandbox_server.url}/v1/Services/{other['sid']}/PhoneNumbers", data={"PhoneNumberSid": phone_sid}, auth=AUTH, timeout=10
    )
    assert in_other.json()["code"] == 21712


def test_automatic_review_decides_after_its_delay(api, control):
    control_post(control, "a2p-review", {"mode": "reject", "code": 30893, "after_seconds": 0})
    profile = profile_submit(
        api, "CustomerProfiles", "RNdfbf3fae0e1107f8aded0e7cead80bf5", "customer_profile_business_information", with_address=True
    )
    fetched = api("GET", f"/v1/CustomerProfiles/{profile}", expect=200)
    assert fetched["status"] == "twilio-rejected"
    assert fetched["errors"][0]["code"] == 30893

    control_post(control, "a2p-review", {"mode": "approve", "after_seconds": 3600})  # "slow": still pending an hour later
    # Resubmitting after a rejection starts a new review.
    assert (
        api("POST", f"/v1/CustomerProfiles/{profile}", data={"Status": "pending-review"}, expect=200)["status"]
        == "pending-review"
    )
    assert api("GET", f"/v1/CustomerProfiles/{profile}", expect=200)["status"] == "pending-review"


def test_a_bundle_that_is_not_compliant_cannot_be_submitted(api, sandbox_server):
    data = {"FriendlyName": "p", "Email": "a@example.com", "PolicySid": "RNx"}
    bad_policy = requests.post(f"{sandbox_server.url}/v1/CustomerProfiles", data=data, auth=AUTH, timeout=10)
    assert (bad_policy.status_code, bad_policy.json()["code"]) == (400, 20001)
    bundle = api("POST", "/v1/CustomerProfiles", data={**data, "PolicySid": "RNdfbf3fae0e1107f8aded0e7cead80bf5"}, expect=201)
    refused = requests.post(
        f"{sandbox_server.url}/v1/CustomerProfiles/{bundle['sid']}", data={"Status": "pending-review"}, auth=AUTH, timeout=10
    )
    assert refused.status_code == 400


def test_an_address_is_updated_in_twilios_shape_and_only_in_its_own_account(api):
    path = f"/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Addresses.json"
    data = {"CustomerName": "Old", "Street": "1 Main St", "City": "Austin", "Region": "TX", "PostalCode": "78701"}
    address = api("POST", path, data={**data, "IsoCountry": "US", "FriendlyName": "addr"}, expect=201)
    one = f"/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Addresses/{address['sid']}.json"
    updated = api("POST", one, data={"CustomerName": "New Legal Name PLLC", "Street": "2 Oak St"}, expect=200)
    assert (updated["customer_name"], updated["street"], updated["city"]) == ("New Legal Name PLLC", "2 Oak St", "Austin")
    assert updated["iso_country"] == "US"
    missing = f"/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Addresses/AD{'0' * 32}.json"
    assert api("POST", missing, data={"Street": "x"}, expect=404)["code"] == 20404
