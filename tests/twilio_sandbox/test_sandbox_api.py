"""The sandbox Twilio: Twilio's shapes (validated against Twilio's OpenAPI spec), errors, state."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from telephony.twilio.http import RedirectingHttpClient
from tests.openapi import assert_matches_spec
from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from twilio_sandbox.server import start_in_thread

BASE = f"/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}"
AUTH = (SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
# These tests drive the sandbox server directly, each with its own control handle.
pytestmark = pytest.mark.no_sandbox


@pytest.fixture
def api(sandbox_server, control):
    """Raw HTTP to the sandbox's REST API, each answer checked against Twilio's spec."""

    def call(method: str, path: str, *, expect: int, **kwargs):
        response = requests.request(method, sandbox_server.url + BASE + path, auth=AUTH, timeout=10, **kwargs)
        assert response.status_code == expect, response.text
        if expect < 300 and response.content:
            assert_matches_spec(BASE + path, method, expect, response.json())
        return response.json() if response.content else None

    return call


def sdk(url: str, token: str = SANDBOX_AUTH_TOKEN) -> Client:
    return Client(SANDBOX_ACCOUNT_SID, token, http_client=RedirectingHttpClient(base_url=url, timeout=10))


def test_available_numbers_match_twilios_schema(api):
    body = api("GET", "/AvailablePhoneNumbers/US/Local.json", params={"AreaCode": "512", "SmsEnabled": "true"}, expect=200)

    assert len(body["available_phone_numbers"]) == 20
    assert all(n["phone_number"].startswith("+1512") for n in body["available_phone_numbers"])


def test_buy_fetch_update_list_release_match_twilios_schema(api):
    bought = api(
        "POST",
        "/IncomingPhoneNumbers.json",
        data={
            "PhoneNumber": "+15125550100",
            "VoiceUrl": "https://a.example.com/v",
            "SmsUrl": "https://a.example.com/s",
            "FriendlyName": "Clinic (clinic #1)",
        },
        expect=201,
    )
    sid = bought["sid"]
    assert (bought["voice_url"], bought["friendly_name"], bought["capabilities"]["sms"]) == (
        "https://a.example.com/v",
        "Clinic (clinic #1)",
        True,
    )

    assert api("GET", f"/IncomingPhoneNumbers/{sid}.json", expect=200)["sid"] == sid
    updated = api("POST", f"/IncomingPhoneNumbers/{sid}.json", data={"SmsUrl": "https://b.example.com/s"}, expect=200)
    assert updated["sms_url"] == "https://b.example.com/s"
    listed = api("GET", "/IncomingPhoneNumbers.json", params={"PageSize": "1000"}, expect=200)
    assert [n["sid"] for n in listed["incoming_phone_numbers"]] == [sid]
    api("DELETE", f"/IncomingPhoneNumbers/{sid}.json", expect=204)
    assert api("GET", "/IncomingPhoneNumbers.json", expect=200)["incoming_phone_numbers"] == []


def test_fallback_urls_are_stored_and_returned_as_twilio_does(api):
    """voice_fallback_url/method and sms_fallback_url/method (API v2010 IncomingPhoneNumber)."""
    fallbacks = {
        "VoiceFallbackUrl": "https://f.example.com/inbound/voice/fallback",
        "VoiceFallbackMethod": "post",
        "SmsFallbackUrl": "https://f.example.com/api/sms/inbound/fallback",
        "SmsFallbackMethod": "POST",
    }
    bought = api("POST", "/IncomingPhoneNumbers.json", data={"PhoneNumber": "+15125550100", **fallbacks}, expect=201)
    fetched = api("GET", f"/IncomingPhoneNumbers/{bought['sid']}.json", expect=200)
    updated = api(
        "POST", f"/IncomingPhoneNumbers/{bought['sid']}.json", data={"SmsFallbackUrl": "https://g.example.com/s"}, expect=200
    )

    for number in (bought, fetched):
        assert number["voice_fallback_url"] == "https://f.example.com/inbound/voice/fallback"
        assert number["sms_fallback_url"] == "https://f.example.com/api/sms/inbound/fallback"
        assert number["voice_fallback_method"] == number["sms_fallback_method"] == "POST"
    assert updated["sms_fallback_url"] == "https://g.example.com/s"
    assert updated["voice_fallback_url"] == "https://f.example.com/inbound/voice/fallback"


def test_messages_match_twilios_schema(api):
    api("POST", "/IncomingPhoneNumbers.json", data={"PhoneNumber": "+15125550100"}, expect=201)

    sent = api("POST", "/Messages.json", data={"From": "+15125550100", "To": "+15125550999", "Body": "Hi"}, expect=201)

    assert sent["status"] == "queued" and sent["sid"].startswith("SM")
    assert api("GET", f"/Messages/{sent['sid']}.json", expect=200)["body"] == "Hi"


def test_account_matches_twilios_schema(sandbox_server):
    response = requests.get(f"{sandbox_server.url}{BASE}.json", auth=AUTH, timeout=10)
    assert_matches_spec(f"{BASE}.json", "GET", 200, response.json())


@pytest.mark.parametrize(
    ("method", "path", "data", "status", "code"),
    [
        ("GET", "/IncomingPhoneNumbers/PN00000000000000000000000000000000.json", None, 404, 20404),
        ("DELETE", "/IncomingPhoneNumbers/PN00000000000000000000000000000000.json", None, 404, 20404),
        ("POST", "/IncomingPhoneNumbers.json", {"AreaCode": "907"}, 400, 21452),
        ("POST", "/IncomingPhoneNumbers.json", {"PhoneNumber": "+15125550100"}, 400, 21422),
        ("POST", "/Messages.json", {"From": "+15125550101", "To": "+15125550999", "Body": "x"}, 400, 21606),
        ("POST", "/Messages.json", {"From": "+15125550101", "To": "nope", "Body": "x"}, 400, 21211),
        ("GET", "/Nothing.json", None, 404, 20404),
    ],
)
def test_errors_have_twilios_codes(sandbox_server, control, method, path, data, status, code):
    control.empty_area_code("907")
    control.take(["+15125550100"])

    response = requests.request(method, sandbox_server.url + BASE + path, data=data, auth=AUTH, timeout=10)

    assert response.status_code == status
    body = response.json()
    assert (body["code"], body["status"]) == (code, status)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}" and body["message"]


def test_wrong_credentials_are_20003(sandbox_server, control):
    with pytest.raises(TwilioRestException) as caught:
        sdk(sandbox_server.url, token="wrong").incoming_phone_numbers.create(phone_number="+15125550100")

    assert (caught.value.status, caught.value.code) == (401, 20003)
    other_account = requests.get(
        f"{sandbox_server.url}/2010-04-01/Accounts/AC{'1' * 32}/IncomingPhoneNumbers.json", auth=AUTH, timeout=10
    )
    assert other_account.status_code == 401


def test_sdk_pages_through_2500_numbers_in_3_requests(sandbox_server, control):
    control.seed_numbers([{"phone_number": f"+1737555{i:04d}"} for i in range(2500)])

    numbers = sdk(sandbox_server.url).incoming_phone_numbers.list(page_size=1000)

    assert len(numbers) == 2500 and len({n.sid for n in numbers}) == 2500
    assert len([r for r in control.requests() if r["path"].endswith("/IncomingPhoneNumbers.json")]) == 3


def test_state_survives_a_restart(tmp_path):
    db = str(tmp_path / "state.sqlite3")
    first = start_in_thread(db)
    sid = sdk(first.url).incoming_phone_numbers.create(phone_number="+15125550100").sid
    first.stop()

    second = start_in_thread(db)
    try:
        assert sdk(second.url).incoming_phone_numbers(sid).fetch().phone_number == "+15125550100"
    finally:
        second.stop()


def test_concurrent_purchases_of_one_number_sell_it_once(sandbox_server, control):
    start = threading.Barrier(8)

    def buy(_):
        start.wait()
        return requests.post(
            f"{sandbox_server.url}{BASE}/IncomingPhoneNumbers.json", data={"PhoneNumber": "+15125550105"}, auth=AUTH, timeout=10
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(buy, range(8)))

    assert sorted(statuses) == [201] + [400] * 7
    assert len(control.owned_numbers()) == 1


def test_fault_modes(sandbox_server, control):
    client = sdk(sandbox_server.url)
    control.fault(path="IncomingPhoneNumbers.json", status=429, code=20429, message="Too Many Requests")
    with pytest.raises(TwilioRestException) as caught:
        client.incoming_phone_numbers.create(phone_number="+15125550100")
    assert (caught.value.status, caught.value.code) == (429, 20429)
    assert control.owned_numbers() == []

    control.fault(path="IncomingPhoneNumbers.json", mode="drop_after")
    with pytest.raises(requests.ConnectionError):
        client.incoming_phone_numbers.create(phone_number="+15125550100")
    assert [n["phone_number"] for n in control.owned_numbers()] == ["+15125550100"]  # done, answer lost

    control.fault(path="IncomingPhoneNumbers.json", method="GET", mode="delay_after", delay=1.5)
    slow = Client(
        SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, http_client=RedirectingHttpClient(base_url=sandbox_server.url, timeout=0.5)
    )
    with pytest.raises(requests.Timeout):
        slow.incoming_phone_numbers.list()


def test_unsubscribed_recipient_is_21610(sandbox_server, control):
    client = sdk(sandbox_server.url)
    client.incoming_phone_numbers.create(phone_number="+15125550100")
    control.unsubscribe(["+15125550999"])

    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(from_="+15125550100", to="+15125550999", body="Reminder")

    assert caught.value.code == 21610


def test_voice_only_numbers_are_left_out_of_sms_searches(api, control):
    control._call("POST", "voice-only", {"numbers": ["+15125550100"]})

    body = api("GET", "/AvailablePhoneNumbers/US/Local.json", params={"AreaCode": "512", "SmsEnabled": "true"}, expect=200)

    assert "+15125550100" not in [n["phone_number"] for n in body["available_phone_numbers"]]


def test_messaging_services_match_twilios_schema(sandbox_server, control):
    (sid,) = control.seed_numbers([{"phone_number": "+15125550100"}])
    service = control._call(
        "POST", "messaging-services", {"friendly_name": "Marketing", "use_inbound_webhook_on_number": False, "number_sids": [sid]}
    )["sid"]

    for path in ("/v1/Services", f"/v1/Services/{service}/PhoneNumbers"):
        response = requests.get(sandbox_server.url + path, params={"PageSize": "1000"}, auth=AUTH, timeout=10)
        assert response.status_code == 200
        assert_matches_spec(path, "GET", 200, response.json())
    numbers = sdk(sandbox_server.url).messaging.v1.services(service).phone_numbers.list()
    assert [n.sid for n in numbers] == [sid]
