"""twilio_service against the sandbox Twilio, through the real SDK and HTTP."""

import pytest

from clinics.models import ChecklistItem, Clinic, NumberEvent, NumberState, OnboardingStep
from telephony import twilio_service
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db


def purchases(sandbox):
    return sandbox.api_requests("POST", "IncomingPhoneNumbers.json")


def test_list_available_numbers_filters_voice_and_sms(sandbox):
    result = twilio_service.list_available_numbers("512")

    assert result["success"] is True
    assert result["numbers"], "the sandbox sells numbers in 512"
    assert all(n["phone_number"].startswith("+1512") for n in result["numbers"])
    assert all(n["capabilities"]["voice"] and n["capabilities"]["sms"] for n in result["numbers"])
    (search,) = sandbox.api_requests("GET", "AvailablePhoneNumbers")
    assert search["query"]["AreaCode"] == "512"
    assert search["query"]["VoiceEnabled"] == "true"
    assert search["query"]["SmsEnabled"] == "true"


@pytest.mark.parametrize("bad", ["51", "5120", "abc", "", "012", "112", None, 51.2, True])
def test_list_available_numbers_rejects_bad_area_code_without_calling_twilio(sandbox, bad):
    result = twilio_service.list_available_numbers(bad)

    assert result["success"] is False
    assert "area code" in result["error"].lower()
    assert sandbox.requests() == []


def test_provision_buys_one_number_with_webhooks_in_the_purchase(sandbox, expected_webhooks):
    clinic = ClinicFactory(name="Austin Dental")

    result = twilio_service.provision_clinic_number(clinic.id, "512", "Austin Dental")

    assert result["success"] is True
    assert result["phone_number"].startswith("+1512")
    assert result["sid"].startswith("PN")
    assert result["webhooks"] == expected_webhooks
    # Issue 14: the clinic's subaccount first (TWILIO_SUBACCOUNT_PER_CLINIC, the default),
    # then exactly two calls under it: the filtered search, then the purchase of that number.
    calls = sandbox.requests()
    assert [(c["method"], c["path"].rsplit("/", 1)[-1]) for c in calls] == [
        ("POST", "Accounts.json"),
        ("GET", "Local.json"),
        ("POST", "IncomingPhoneNumbers.json"),
    ]
    form = calls[2]["form"]
    assert form["PhoneNumber"] == result["phone_number"]
    assert form["VoiceUrl"] == expected_webhooks["voice"]
    assert form["SmsUrl"] == expected_webhooks["sms"]
    assert form["StatusCallback"] == expected_webhooks["status_callback"]
    assert form["VoiceMethod"] == form["SmsMethod"] == form["StatusCallbackMethod"] == "POST"
    assert form["FriendlyName"] == f"Austin Dental (clinic #{clinic.id})"

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE
    assert clinic.twilio_number == result["phone_number"]
    assert clinic.twilio_number_sid == result["sid"]
    assert clinic.pending_number == ""
    steps = set(ChecklistItem.objects.filter(clinic=clinic).values_list("step", flat=True))
    assert steps == {OnboardingStep.BUY_NUMBER, OnboardingStep.SAVE_NUMBER, OnboardingStep.SAVE_SID}
    assert ChecklistItem.objects.filter(clinic=clinic, done_by__isnull=True).count() == 3
    assert NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.PURCHASED, phone_sid=result["sid"]).exists()
    assert len(sandbox.owned_numbers()) == 1


def test_friendly_name_is_truncated_but_keeps_the_clinic_id():
    name = twilio_service.clinic_friendly_name(clinic_id=987654, name="A" * 100)

    assert len(name) <= 64
    assert name.endswith("(clinic #987654)")
    assert twilio_service.clinic_id_from_friendly_name(name) == 987654
    assert twilio_service.clinic_id_from_friendly_name("Somebody else's number") is None


def test_provision_refuses_a_clinic_that_already_has_a_number(sandbox):
    clinic = ClinicFactory()
    assert twilio_service.provision_clinic_number(clinic.id, "512")["success"]
    sandbox.requests()  # the first purchase is fine

    again = twilio_service.provision_clinic_number(clinic.id, "737")

    assert again["success"] is False
    assert "already has the number" in again["error"]
    assert len(sandbox.owned_numbers()) == 1


@pytest.mark.parametrize("clinic_id", [999999, 0, -5, "12", None, 2**70])
def test_provision_unknown_clinic_buys_nothing(sandbox, clinic_id):
    result = twilio_service.provision_clinic_number(clinic_id, "512")

    assert result == {"success": False, "error": result["error"], "code": None, "retryable": False}
    assert "No clinic" in result["error"]
    assert sandbox.requests() == []


@pytest.mark.parametrize("area_code", ["5", "51a", "0512", "", "099"])
def test_provision_bad_area_code_buys_nothing(sandbox, area_code):
    clinic = ClinicFactory()

    result = twilio_service.provision_clinic_number(clinic.id, area_code)

    assert result["success"] is False
    assert "three digits" in result["error"]
    assert sandbox.requests() == []
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.NONE


def test_no_numbers_in_area_code_fails_with_a_clear_error(sandbox):
    sandbox.empty_area_code("907")
    clinic = ClinicFactory()

    result = twilio_service.provision_clinic_number(clinic.id, "907")

    assert result["success"] is False
    assert result["code"] == 21452
    assert "907" in result["error"]
    assert purchases(sandbox) == []
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.FAILED
    assert "907" in clinic.number_error
    assert clinic.number_error_code == 21452


def test_number_taken_between_search_and_purchase_tries_the_next_one(sandbox):
    clinic = ClinicFactory()
    first_two = [n["phone_number"] for n in twilio_service.list_available_numbers("512")["numbers"][:2]]
    sandbox.take(first_two)

    result = twilio_service.provision_clinic_number(clinic.id, "512")

    assert result["success"] is True
    assert result["phone_number"] not in first_two
    attempted = [r["form"]["PhoneNumber"] for r in purchases(sandbox)]
    assert attempted[:2] == first_two
    assert len(attempted) == 3
    assert [n["phone_number"] for n in sandbox.owned_numbers()] == [result["phone_number"]]


def test_resumed_run_adopts_the_number_bought_unseen_instead_of_buying_another(sandbox, settings):
    """The purchase went through but our process never saw the answer (lost response)."""
    settings.TWILIO_HTTP_TIMEOUT = 1.0
    clinic = ClinicFactory(name="Lost Response Dental")
    sandbox.fault(path="IncomingPhoneNumbers.json", mode="delay_after", delay=2.5)

    first = twilio_service.provision_clinic_number(clinic.id, "512")

    assert first["success"] is False and first["retryable"] is True
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.PROVISIONING
    reserved = clinic.pending_number
    assert reserved.startswith("+1512")
    assert [n["phone_number"] for n in sandbox.owned_numbers()] == [reserved]

    second = twilio_service.provision_clinic_number(clinic.id, "512")

    assert second["success"] is True
    assert second["phone_number"] == reserved
    assert len(sandbox.owned_numbers()) == 1
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE and clinic.twilio_number == reserved
    assert NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.ADOPTED).count() == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, 20429), (500, None), (503, None)],
)
def test_transient_twilio_errors_are_retryable_and_buy_nothing(sandbox, status, code):
    clinic = ClinicFactory()
    sandbox.fault(path="IncomingPhoneNumbers.json", status=status, code=code or status, message="trouble")

    result = twilio_service.provision_clinic_number(clinic.id, "512")

    assert result["success"] is False
    assert result["retryable"] is True
    assert sandbox.owned_numbers() == []
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.PROVISIONING


def test_client_errors_are_final(sandbox):
    clinic = ClinicFactory()
    sandbox.fault(path="IncomingPhoneNumbers.json", status=400, code=21421, message="PhoneNumber is invalid")

    result = twilio_service.provision_clinic_number(clinic.id, "512")

    assert result["success"] is False and result["retryable"] is False
    assert result["code"] == 21421
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.FAILED
    # Issue 16: staff read a sentence with the action, the code and Twilio's page, not the SDK's text.
    assert "not one Twilio can sell" in clinic.number_error and "Search again" in clinic.number_error
    assert "https://www.twilio.com/docs/errors/21421" in clinic.number_error
    assert "Unable to create record" not in clinic.number_error


def test_bad_credentials_say_who_to_tell(sandbox, settings):
    settings.TWILIO_AUTH_TOKEN = "wrong-token-wrong-token-wrong-to"
    clinic = ClinicFactory()

    result = twilio_service.provision_clinic_number(clinic.id, "512")

    assert result["success"] is False
    assert result["code"] == 20003
    # Issue 16: staff are told to tell the operator; setting names are for the doctor, not staff.
    assert "TWILIO_" not in result["error"]
    assert "DentSignal operator" in result["error"] and "https://www.twilio.com/docs/errors/20003" in result["error"]


def test_update_number_webhooks_fixes_drift(sandbox, expected_webhooks):
    clinic = ClinicFactory()
    sid = twilio_service.provision_clinic_number(clinic.id, "512")["sid"]
    (sid_seeded,) = sandbox.seed_numbers(
        [
            {
                "phone_number": "+15125559999",
                "voice_url": "https://old.example.com/voice",
                "sms_url": "https://old.example.com/sms/inbound",
            }
        ]
    )

    result = twilio_service.update_number_webhooks(sid_seeded)

    assert result["success"] is True
    assert result["webhooks"] == expected_webhooks
    owned = {n["sid"]: n for n in sandbox.owned_numbers()}
    assert owned[sid_seeded]["voice_url"] == expected_webhooks["voice"]
    assert owned[sid_seeded]["sms_url"] == expected_webhooks["sms"]
    assert owned[sid_seeded]["status_callback"] == expected_webhooks["status_callback"]
    assert twilio_service.update_number_webhooks(sid)["success"] is True
    assert NumberEvent.objects.filter(kind=NumberEvent.Kind.WEBHOOKS_UPDATED).count() == 2


def test_update_webhooks_of_unknown_sid_is_a_clear_error(sandbox):
    result = twilio_service.update_number_webhooks("PN" + "0" * 32)

    assert result["success"] is False
    assert result["code"] == 20404
    assert twilio_service.update_number_webhooks("not-a-sid")["success"] is False


def test_list_clinic_numbers_maps_numbers_to_clinics_over_all_pages(sandbox, expected_webhooks, django_assert_max_num_queries):
    clinic = ClinicFactory(name="Listed Dental")
    mine = twilio_service.provision_clinic_number(clinic.id, "512")
    seeded = [{"phone_number": f"+1737555{i:04d}", "voice_url": "https://old.example.com/voice"} for i in range(1500)]
    sandbox.seed_numbers(seeded)

    with django_assert_max_num_queries(1):
        result = twilio_service.list_clinic_numbers()

    assert result["success"] is True
    assert len(result["numbers"]) == 1501
    by_sid = {n["sid"]: n for n in result["numbers"]}
    assert by_sid[mine["sid"]]["clinic_id"] == clinic.id
    assert by_sid[mine["sid"]]["webhooks_ok"] is True
    orphans = [n for n in result["numbers"] if n["clinic_id"] is None]
    assert len(orphans) == 1500 and not any(n["webhooks_ok"] for n in orphans)
    # Issue 14: the main account's two pages, then the clinic's subaccount's one.
    pages = sandbox.api_requests("GET", "IncomingPhoneNumbers.json")
    # The accounts are listed in parallel (telephony/fleet.py): two pages of the main account, one of the subaccount.
    sub_path = f"/2010-04-01/Accounts/{by_sid[mine['sid']]['account_sid']}/IncomingPhoneNumbers.json"
    assert len(pages) == 3 and [p["path"] for p in pages].count(sub_path) == 1
    assert all(p["query"]["PageSize"] == "1000" for p in pages)


def test_release_clears_the_clinic_and_keeps_history(sandbox):
    clinic = ClinicFactory(name="Closing Dental")
    bought = twilio_service.provision_clinic_number(clinic.id, "512")

    result = twilio_service.release_number(bought["sid"])

    assert result["success"] is True and result["already_released"] is False
    assert result["clinic_id"] == clinic.id
    assert sandbox.owned_numbers() == []
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.RELEASED
    assert clinic.twilio_number is None and clinic.twilio_number_sid is None
    assert not ChecklistItem.objects.filter(clinic=clinic).exists()
    history = list(NumberEvent.objects.filter(phone_sid=bought["sid"]).values_list("kind", "phone_number", "clinic_name"))
    assert (NumberEvent.Kind.PURCHASED, bought["phone_number"], "Closing Dental") in history
    assert (NumberEvent.Kind.RELEASED, bought["phone_number"], "Closing Dental") in history


def test_release_of_a_number_twilio_no_longer_has_counts_as_released(sandbox):
    clinic = ClinicFactory()
    bought = twilio_service.provision_clinic_number(clinic.id, "512")
    sandbox.remove_number(bought["sid"])

    result = twilio_service.release_number(bought["sid"])

    assert result["success"] is True and result["already_released"] is True
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.RELEASED
    # Repeating it is harmless.
    assert twilio_service.release_number(bought["sid"])["success"] is True
    assert NumberEvent.objects.filter(kind=NumberEvent.Kind.RELEASED, phone_sid=bought["sid"]).count() == 1


def test_release_failure_keeps_the_number_on_the_clinic(sandbox):
    clinic = ClinicFactory()
    bought = twilio_service.provision_clinic_number(clinic.id, "512")
    sandbox.fault(method="DELETE", path="IncomingPhoneNumbers/", status=400, code=20001, message="nope")

    result = twilio_service.release_number(bought["sid"])

    assert result["success"] is False
    clinic.refresh_from_db()
    assert clinic.twilio_number_sid == bought["sid"]
    assert clinic.number_state == NumberState.FAILED
    assert "nope" in clinic.number_error


def test_clinic_table_is_clients():
    assert Clinic._meta.db_table == "clients"


def test_two_clinics_never_reserve_the_same_number(sandbox):
    first_choice = twilio_service.list_available_numbers("512")["numbers"][0]["phone_number"]
    busy = ClinicFactory(name="Busy Dental")
    Clinic.objects.filter(pk=busy.pk).update(number_state=NumberState.PROVISIONING, pending_number=first_choice)
    clinic = ClinicFactory(name="Second Dental")

    result = twilio_service.provision_clinic_number(clinic.id, "512")

    assert result["success"] and result["phone_number"] != first_choice
    assert [r["form"]["PhoneNumber"] for r in purchases(sandbox)] == [result["phone_number"]]


def test_a_number_bought_for_another_clinic_is_never_adopted(sandbox):
    """21422 on our own account's number: adopt it only if its name identifies this clinic."""
    other = ClinicFactory(name="Other Dental")
    (other_sid,) = sandbox.seed_numbers([{"phone_number": "+15125550100", "friendly_name": f"Other Dental (clinic #{other.id})"}])
    clinic = ClinicFactory(name="Late Dental")
    Clinic.objects.filter(pk=clinic.pk).update(
        number_state=NumberState.PROVISIONING, pending_number="+15125550100", requested_area_code="512"
    )

    result = twilio_service.provision_clinic_number(clinic.id, "512")

    # Not adopted: the reservation is dropped and a fresh search buys another number at once.
    assert result["success"] and result["phone_number"] != "+15125550100"
    assert NumberEvent.objects.filter(
        clinic=clinic, kind=NumberEvent.Kind.RESERVATION_CANCELLED, phone_number="+15125550100"
    ).exists()
    assert sorted(n["sid"] for n in sandbox.owned_numbers()) == sorted([other_sid, result["sid"]])


def test_when_every_number_found_is_reserved_by_other_clinics_it_waits(sandbox):
    found = [n["phone_number"] for n in twilio_service.list_available_numbers("512")["numbers"]]
    for number in found:
        Clinic.objects.filter(pk=ClinicFactory().pk).update(number_state=NumberState.PROVISIONING, pending_number=number)
    clinic = ClinicFactory()

    result = twilio_service.provision_clinic_number(clinic.id, "512")

    assert result["success"] is False and result["retryable"] is True
    assert "being bought for other clinics" in result["error"]
    assert purchases(sandbox) == []
