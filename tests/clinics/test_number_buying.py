"""Issue 16: search and buy like Twilio's Console, forgiving phone inputs, Twilio errors for people."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from clinics.forms import ProvisionNumberForm
from clinics.models import Clinic, NumberEvent, NumberState, Patient
from telephony import twilio as twilio_client
from telephony.numbers import provisioning
from telephony.numbers import search as number_search
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = reverse("admin:clinics_clinic_changelist")


# The change form's inline (number history) needs its management form in a POST.
INLINE = {"number_events-TOTAL_FORMS": "0", "number_events-INITIAL_FORMS": "0", "_save": "Save"}


def provision_url(clinic: Clinic) -> str:
    return reverse("admin:clinics_clinic_provision", args=[clinic.pk])


# --------------------------------------------------------------------------- search, price, confirm, buy


def test_search_by_city_shows_locality_region_capabilities_and_price(admin_client, sandbox):
    clinic = ClinicFactory()

    page = admin_client.post(
        provision_url(clinic), {"search": "1", "in_locality": "Austin", "in_region": "tx", "contains": "0115"}
    )

    body = page.content.decode()
    assert "Numbers for sale in Austin, in TX, containing 0115" in body
    assert "Voice · SMS · MMS" in body and "$1.15/month" in body
    found = page.context["for_sale"].numbers
    assert sorted(n.phone_number for n in found) == ["+15125550115", "+17375550115"]
    assert {(n.locality, n.region) for n in found} == {("Austin", "TX")}
    assert 'id="buy-button"' not in body  # Buy is on the confirm step only
    (searched,) = sandbox.api_requests("GET", "AvailablePhoneNumbers")
    assert searched["query"]["InLocality"] == "Austin" and searched["query"]["InRegion"] == "TX"
    assert searched["query"]["VoiceEnabled"] == "true" and searched["query"]["SmsEnabled"] == "true"
    assert clinic.number_state == NumberState.NONE and sandbox.owned_numbers() == []


def test_the_price_is_read_once_a_day(admin_client, sandbox):
    clinic = ClinicFactory()
    for _ in range(3):
        admin_client.post(provision_url(clinic), {"search": "1", "area_code": "512"})

    assert len(sandbox.api_requests("GET", "/v1/PhoneNumbers/Countries/US")) == 1


def test_a_failed_price_read_is_said_and_not_cached(admin_client, sandbox):
    clinic = ClinicFactory()
    sandbox.fault(method="GET", path="/v1/PhoneNumbers/Countries/US", status=500, code=20500)

    page = admin_client.post(provision_url(clinic), {"search": "1", "area_code": "512"})

    assert "price unavailable from Twilio right now" in page.content.decode()
    assert number_search.local_number_price() is not None  # asked again, and cached now


def test_contains_then_confirm_names_number_and_price_then_buy(admin_client, sandbox):
    clinic = ClinicFactory(name="Contains Dental")
    listing = admin_client.post(provision_url(clinic), {"search": "1", "area_code": "512", "contains": "0107"})
    assert [n.phone_number for n in listing.context["for_sale"].numbers] == ["+15125550107"]

    confirm = admin_client.post(provision_url(clinic), {"confirm": "1", "area_code": "512", "phone_number": "+15125550107"})

    body = confirm.content.decode()
    assert "+15125550107" in body and "$1.15/month" in body and 'id="buy-button"' in body
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.NONE and sandbox.owned_numbers() == []

    done = admin_client.post(provision_url(clinic), {"apply": "1", "area_code": "", "phone_number": "+15125550107"}, follow=True)

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE and clinic.twilio_number == "+15125550107"
    assert done.request["PATH_INFO"] == reverse("admin:clinics_clinic_change", args=[clinic.pk])


def test_nothing_for_sale_on_search_offers_no_buy(admin_client, sandbox):
    clinic = ClinicFactory()

    page = admin_client.post(provision_url(clinic), {"search": "1", "area_code": "512", "contains": "999"})

    body = page.content.decode()
    assert 'id="nothing-for-sale"' in body and "No numbers with voice and SMS are for sale" in body
    assert 'id="buy-button"' not in body and 'id="confirm-button"' not in body


def test_a_picked_number_sold_meanwhile_is_said_and_changes_nothing(admin_client, sandbox):
    clinic = ClinicFactory()
    sandbox.seed_numbers([{"phone_number": "+15125550105"}])  # now owned: no longer for sale

    page = admin_client.post(provision_url(clinic), {"apply": "1", "phone_number": "+15125550105"})

    assert "+15125550105 is no longer for sale" in page.content.decode()
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.NONE
    assert not NumberEvent.objects.filter(clinic=clinic).exists()


def test_retry_is_refused_where_it_cannot_help(admin_client, sandbox):
    clinic = ClinicFactory(
        number_state=NumberState.FAILED, requested_area_code="907", number_error="Nothing for sale.", number_error_code=21452
    )

    done = admin_client.post(CHANGELIST, {"action": "retry_provisioning", ACTION_CHECKBOX_NAME: [clinic.pk]}, follow=True)

    assert any("retrying cannot help" in str(m) for m in done.context["messages"])
    assert NumberEvent.objects.filter(clinic=clinic).count() == 0 and sandbox.requests() == []
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()
    assert "Search again:" in page and "then retry" not in page


def test_retry_is_offered_for_a_retryable_failure(admin_client, sandbox):
    clinic = ClinicFactory(
        number_state=NumberState.FAILED, requested_area_code="512", number_error="Twilio had a problem.", number_error_code=20500
    )

    admin_client.post(CHANGELIST, {"action": "retry_provisioning", ACTION_CHECKBOX_NAME: [clinic.pk]}, follow=True)

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE


# --------------------------------------------------------------------------- the admin API


def test_api_refuses_a_picked_number_no_longer_for_sale_with_409(client, sandbox, staff_user):
    from telephony.models import ApiToken

    clinic = ClinicFactory()
    sandbox.seed_numbers([{"phone_number": "+15125550105"}])
    _, raw = ApiToken.issue(user=staff_user, name="test")

    response = client.post(
        "/api/admin/provision-number",
        {"clinic_id": clinic.id, "phone_number": "512-555-0105"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )

    assert response.status_code == 409 and "no longer for sale" in response.json()["error"]
    assert response.json()["code"] == 21422
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.NONE


# --------------------------------------------------------------------------- forgiving inputs


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("5", "'5' has 1 digit: an area code is three digits"),
        ("51", "'51' has 2 digits"),
        ("5125", "'5125' has 4 digits"),
        ("abc", "'abc' is not an area code: an area code is three digits"),
        ("000", "000 is not an area code: an area code is three digits that never start with 0"),
        ("1xx", "'1xx' is not an area code"),
        ("123", "never start with 1"),
        ("911", "911 is a service code"),
        ("411", "411 is a service code"),
    ],
)
def test_every_bad_area_code_gets_its_own_sentence(typed, words):
    form = ProvisionNumberForm({"search": "1", "area_code": typed})

    assert not form.is_valid()
    assert words in form.errors["area_code"][0]
    with pytest.raises(provisioning.InvalidInput) as caught:
        provisioning.area_code_clean(typed)
    assert str(caught.value) == form.errors["area_code"][0]  # one wording in the admin, API and commands


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_area_code_in_parentheses_is_forgiven():
    form = ProvisionNumberForm({"area_code": " (512) "})

    assert form.is_valid() and form.cleaned_data["area_code"] == "512"


@pytest.mark.parametrize("typed", ["512-555-7100", "(512) 555-7100", "512.555.7100", "+1 512 555 7100", "5125557100"])
def test_office_phone_in_any_format_is_saved_e164(admin_client, typed):
    clinic = ClinicFactory(office_phone="")

    admin_client.post(
        reverse("admin:clinics_clinic_change", args=[clinic.pk]), {"name": clinic.name, "office_phone": typed, **INLINE}
    )

    clinic.refresh_from_db()
    assert clinic.office_phone == "+15125557100"


def test_a_bad_office_phone_is_refused_with_a_sentence(admin_client):
    clinic = ClinicFactory(office_phone="+15125550100")

    page = admin_client.post(
        reverse("admin:clinics_clinic_change", args=[clinic.pk]), {"name": clinic.name, "office_phone": "555-12", **INLINE}
    )

    assert "is not a valid phone number" in page.content.decode() or "is not a phone number" in page.content.decode()
    clinic.refresh_from_db()
    assert clinic.office_phone == "+15125550100"


@pytest.mark.parametrize("typed", ["(512) 555-7000 ext 2", "512-555-7000 x2", "+1 512 555 7000;ext=2"])
def test_an_office_line_with_an_extension_is_refused_with_a_sentence_and_nothing_changes(admin_client, typed):
    clinic = ClinicFactory(office_phone="+15125550100")

    page = admin_client.post(
        reverse("admin:clinics_clinic_change", args=[clinic.pk]), {"name": clinic.name, "office_phone": typed, **INLINE}
    )

    assert page.status_code == 200
    assert (
        "has an extension (2)" in page.content.decode() and "Enter a direct number without an extension." in page.content.decode()
    )
    clinic.refresh_from_db()
    assert clinic.office_phone == "+15125550100"


def test_patient_phone_in_national_format_is_saved_e164(admin_client):
    clinic = ClinicFactory()

    admin_client.post(reverse("admin:clinics_patient_add"), {"clinic": clinic.pk, "name": "Pat", "phone": "(512) 555-0999"})

    assert Patient.objects.get(name="Pat").phone == "+15125550999"


@pytest.mark.parametrize(
    ("typed", "office_phone"),
    [
        # A whole number in any format: the same number, exactly.
        *[
            (typed, "+15125550103")
            for typed in ["(512) 555-0103", "512-555-0103", "5125550103", "+15125550103", "+1 512 555 0103"]
        ],
        # Part of a number as people type it: every number that contains its digits.
        *[(typed, "+17375550103") for typed in ["555-0103", "555 0103", "5550103", "555.0103"]],
    ],
)
def test_clinic_list_search_matches_a_number_or_part_of_it_as_typed(admin_client, typed, office_phone):
    wanted = ClinicFactory(name="Found Dental", twilio_number="+15125550103", number_state=NumberState.ACTIVE)
    ClinicFactory(name="Other Dental", twilio_number="+15125550104", number_state=NumberState.ACTIVE)
    by_office = ClinicFactory(name="Office Dental", office_phone=office_phone)

    page = admin_client.get(CHANGELIST, {"q": typed})

    assert {c.pk for c in page.context["cl"].result_list} == {wanted.pk, by_office.pk}


def test_list_search_by_name_still_works(admin_client):
    ClinicFactory(name="Name Dental")

    page = admin_client.get(CHANGELIST, {"q": "Name Den"})

    assert [c.name for c in page.context["cl"].result_list] == ["Name Dental"]


# --------------------------------------------------------------------------- Twilio errors for people


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_a_rate_limit_says_when_to_retry_with_twilios_retry_after(sandbox):
    sandbox.fault(method="GET", path="AvailablePhoneNumbers", status=429, code=20429, message="Too Many Requests", retry_after=30)

    with pytest.raises(twilio_client.TwilioError) as caught:
        twilio_client.available_numbers_search(area_code="512", limit=5)

    sentence = str(caught.value)
    assert caught.value.retryable
    assert "try again in 30 seconds" in sentence
    assert "https://www.twilio.com/docs/errors/20429" in sentence


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_a_rate_limit_without_retry_after_still_says_when(sandbox):
    sandbox.fault(method="GET", path="AvailablePhoneNumbers", status=429, code=20429, message="Too Many Requests")

    with pytest.raises(twilio_client.TwilioError) as caught:
        twilio_client.available_numbers_search(area_code="512", limit=5)

    assert "try again in 60 seconds" in str(caught.value)


def test_twilio_errors_shown_on_the_search_page_are_sentences_with_code_and_link(admin_client, sandbox):
    clinic = ClinicFactory()
    sandbox.fault(method="GET", path="AvailablePhoneNumbers", status=400, code=21451, message="Invalid area code")

    page = admin_client.post(provision_url(clinic), {"search": "1", "area_code": "512"})

    body = page.content.decode()
    assert "Twilio does not know that area code" in body and "search by city or ZIP" in body
    assert "https://www.twilio.com/docs/errors/21451" in body
    assert "TWILIO_" not in body


def test_unknown_twilio_codes_keep_twilios_words_without_the_sdk_prefix(sandbox):
    sandbox.fault(path="IncomingPhoneNumbers.json", status=400, code=21999, message="Something odd")
    clinic = ClinicFactory()

    with pytest.raises(twilio_client.TwilioError) as caught:
        provisioning.clinic_number_provision_run(clinic_id=clinic.id, area_code="512")

    sentence = str(caught.value)
    assert "Something odd" in sentence and "Unable to create record" not in sentence
    assert "(Twilio error 21999: https://www.twilio.com/docs/errors/21999)" in sentence


def test_the_first_retry_after_an_area_code_sold_out_offers_no_retry_that_cannot_help(admin_client, sandbox):
    """Issue 22: the number reserved by the failed attempt was sold, and so was the rest of
    the area code. The retry said 21422 "Try again: a new search will be made", a retry that
    could only find nothing. It now searches at once and says the area code has nothing (21452)."""
    clinic = ClinicFactory(
        number_state=NumberState.FAILED,
        requested_area_code="512",
        pending_number="+15125550105",  # kept by the failed attempt
        number_error="Twilio had a problem.",
        number_error_code=20500,
    )
    sandbox.empty_area_code("512")

    admin_client.post(CHANGELIST, {"action": "retry_provisioning", ACTION_CHECKBOX_NAME: [clinic.pk]}, follow=True)

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.FAILED and clinic.pending_number == ""
    assert clinic.number_error_code == 21452
    assert "No numbers with voice and SMS are available in area code 512" in clinic.number_error
    assert not number_search.provision_retry_helps(clinic.number_error_code)
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()
    assert "Search again:" in page and "Try again" not in page
    assert len(sandbox.api_requests("POST", "IncomingPhoneNumbers.json")) == 1
