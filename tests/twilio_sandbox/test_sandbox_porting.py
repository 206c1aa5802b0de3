"""The sandbox's Numbers API: portability, port-in requests and their numbers, the porting
webhooks, the utility bill, and hosted number orders; every answer checked against Twilio's
twilio_numbers_v1.json / twilio_numbers_v2.json, statuses moved on by the control API."""

from __future__ import annotations

import datetime

import pytest
import requests

from tests.openapi import assert_matches_spec
from tests.twilio_sandbox.trust_hub import control_post
from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

AUTH = (SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
pytestmark = pytest.mark.no_sandbox
IN_TEN_DAYS = (datetime.date.today() + datetime.timedelta(days=10)).isoformat()


@pytest.fixture
def numbers_api(sandbox_server, control):
    """Raw HTTP (JSON bodies) to the sandbox's Numbers API, each success checked against the spec."""

    def call(method: str, path: str, *, expect: int, json=None, data=None, params=None, files=None):
        response = requests.request(
            method, sandbox_server.url + path, auth=AUTH, json=json, data=data, params=params, files=files, timeout=10
        )
        assert response.status_code == expect, response.text
        if response.content and expect < 300 and path != "/v1/Documents":
            assert_matches_spec(path, method, expect, response.json())
        return response.json() if response.content else None

    return call


def _bill(numbers_api) -> str:
    files = {"File": ("bill.pdf", b"%PDF-1.4 bill", "application/pdf")}
    document = numbers_api(
        "POST", "/v1/Documents", data={"document_type": "utility_bill", "friendly_name": "Bill"}, files=files, expect=201
    )
    assert (document["sid"][:2], document["mime_type"], document["document_type"]) == ("RD", "application/pdf", "utility_bill")
    return document["sid"]


def _port_in_body(document: str, number: str = "+15125550100", **extra) -> dict:
    return {
        "account_sid": SANDBOX_ACCOUNT_SID,
        "documents": [document],
        "phone_numbers": [{"phone_number": number, "pin": "1234"}],
        "losing_carrier_information": {
            "customer_type": "Business",
            "customer_name": "Smile Dental LLC",
            "authorized_representative": "Ana Lopez",
            "authorized_representative_email": "ana@smile.example.com",
            "account_number": "ACC-1",
            "address": {"street": "1 Main St", "city": "Austin", "state": "TX", "zip": "78701", "country": "US"},
        },
        "target_port_in_date": IN_TEN_DAYS,
        **extra,
    }


def test_portability_is_chosen_by_the_number(numbers_api):
    path = "/v1/Porting/Portability/PhoneNumber/{}"
    portable = numbers_api("GET", path.format("+15125550100"), params={"TargetAccountSid": SANDBOX_ACCOUNT_SID}, expect=200)
    assert (portable["portable"], portable["pin_and_account_number_required"]) == (True, False)
    pin = numbers_api("GET", path.format("+15125550190"), expect=200)
    assert (pin["portable"], pin["pin_and_account_number_required"]) == (True, True)
    unsupported = numbers_api("GET", path.format("+15125550130"), expect=200)
    assert (unsupported["portable"], unsupported["not_portable_reason_code"]) == (False, 22130)
    toll_free = numbers_api("GET", path.format("+18005550100"), expect=200)
    assert (toll_free["portable"], toll_free["not_portable_reason_code"], toll_free["number_type"]) == (False, 22133, "TOLL-FREE")


def test_a_port_in_is_rejected_corrected_and_completed_by_the_control_api(numbers_api, control):
    bill = _bill(numbers_api)
    created = numbers_api("POST", "/v1/Porting/PortIn", json=_port_in_body(bill), expect=202)
    sid = created["port_in_request_sid"]
    [number] = created["phone_numbers"]
    assert (created["port_in_request_status"], number["port_in_phone_number_status"]) == ("in_review", "in_review")
    # A second request for the same number while this one runs: Twilio's 22137.
    again = requests.post(f"{control.url}/v1/Porting/PortIn", json=_port_in_body(bill), auth=AUTH, timeout=10)
    assert (again.status_code, again.json()["code"]) == (400, 22137)

    control_post(control, "port-in-status", {"sid": sid, "status": "waiting_for_signature"})
    fetched = numbers_api("GET", f"/v1/Porting/PortIn/{sid}", expect=200)
    assert fetched["signature_request_url"].startswith("https://")
    control_post(
        control,
        "port-in-number-status",
        {"sid": number["port_in_phone_number_sid"], "status": "rejected", "rejection_reason": "Account number mismatch"},
    )
    one = numbers_api("GET", f"/v1/Porting/PortIn/{sid}/PhoneNumber/{number['port_in_phone_number_sid']}", expect=200)
    assert (one["port_in_phone_number_status"], one["rejection_reason"]) == ("rejected", "Account number mismatch")
    assert numbers_api("GET", f"/v1/Porting/PortIn/{sid}", expect=200)["port_in_request_status"] == "action_required"

    # Corrected: a new request for the rejected number is accepted, and completes.
    second = numbers_api("POST", "/v1/Porting/PortIn", json=_port_in_body(bill), expect=202)["port_in_request_sid"]
    assert control.owned_numbers() == []
    control_post(control, "port-in-status", {"sid": second, "status": "completed"})
    done = numbers_api("GET", f"/v1/Porting/PortIn/{second}", expect=200)
    assert done["phone_numbers"][0]["port_in_phone_number_status"] == "completed"
    [owned] = control.owned_numbers()
    assert (owned["phone_number"], owned["account_sid"]) == ("+15125550100", SANDBOX_ACCOUNT_SID)
    # Ported: the number is the account's own now, not portable again.
    again = numbers_api("GET", "/v1/Porting/Portability/PhoneNumber/+15125550100", expect=200)
    assert (again["portable"], again["account_sid"], again["not_portable_reason_code"]) == (False, SANDBOX_ACCOUNT_SID, 22131)
    # Completed: no cancel any more.
    refused = requests.delete(f"{control.url}/v1/Porting/PortIn/{second}", auth=AUTH, timeout=10)
    assert refused.status_code == 400


def test_a_port_in_is_refused_without_its_bill_or_with_a_date_too_soon_and_can_be_canceled(numbers_api, control):
    url = f"{control.url}/v1/Porting/PortIn"
    missing = requests.post(url, json={**_port_in_body("RD" + "0" * 32)}, auth=AUTH, timeout=10)
    assert missing.status_code == 400 and "Document" in missing.json()["message"]
    bill = _bill(numbers_api)
    soon = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    too_soon = requests.post(url, json=_port_in_body(bill, target_port_in_date=soon), auth=AUTH, timeout=10)
    assert too_soon.status_code == 400 and "7 days" in too_soon.json()["message"]
    sid = numbers_api("POST", "/v1/Porting/PortIn", json=_port_in_body(bill), expect=202)["port_in_request_sid"]
    numbers_api("DELETE", f"/v1/Porting/PortIn/{sid}", expect=204)
    assert numbers_api("GET", f"/v1/Porting/PortIn/{sid}", expect=200)["port_in_request_status"] == "canceled"


def test_the_porting_webhook_configuration_is_kept_and_removed(numbers_api):
    body = {"port_in_target_url": "https://dentsignal.example.com/twilio/porting", "notifications_of": ["PortInCompleted"]}
    numbers_api("POST", "/v1/Porting/Configuration/Webhook", json=body, expect=201)
    fetched = numbers_api("GET", "/v1/Porting/Configuration/Webhook", expect=200)
    assert (fetched["port_in_target_url"], fetched["notifications_of"]) == (body["port_in_target_url"], ["PortInCompleted"])
    numbers_api("DELETE", "/v1/Porting/Configuration/Webhook/PORT_IN", expect=204)
    assert numbers_api("GET", "/v1/Porting/Configuration/Webhook", expect=200)["port_in_target_url"] is None


def test_hosted_eligibility_refuses_malformed_and_already_owned_numbers(numbers_api, control):
    control.seed_numbers([{"phone_number": "+15125550120"}])
    body = {
        "phone_numbers": [
            {"phone_number": n, "hosting_account_sid": SANDBOX_ACCOUNT_SID}
            for n in ("+15125550111", "5125550111", "+15125550120")
        ]
    }
    results = numbers_api("POST", "/v1/HostedNumber/Eligibility", json=body, expect=200)["results"]
    assert [(r["eligibility_status"], r["ineligibility_reason"]) for r in results] == [
        ("ELIGIBLE", None),
        ("INELIGIBLE", "NUMBER_FORMAT_INELIGIBLE"),
        ("INELIGIBLE", "ALREADY_IN_TWILIO"),
    ]


def test_a_hosted_number_order_moves_through_its_statuses_to_a_texting_number(numbers_api, control):
    form = {
        "PhoneNumber": "+15125550111",
        "ContactPhoneNumber": "+15125550112",
        "AddressSid": "AD" + "1" * 32,
        "Email": "ana@smile.example.com",
        "FriendlyName": "DentSignal clinic #1 hosted SMS",
        "SmsUrl": "https://dentsignal.example.com/api/sms/inbound",
        "SmsFallbackUrl": "https://dentsignal.example.com/api/sms/inbound/fallback",
        "SmsCapability": "true",
    }
    order = numbers_api("POST", "/v2/HostedNumber/Orders", data=form, expect=201)
    assert order["status"] == "twilio-processing"
    listed = numbers_api("GET", "/v2/HostedNumber/Orders", params={"FriendlyName": form["FriendlyName"]}, expect=200)
    assert [o["sid"] for o in listed["items"]] == [order["sid"]]
    assert numbers_api("GET", "/v2/HostedNumber/Orders", params={"PhoneNumber": "+15125550999"}, expect=200)["items"] == []

    control_post(
        control, "hosted-order-status", {"sid": order["sid"], "status": "action-required", "failure_reason": "LOA expired"}
    )
    needs = numbers_api("GET", f"/v2/HostedNumber/Orders/{order['sid']}", expect=200)
    assert (needs["status"], needs["failure_reason"]) == ("action-required", "LOA expired")
    control_post(control, "hosted-order-status", {"sid": order["sid"], "status": "pending-loa"})
    assert numbers_api("GET", f"/v2/HostedNumber/Orders/{order['sid']}", expect=200)["signing_document_sid"].startswith("PX")
    control_post(control, "hosted-order-status", {"sid": order["sid"], "status": "completed"})
    done = numbers_api("GET", f"/v2/HostedNumber/Orders/{order['sid']}", expect=200)
    [owned] = control.owned_numbers()
    assert done["incoming_phone_number_sid"] == owned["sid"]
    assert (owned["sms_url"], owned["capabilities"]["voice"]) == (form["SmsUrl"], False)

    numbers_api("DELETE", f"/v2/HostedNumber/Orders/{order['sid']}", expect=400)  # completed
    other = numbers_api("POST", "/v2/HostedNumber/Orders", data={**form, "PhoneNumber": "+15125550113"}, expect=201)
    numbers_api("DELETE", f"/v2/HostedNumber/Orders/{other['sid']}", expect=400)  # twilio-processing: not yet
    control_post(control, "hosted-order-status", {"sid": other["sid"], "status": "received"})
    numbers_api("DELETE", f"/v2/HostedNumber/Orders/{other['sid']}", expect=204)  # received: the spec allows it
    assert requests.get(f"{control.url}/v2/HostedNumber/Orders/{other['sid']}", auth=AUTH, timeout=10).status_code == 404


def test_the_control_api_refuses_unknown_statuses_and_sids(control):
    assert (
        control.http.post(
            f"{control.url}/__sandbox__/port-in-status", json={"sid": "KW" + "0" * 32, "status": "completed"}
        ).status_code
        == 404
    )
    assert (
        control.http.post(f"{control.url}/__sandbox__/hosted-order-status", json={"sid": "HR1", "status": "nope"}).status_code
        == 400
    )


def test_the_list_of_port_in_requests_filters_by_creation_date_and_matches_the_spec(numbers_api):
    bill = _bill(numbers_api)
    sid = numbers_api("POST", "/v1/Porting/PortIn", json=_port_in_body(bill), expect=202)["port_in_request_sid"]
    today = datetime.date.today()
    listed = numbers_api("GET", "/v1/Porting/PortIn/PortInRequests", params={"CreatedAfter": today.isoformat()}, expect=200)
    assert [(r["port_in_request_sid"], r["phone_numbers_requested"]) for r in listed["port_in_requests"]] == [(sid, 1)]
    later = (today + datetime.timedelta(days=1)).isoformat()
    assert (
        numbers_api("GET", "/v1/Porting/PortIn/PortInRequests", params={"CreatedAfter": later}, expect=200)["port_in_requests"]
        == []
    )
