"""What A2P registration changes for people: reminders wait for the campaign and then go
through the Messaging Service, carriers' refusals block texting with the reason, the SMS
test waits, and the admin's business profile, actions and pipeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from clinics.models import Appointment, ChecklistItem, OnboardingStep, Patient
from clinics.models_a2p import A2PRegistration, BusinessProfile
from telephony.a2p import texting as messaging
from telephony.models import MessageLog
from tests.factories import ClinicFactory
from tests.telephony.a2p.conftest import EIN, business_profile_data, registered, review
from tests.telephony.webhooks.twilio_requests import signed_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def appointment(clinic):
    patient = Patient.objects.create(clinic=clinic, name="Pat", phone="+15125550999")
    return Appointment.objects.create(clinic=clinic, patient=patient, starts_at=timezone.now() + dt.timedelta(days=1))


def test_reminders_wait_for_the_campaign_then_go_through_the_messaging_service(appointment, clinic, sandbox, a2p_enabled):
    skipped = messaging.reminder_send(appointment_id=appointment.id)
    assert "not approved yet" in skipped.skipped and "30034" in skipped.skipped
    assert sandbox.api_requests("POST", "Messages.json") == []

    reg = registered(clinic, sandbox)
    sent = messaging.reminder_send(appointment_id=appointment.id)

    assert sent.message is not None
    (request,) = sandbox.api_requests("POST", "Messages.json")
    assert request["form"]["MessagingServiceSid"] == reg.messaging_service_sid
    assert "From" not in request["form"]
    assert MessageLog.objects.get(message_sid=sent.message.sid).from_number == clinic.twilio_number


def test_a_30034_failure_blocks_the_clinics_texting_with_the_reason(appointment, clinic, sandbox, a2p_enabled, client):
    registered(clinic, sandbox)
    sent = messaging.reminder_send(appointment_id=appointment.id)

    answer = signed_post(
        client,
        "/twilio/status",
        # Signed as the main account, which sent it (webhooks are checked with the AccountSid's token).
        {
            "MessageSid": sent.message.sid,
            "MessageStatus": "undelivered",
            "ErrorCode": "30034",
            "AccountSid": settings.TWILIO_ACCOUNT_SID,
        },
    )

    assert answer.status_code == 204
    reg = A2PRegistration.objects.get(clinic=clinic)
    assert reg.messaging_blocked_code == 30034 and "30034" in reg.messaging_blocked_reason
    again = messaging.reminder_send(appointment_id=appointment.id)
    assert again.message is None and "blocked" in again.skipped


def test_the_sms_test_is_ticked_only_after_the_campaign(clinic, sandbox, a2p_enabled, client):
    params = {"MessageSid": "SM" + "1" * 32, "From": "+15125550999", "To": clinic.twilio_number, "Body": "hello"}
    assert signed_post(client, "/api/sms/inbound", params).status_code == 200
    assert not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.TEST_INBOUND_SMS).exists()

    registered(clinic, sandbox)
    assert signed_post(client, "/api/sms/inbound", {**params, "MessageSid": "SM" + "2" * 32}).status_code == 200
    assert ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.TEST_INBOUND_SMS).exists()


# ------------------------------------------------------------------ admin


def _profile_form(clinic, **changes) -> dict:
    data = {**business_profile_data(), "clinic": clinic.id, **changes}
    return data


def test_staff_enter_a_profile_and_the_ein_is_never_shown_again(client, staff_user, sandbox):
    clinic = ClinicFactory(name="New Smiles")
    client.force_login(staff_user)

    refused = client.post("/admin/clinics/businessprofile/add/", _profile_form(clinic, ein="12-34", region="T1"))
    assert refused.status_code == 200
    assert "Enter the EIN as 9 digits" in refused.content.decode() and "Two capital letters" in refused.content.decode()
    assert not BusinessProfile.objects.exists()

    created = client.post("/admin/clinics/businessprofile/add/", _profile_form(clinic))
    assert created.status_code == 302
    profile = BusinessProfile.objects.get(clinic=clinic)
    assert profile.ein == EIN

    page = client.get(f"/admin/clinics/businessprofile/{profile.pk}/change/").content.decode()
    assert EIN not in page and "3456789" not in page and "••-•••6789" in page
    # A blank EIN keeps the saved one.
    kept = client.post(f"/admin/clinics/businessprofile/{profile.pk}/change/", _profile_form(clinic, ein="", city="Round Rock"))
    assert kept.status_code == 302
    profile.refresh_from_db()
    assert (profile.ein, profile.city) == (EIN, "Round Rock")
    assert EIN not in client.get("/admin/clinics/businessprofile/").content.decode()


def test_the_profile_accepts_what_people_type_and_saves_it_normalised(client, staff_user, sandbox):
    clinic = ClinicFactory(name="Typed Smiles")
    client.force_login(staff_user)

    created = client.post(
        "/admin/clinics/businessprofile/add/",
        _profile_form(clinic, region="tx", ein="12 3456789", rep_phone="512-555-7000"),
    )

    assert created.status_code == 302, created.context["adminform"].form.errors
    profile = BusinessProfile.objects.get(clinic=clinic)
    assert (profile.region, profile.ein, profile.rep_phone) == ("TX", EIN, "+15125557000")


def test_a_page_sent_back_with_an_error_keeps_the_ein_just_typed(client, staff_user, sandbox):
    clinic = ClinicFactory(name="Typed Smiles")
    client.force_login(staff_user)

    refused = client.post("/admin/clinics/businessprofile/add/", _profile_form(clinic, ein="98-7654321", postal_code="787"))

    assert refused.status_code == 200 and not BusinessProfile.objects.exists()
    assert 'value="98-7654321"' in refused.content.decode()
    # A fresh page, or a saved profile's page, never carries an EIN.
    assert "98-7654321" not in client.get("/admin/clinics/businessprofile/add/").content.decode()


def test_the_business_type_is_chosen_not_defaulted_and_choices_read_as_in_twilios_console(client, staff_user, sandbox):
    clinic = ClinicFactory(name="Typed Smiles")
    client.force_login(staff_user)

    page = client.get("/admin/clinics/businessprofile/add/").content.decode()
    assert ">Limited Liability Corporation</option>" in page and "selected>Limited Liability" not in page
    assert ">GM</option>" in page and ">CEO</option>" in page and ">Gm<" not in page and ">Ceo<" not in page
    refused = client.post("/admin/clinics/businessprofile/add/", _profile_form(clinic, business_type=""))
    assert refused.status_code == 200 and not BusinessProfile.objects.exists()
    assert "business_type" in refused.context["adminform"].form.errors


# Python's \d matches every script's digits: these passed as an EIN or ZIP before issue 20.
NON_ASCII_DIGITS = {
    "arabic-indic": "١٢-٣٤٥٦٧٨٩",
    "fullwidth": "１２-３４５６７８９",
    "devanagari": "१२-३४५६७८९",
}


@pytest.mark.parametrize("ein", NON_ASCII_DIGITS.values(), ids=NON_ASCII_DIGITS.keys())
def test_the_ein_and_zip_take_ascii_digits_only(client, staff_user, sandbox, ein):
    clinic = ClinicFactory(name="New Smiles")
    client.force_login(staff_user)
    zip_code = ein.replace("-", "")[:5]

    refused = client.post("/admin/clinics/businessprofile/add/", _profile_form(clinic, ein=ein, postal_code=zip_code))

    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors
    assert errors["ein"] == ["Enter the EIN as 9 digits (0-9), e.g. 12-3456789."]
    assert errors["postal_code"] == ["Enter a US ZIP code of digits 0-9, e.g. 78701."]
    assert not BusinessProfile.objects.exists()


NAME_FIELDS = ["legal_name", "street", "city", "rep_first_name", "rep_last_name", "rep_title"]


def test_business_profile_names_refuse_a_right_to_left_override(client, staff_user, sandbox):
    clinic = ClinicFactory(name="New Smiles")
    client.force_login(staff_user)
    overridden = {field: business_profile_data()[field] + "\u202e" for field in NAME_FIELDS}

    refused = client.post("/admin/clinics/businessprofile/add/", _profile_form(clinic, **overridden))

    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors
    assert sorted(errors) == sorted(NAME_FIELDS)
    assert all("Remove the text-direction control U+202E" in errors[field][0] for field in NAME_FIELDS)
    assert not BusinessProfile.objects.exists()


def test_start_registration_from_the_admin_and_the_clinic_page_shows_the_pipeline(
    client, staff_user, clinic, sandbox, a2p_enabled, django_capture_on_commit_callbacks
):
    client.force_login(staff_user)
    review(sandbox, mode="manual")
    profile = BusinessProfile.objects.get(clinic=clinic)

    with django_capture_on_commit_callbacks(execute=True):  # the task runs after commit (eager Celery here)
        response = client.post(
            "/admin/clinics/businessprofile/", {"action": "start_registration", ACTION_CHECKBOX_NAME: [profile.pk]}, follow=True
        )

    assert "Registration started" in response.content.decode()
    reg = A2PRegistration.objects.get(clinic=clinic)
    assert reg.customer_profile_status == "pending-review"
    page = client.get(f"/admin/clinics/clinic/{clinic.pk}/change/").content.decode()
    assert "Wait for Twilio" in page
    # Issue 22: each step's status in words; Twilio's raw token stays in the history (details).
    pipeline = page.split("<ul class='a2p-pipeline'>", 1)[1].split("</ul>", 1)[0]
    assert "Business profile (Trust Hub): in review at Twilio" in pipeline and "pending-review" not in pipeline
    assert "pending-review" in page.split("<summary>History</summary>", 1)[1]
    assert EIN not in page


def test_start_registration_without_our_primary_profile_says_what_to_set(client, staff_user, clinic, settings):
    settings.TWILIO_PRIMARY_CUSTOMER_PROFILE_SID = ""
    client.force_login(staff_user)
    profile = BusinessProfile.objects.get(clinic=clinic)

    response = client.post(
        "/admin/clinics/businessprofile/", {"action": "start_registration", ACTION_CHECKBOX_NAME: [profile.pk]}, follow=True
    )

    assert "A2P registration is not set up on this DentSignal yet" in response.content.decode()
    assert not A2PRegistration.objects.exists()


def test_staff_without_the_permission_cannot_start_a_registration(client, django_user_model, clinic, a2p_enabled, sandbox):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(username="viewer", password="pw-viewer-1234", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_businessprofile"))
    client.force_login(user)
    profile = BusinessProfile.objects.get(clinic=clinic)

    client.post("/admin/clinics/businessprofile/", {"action": "start_registration", ACTION_CHECKBOX_NAME: [profile.pk]})

    assert not A2PRegistration.objects.exists()
    assert sandbox.requests() == []


def test_the_business_profile_list_costs_the_same_queries_for_one_profile_or_many(client, staff_user, clinic, sandbox):
    """Each row's registration state comes with the row, not one query per profile."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(staff_user)
    A2PRegistration.objects.create(clinic=clinic, customer_profile_status="pending-review")

    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/admin/clinics/businessprofile/").status_code == 200
        return len(queries)

    one = list_queries()
    for i in range(4):
        other = ClinicFactory(name=f"Other Smiles {i}")
        BusinessProfile.objects.create(clinic=other, **business_profile_data())
        if i % 2:
            A2PRegistration.objects.create(clinic=other)
    assert list_queries() == one
