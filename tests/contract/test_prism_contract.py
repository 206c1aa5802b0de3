"""Contract suite: every Twilio call the project makes, sent to Prism serving Twilio's spec.

Prism (npm @stoplight/prism-cli, pinned) rejects with 422 any request whose path,
query or body parameters Twilio's OpenAPI description of API v2010 does not allow.
Our code turns a 422 into a failure result, so each call here must succeed.
"""

from __future__ import annotations

import pytest
import requests

from clinics.models import NumberState
from telephony import twilio as twilio_client
from telephony import twilio_service
from telephony.numbers import provisioning
from tests.contract.prism import ACCOUNT, PHONE_SID
from tests.factories import ClinicFactory

pytestmark = [pytest.mark.contract, pytest.mark.no_sandbox, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def twilio_is_prism(prism, prism_messaging, settings):
    settings.TWILIO_API_BASE_URL = prism
    settings.TWILIO_MESSAGING_API_BASE_URL = prism_messaging
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = "contract-test-token"
    settings.API_BASE_URL = "https://dentsignal.example.com"


def assert_accepted(result: dict) -> None:
    assert result["success"] is True, f"Prism rejected the request: {result}"


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_search_available_numbers():
    assert_accepted(twilio_service.list_available_numbers("512"))


def test_provision_search_and_purchase_with_webhooks():
    clinic = ClinicFactory(name="Contract Dental")

    result = twilio_service.provision_clinic_number(clinic.id, "512", "Contract Dental")

    assert_accepted(result)
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE


def test_provisioning_through_the_task():
    clinic = ClinicFactory()

    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="737")

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE, clinic.number_error


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_lookups_of_owned_numbers_by_number_and_friendly_name():
    twilio_client.incoming_numbers_find(phone_number="+15125550100")
    twilio_client.incoming_numbers_find(friendly_name="Dental (clinic #1)")


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_update_webhooks():
    assert_accepted(twilio_service.update_number_webhooks(PHONE_SID))


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_list_all_numbers_with_page_size_1000():
    assert_accepted(twilio_service.list_clinic_numbers())


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_release():
    assert_accepted(twilio_service.release_number(PHONE_SID))


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_send_reminder_sms():
    assert_accepted(twilio_service.send_sms(from_number="+15125550100", to_number="+15125550999", body="Reply C to confirm"))


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_messaging_service_listing():
    assert_accepted(twilio_service.list_messaging_overrides())


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_credentials_check_fetches_the_account():
    assert_accepted(twilio_service.check_credentials())


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_the_whole_audit():
    from telephony.numbers import audit

    assert audit.number_audit().success


# Issue 14: the clinic's subaccount (Accounts API) and number calls under it.
SUBACCOUNT = "AC" + "5b" * 16


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_subaccount_create_lookup_by_friendly_name_list_fetch_and_status():
    created = twilio_client.subaccount_create(friendly_name="Contract Dental (clinic #1)")
    twilio_client.subaccounts_find(friendly_name="Contract Dental (clinic #1)")
    twilio_client.subaccounts_list()
    twilio_client.subaccount_fetch(SUBACCOUNT)
    twilio_client.subaccount_status_set(SUBACCOUNT, status="suspended")

    assert created.sid.startswith("AC")


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_number_calls_under_a_subaccount():
    twilio_client.available_numbers_search(area_code="512", limit=10, account_sid=SUBACCOUNT)
    twilio_client.incoming_number_buy(
        phone_number="+15125550100", friendly_name="Dental (clinic #1)", webhook_fields={}, account_sid=SUBACCOUNT
    )
    twilio_client.incoming_numbers_find(phone_number="+15125550100", account_sid=SUBACCOUNT)
    twilio_client.incoming_numbers_find(friendly_name="Dental (clinic #1)", account_sid=SUBACCOUNT)
    twilio_client.incoming_numbers_list(account_sid=SUBACCOUNT)
    twilio_client.incoming_number_update(
        PHONE_SID, webhook_fields={"voice_url": "https://x.example.com/v"}, account_sid=SUBACCOUNT
    )
    twilio_client.incoming_number_delete(PHONE_SID, account_sid=SUBACCOUNT)
    twilio_client.message_send(
        from_number="+15125550100",
        to_number="+15125550999",
        body="Hi",
        status_callback="https://x.example.com/s",
        account_sid=SUBACCOUNT,
    )


def test_provisioning_ensures_the_subaccount_then_buys_under_it(settings):
    settings.TWILIO_SUBACCOUNT_PER_CLINIC = True
    clinic = ClinicFactory(name="Subaccount Contract Dental")

    assert_accepted(twilio_service.provision_clinic_number(clinic.id, "512"))

    clinic.refresh_from_db()
    assert clinic.twilio_account_sid.startswith("AC") and clinic.twilio_account_token_sealed


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_prism_does_reject_a_request_the_spec_forbids(prism):
    """The suite can fail: an out-of-range PageSize is refused with 422."""
    response = requests.get(
        f"{prism}/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json?PageSize=5000", auth=(ACCOUNT, "x"), timeout=10
    )
    assert response.status_code == 422


# ------------------------------------------------------------------ fallback webhooks (issue 14)


def test_purchase_and_update_with_fallbacks_on_their_own_host(settings):
    """VoiceFallbackUrl/SmsFallbackUrl (+ methods) are allowed on create and update."""
    from telephony.webhook_urls import webhook_params

    settings.API_FALLBACK_BASE_URL = "https://fallback.dentsignal.example.net"
    assert webhook_params()["voice_fallback_url"] == "https://fallback.dentsignal.example.net/inbound/voice/fallback"
    clinic = ClinicFactory(name="Fallback Dental")

    assert_accepted(twilio_service.provision_clinic_number(clinic.id, "512", "Fallback Dental"))
    assert_accepted(twilio_service.update_number_webhooks(PHONE_SID))


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_prism_checks_the_fallback_parameters(prism):
    """The fallback parameters are validated too: a method the spec does not allow is a 422."""
    response = requests.post(
        f"{prism}/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers/{PHONE_SID}.json",
        data={"VoiceFallbackUrl": "https://dentsignal.example.com/inbound/voice/fallback", "VoiceFallbackMethod": "PATCH"},
        auth=(ACCOUNT, "x"),
        timeout=10,
    )
    assert response.status_code == 422


# --------------------------------------------------------------------------- search filters and pricing (issue 16)


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_search_with_every_filter_staff_can_use():
    search = twilio_client.NumberSearch(
        area_code="512",
        in_locality="Austin",
        in_region="TX",
        in_postal_code="78701",
        contains="55501*7",
        near_number="+15125557100",
    )
    found = twilio_client.available_numbers_find(search, limit=20)

    assert isinstance(found, list)


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_local_number_price_from_the_pricing_api(prism_pricing, settings):
    from django.core.cache import cache

    from telephony.numbers import search as number_search

    settings.TWILIO_PRICING_API_BASE_URL = prism_pricing
    cache.clear()
    prices = twilio_client.phone_number_prices("US")

    assert prices and all(p.price_unit for p in prices)
    assert number_search.local_number_price() is not None


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_prism_pricing_rejects_an_unknown_path(prism_pricing):
    """The suite can fail: Prism answers 404 for a Pricing path the spec does not have."""
    response = requests.get(f"{prism_pricing}/v1/PhoneNumbers/Nowhere/US", auth=(ACCOUNT, "x"), timeout=10)
    assert response.status_code == 404


# ------------------------------------------------------------------ subaccount operations (issue 14)


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_number_transfer_into_a_subaccount():
    """POST /Accounts/{main}/IncomingPhoneNumbers/{PN}.json with AccountSid: the spec allows it."""
    moved = twilio_client.incoming_number_transfer(PHONE_SID, to_account_sid=SUBACCOUNT)
    twilio_client.subaccount_status_set(SUBACCOUNT, status="active")
    twilio_client.subaccount_status_set(SUBACCOUNT, status="closed")

    assert moved.sid.startswith("PN")


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_usage_records_this_month_under_a_subaccount():
    twilio_client.usage_this_month(account_sid=SUBACCOUNT)
