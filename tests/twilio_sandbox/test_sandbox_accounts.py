"""The sandbox Twilio's Accounts API (subaccounts) and numbers owned per account, with
every answer validated against Twilio's OpenAPI description of API v2010."""

from __future__ import annotations

import pytest
import requests

from tests.openapi import assert_matches_spec
from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

API = "/2010-04-01"
MAIN = (SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
pytestmark = pytest.mark.no_sandbox


@pytest.fixture
def call(sandbox_server, control):
    """Raw HTTP to the sandbox's REST API; 2xx answers checked against Twilio's spec."""

    def call(method: str, path: str, *, expect: int, auth=MAIN, **kwargs):
        response = requests.request(method, sandbox_server.url + API + path, auth=auth, timeout=10, **kwargs)
        assert response.status_code == expect, response.text
        if expect < 300 and response.content:
            assert_matches_spec(API + path, method, expect, response.json())
        return response.json() if response.content else None

    return call


def test_subaccounts_are_created_listed_by_friendly_name_fetched_and_updated(call):
    created = call("POST", "/Accounts.json", data={"FriendlyName": "Austin Dental (clinic #7)"}, expect=201)
    call("POST", "/Accounts.json", data={"FriendlyName": "Other Dental (clinic #8)"}, expect=201)
    sid = created["sid"]

    assert created["owner_account_sid"] == SANDBOX_ACCOUNT_SID and created["status"] == "active"
    assert created["auth_token"] and created["auth_token"] != SANDBOX_AUTH_TOKEN
    everyone = call("GET", "/Accounts.json", expect=200)["accounts"]
    assert everyone[0]["sid"] == SANDBOX_ACCOUNT_SID and len(everyone) == 3  # the main account first
    named = call("GET", "/Accounts.json", params={"FriendlyName": "Austin Dental (clinic #7)"}, expect=200)["accounts"]
    assert [a["sid"] for a in named] == [sid]
    fetched = call("GET", f"/Accounts/{sid}.json", expect=200)
    assert fetched["auth_token"] == created["auth_token"]  # the parent reads its subaccount's token

    suspended = call("POST", f"/Accounts/{sid}.json", data={"Status": "suspended"}, expect=200)
    assert suspended["status"] == "suspended"
    assert [a["sid"] for a in call("GET", "/Accounts.json", params={"Status": "suspended"}, expect=200)["accounts"]] == [sid]
    assert call("POST", f"/Accounts/{sid}.json", data={"Status": "closed"}, expect=200)["status"] == "closed"


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [("main", "suspended", 21477), ("closed", "active", 21479), ("sub", "sleeping", 20001)],
)
def test_status_changes_twilio_refuses(call, target, status, code):
    sid = call("POST", "/Accounts.json", data={"FriendlyName": "X (clinic #1)"}, expect=201)["sid"]
    if target == "closed":
        call("POST", f"/Accounts/{sid}.json", data={"Status": "closed"}, expect=200)

    refused = call(
        "POST", f"/Accounts/{SANDBOX_ACCOUNT_SID if target == 'main' else sid}.json", data={"Status": status}, expect=400
    )

    assert refused["code"] == code and refused["more_info"].endswith(str(code))


def test_numbers_belong_to_the_account_in_the_path(call):
    sub = call("POST", "/Accounts.json", data={"FriendlyName": "Mine (clinic #1)"}, expect=201)
    on_sub = f"/Accounts/{sub['sid']}/IncomingPhoneNumbers"
    on_main = f"/Accounts/{SANDBOX_ACCOUNT_SID}/IncomingPhoneNumbers"

    bought = call("POST", f"{on_sub}.json", data={"PhoneNumber": "+15125550100"}, expect=201)
    call("POST", f"{on_main}.json", data={"PhoneNumber": "+15125550101"}, expect=201)

    assert bought["account_sid"] == sub["sid"] and bought["uri"] == f"{API}{on_sub}/{bought['sid']}.json"
    assert [n["phone_number"] for n in call("GET", f"{on_sub}.json", expect=200)["incoming_phone_numbers"]] == ["+15125550100"]
    assert [n["phone_number"] for n in call("GET", f"{on_main}.json", expect=200)["incoming_phone_numbers"]] == ["+15125550101"]
    # Another account's number is not found there (Twilio's 20404), whatever the verb.
    for method in ("GET", "POST", "DELETE"):
        assert call(method, f"{on_main}/{bought['sid']}.json", expect=404)["code"] == 20404
    # Bought numbers are off the market for every account.
    taken = call("POST", f"{on_main}.json", data={"PhoneNumber": "+15125550100"}, expect=400)
    assert taken["code"] == 21422
    # The subaccount's own credentials reach its own numbers, never the main account's.
    own = (sub["sid"], sub["auth_token"])
    assert call("GET", f"{on_sub}.json", auth=own, expect=200)["incoming_phone_numbers"][0]["sid"] == bought["sid"]
    assert call("GET", f"{on_main}.json", auth=own, expect=401)["code"] == 20003
    assert (
        call("GET", f"/Accounts/{sub['sid']}/IncomingPhoneNumbers.json", auth=(sub["sid"], "wrong"), expect=401)["code"] == 20003
    )


def test_messages_are_sent_from_a_number_of_the_account_in_the_path(call):
    sub = call("POST", "/Accounts.json", data={"FriendlyName": "Texting (clinic #1)"}, expect=201)["sid"]
    call("POST", f"/Accounts/{sub}/IncomingPhoneNumbers.json", data={"PhoneNumber": "+15125550100"}, expect=201)
    message = {"From": "+15125550100", "To": "+15125550999", "Body": "Reply C to confirm"}

    sent = call("POST", f"/Accounts/{sub}/Messages.json", data=message, expect=201)
    refused = call("POST", f"/Accounts/{SANDBOX_ACCOUNT_SID}/Messages.json", data=message, expect=400)

    assert sent["account_sid"] == sub and refused["code"] == 21606


def test_a_suspended_subaccount_refuses_its_resources_and_closing_releases_its_numbers(call, control):
    sid = call("POST", "/Accounts.json", data={"FriendlyName": "Paused Dental (clinic #9)"}, expect=201)["sid"]
    (for_sale,) = call(
        "GET", f"/Accounts/{sid}/AvailablePhoneNumbers/US/Local.json", params={"AreaCode": "512", "PageSize": 1}, expect=200
    )["available_phone_numbers"]
    call("POST", f"/Accounts/{sid}/IncomingPhoneNumbers.json", data={"PhoneNumber": for_sale["phone_number"]}, expect=201)

    assert call("POST", f"/Accounts/{sid}.json", data={"Status": "suspended"}, expect=200)["status"] == "suspended"
    refused = call("GET", f"/Accounts/{sid}/IncomingPhoneNumbers.json", expect=403)
    assert refused["code"] == 20005 and refused["message"] == "Account not active"
    assert call("GET", f"/Accounts/{sid}.json", expect=200)["status"] == "suspended"  # the account itself still answers
    assert call("POST", f"/Accounts/{sid}.json", data={"Status": "active"}, expect=200)["status"] == "active"
    assert len(call("GET", f"/Accounts/{sid}/IncomingPhoneNumbers.json", expect=200)["incoming_phone_numbers"]) == 1

    assert call("POST", f"/Accounts/{sid}.json", data={"Status": "closed"}, expect=200)["status"] == "closed"
    assert call("GET", f"/Accounts/{sid}/IncomingPhoneNumbers.json", expect=404)["code"] == 20404
    assert [n for n in control.owned_numbers() if n["account_sid"] == sid] == []


def test_a_number_is_transferred_from_the_parent_into_a_subaccount_only_as_twilio_allows(call, sandbox_server):
    sid = call("POST", "/Accounts.json", data={"FriendlyName": "Moving Dental (clinic #3)"}, expect=201)
    sub, token = sid["sid"], sid["auth_token"]
    main = f"/Accounts/{SANDBOX_ACCOUNT_SID}"
    (for_sale,) = call(
        "GET", f"{main}/AvailablePhoneNumbers/US/Local.json", params={"AreaCode": "512", "PageSize": 1}, expect=200
    )["available_phone_numbers"]
    pn = call("POST", f"{main}/IncomingPhoneNumbers.json", data={"PhoneNumber": for_sale["phone_number"]}, expect=201)["sid"]

    # Not to an unrelated account (21473), not to a suspended one (21472).
    other = "AC" + "0f" * 16
    assert call("POST", f"{main}/IncomingPhoneNumbers/{pn}.json", data={"AccountSid": other}, expect=400)["code"] == 21473
    call("POST", f"/Accounts/{sub}.json", data={"Status": "suspended"}, expect=200)
    assert call("POST", f"{main}/IncomingPhoneNumbers/{pn}.json", data={"AccountSid": sub}, expect=400)["code"] == 21472
    call("POST", f"/Accounts/{sub}.json", data={"Status": "active"}, expect=200)

    moved = call("POST", f"{main}/IncomingPhoneNumbers/{pn}.json", data={"AccountSid": sub}, expect=200)

    assert moved["sid"] == pn and moved["account_sid"] == sub and sub in moved["uri"]
    assert call("GET", f"/Accounts/{sub}/IncomingPhoneNumbers/{pn}.json", expect=200)["account_sid"] == sub
    call("GET", f"{main}/IncomingPhoneNumbers/{pn}.json", expect=404)
    # Only the parent's credentials may transfer (21474), even the subaccount's own number.
    back = call(
        "POST",
        f"/Accounts/{sub}/IncomingPhoneNumbers/{pn}.json",
        data={"AccountSid": SANDBOX_ACCOUNT_SID},
        auth=(sub, token),
        expect=400,
    )
    assert back["code"] == 21474


def test_a_number_is_not_transferred_from_one_subaccount_to_another(call):
    one = call("POST", "/Accounts.json", data={"FriendlyName": "One (clinic #1)"}, expect=201)["sid"]
    two = call("POST", "/Accounts.json", data={"FriendlyName": "Two (clinic #2)"}, expect=201)["sid"]
    (for_sale,) = call(
        "GET", f"/Accounts/{one}/AvailablePhoneNumbers/US/Local.json", params={"AreaCode": "512", "PageSize": 1}, expect=200
    )["available_phone_numbers"]
    pn = call("POST", f"/Accounts/{one}/IncomingPhoneNumbers.json", data={"PhoneNumber": for_sale["phone_number"]}, expect=201)[
        "sid"
    ]

    assert call("POST", f"/Accounts/{one}/IncomingPhoneNumbers/{pn}.json", data={"AccountSid": two}, expect=400)["code"] == 21473
    back = call("POST", f"/Accounts/{one}/IncomingPhoneNumbers/{pn}.json", data={"AccountSid": SANDBOX_ACCOUNT_SID}, expect=200)
    assert back["account_sid"] == SANDBOX_ACCOUNT_SID


def test_usage_records_this_month_count_the_accounts_calls_and_texts(call, control):
    sub = call("POST", "/Accounts.json", data={"FriendlyName": "Busy Dental (clinic #4)"}, expect=201)["sid"]
    (for_sale,) = call(
        "GET", f"/Accounts/{sub}/AvailablePhoneNumbers/US/Local.json", params={"AreaCode": "512", "PageSize": 1}, expect=200
    )["available_phone_numbers"]
    call("POST", f"/Accounts/{sub}/IncomingPhoneNumbers.json", data={"PhoneNumber": for_sale["phone_number"]}, expect=201)
    control._call("POST", "calls", {"account_sid": sub, "count": 3})
    for _ in range(2):
        call(
            "POST",
            f"/Accounts/{sub}/Messages.json",
            data={"From": for_sale["phone_number"], "To": "+15125550999", "Body": "Hi"},
            expect=201,
        )

    records = call("GET", f"/Accounts/{sub}/Usage/Records/ThisMonth.json", params={"PageSize": 1000}, expect=200)["usage_records"]

    by = {r["category"]: r for r in records}
    assert by["calls"]["count"] == "3" and by["sms"]["count"] == "2"
    assert by["totalprice"]["price"] == pytest.approx(3 * 0.0085 + 2 * 0.0079)
    assert {r["account_sid"] for r in records} == {sub}
    # Another account's usage is its own; a category filter narrows the list.
    main = call("GET", f"/Accounts/{SANDBOX_ACCOUNT_SID}/Usage/Records/ThisMonth.json", params={"Category": "sms"}, expect=200)
    assert [(r["category"], r["count"]) for r in main["usage_records"]] == [("sms", "0")]


def test_a_long_subaccount_list_is_paged_as_twilio_pages_it(call, sandbox_server):
    made = [call("POST", "/Accounts.json", data={"FriendlyName": f"Clinic {i}"}, expect=201)["sid"] for i in range(5)]

    first = call("GET", "/Accounts.json", params={"PageSize": 2}, expect=200)
    listed = [a["sid"] for a in first["accounts"]]
    assert listed == [SANDBOX_ACCOUNT_SID, made[0]]  # the main account first
    uri = first["next_page_uri"]
    while uri:
        page = requests.get(sandbox_server.url + uri, auth=MAIN, timeout=10).json()
        assert_matches_spec(API + "/Accounts.json", "GET", 200, page)
        listed += [a["sid"] for a in page["accounts"]]
        uri = page["next_page_uri"]

    assert listed == [SANDBOX_ACCOUNT_SID, *made]
    active = call("GET", "/Accounts.json", params={"PageSize": 3, "Status": "active"}, expect=200)
    assert len(active["accounts"]) == 3 and active["next_page_uri"]
