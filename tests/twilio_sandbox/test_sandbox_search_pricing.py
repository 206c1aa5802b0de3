"""The sandbox's number search filters and Pricing API: Twilio's shapes (checked against
twilio_api_v2010.json and twilio_pricing_v1.json) and what each filter keeps."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import SandboxControl
from tests.openapi import assert_matches_spec
from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

BASE = f"/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}"
AUTH = (SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
pytestmark = pytest.mark.no_sandbox


@pytest.fixture
def search(sandbox_server):
    SandboxControl(sandbox_server.url).reset()

    def call(**params: str) -> list[dict]:
        path = BASE + "/AvailablePhoneNumbers/US/Local.json"
        response = requests.get(
            sandbox_server.url + path, params={"SmsEnabled": "true", "VoiceEnabled": "true", **params}, auth=AUTH, timeout=10
        )
        assert response.status_code == 200, response.text
        assert_matches_spec(path, "GET", 200, response.json())
        return response.json()["available_phone_numbers"]

    return call


def test_in_locality_finds_every_area_code_of_the_city(search):
    found = search(InLocality="austin")

    assert {n["phone_number"][2:5] for n in found} == {"512", "737"}
    assert {n["locality"] for n in found} == {"Austin"}


def test_in_region_and_in_postal_code(search):
    assert {n["region"] for n in search(InRegion="IL")} == {"IL"}
    assert {n["phone_number"][2:5] for n in search(InRegion="IL")} == {"312", "217"}
    assert {n["postal_code"] for n in search(InPostalCode="75201")} == {"75201"}
    assert search(InPostalCode="00000") == []


def test_contains_matches_digits_letters_and_wildcards(search):
    assert [n["phone_number"] for n in search(AreaCode="512", Contains="0107")] == ["+15125550107"]
    assert [n["phone_number"] for n in search(AreaCode="512", Contains="55501*7")] == ["+15125550107", "+15125550117"]
    # Letters as on a keypad: J=5, K=5, L=5.
    assert len(search(AreaCode="512", Contains="JKL")) == 20
    assert search(AreaCode="512", Contains="999") == []


def test_near_number_keeps_the_same_city(search):
    found = search(NearNumber="+17375550199")

    assert {n["locality"] for n in found} == {"Austin"}


def test_filters_combine(search):
    found = search(InLocality="Austin", Contains="0110")

    assert sorted(n["phone_number"] for n in found) == ["+15125550110", "+17375550110"]


def test_pricing_matches_twilios_schema(sandbox_server):
    path = "/v1/PhoneNumbers/Countries/US"
    response = requests.get(sandbox_server.url + path, auth=AUTH, timeout=10)

    assert response.status_code == 200
    assert_matches_spec(path, "GET", 200, response.json())
    local = next(p for p in response.json()["phone_number_prices"] if p["number_type"] == "local")
    assert local["current_price"] == "1.15"


def test_pricing_needs_credentials_and_knows_only_the_us(sandbox_server):
    assert requests.get(sandbox_server.url + "/v1/PhoneNumbers/Countries/US", timeout=10).json()["code"] == 20003
    other = requests.get(sandbox_server.url + "/v1/PhoneNumbers/Countries/FR", auth=AUTH, timeout=10)
    assert other.status_code == 404 and other.json()["code"] == 20404
