"""A changed number keeps texting (issue 22, item 1): every change of a clinic's number
(purchase after a release, adoption, a move between accounts) puts the new number in the
clinic's Messaging Service after commit, once; the pipeline and the checklist follow."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from clinics.models import Appointment, ChecklistItem, Clinic, OnboardingStep, Patient
from clinics.models_a2p import NUMBER_CHANGED, A2PRegistration, A2PStep
from clinics.phone import phone_format_national
from telephony.a2p import registration
from telephony.a2p import texting as messaging
from telephony.numbers import provisioning, release
from tests.factories import ClinicFactory
from tests.telephony.a2p.conftest import registered, review

# Real commits: the number step is sent with transaction.on_commit.
pytestmark = pytest.mark.django_db(transaction=True)


def _pool(sandbox, service_sid: str) -> list[str]:
    (service,) = [s for s in sandbox._call("GET", "a2p-state")["services"] if s["sid"] == service_sid]
    owned = {n["sid"] for n in sandbox.owned_numbers()}
    return [sid for sid in service["_sandbox"]["number_sids"] if sid in owned]


def _release_and_rebuy(clinic: Clinic) -> Clinic:
    release.clinic_number_release_request(clinic_id=clinic.id)
    clinic.refresh_from_db()
    assert clinic.twilio_number_sid is None
    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")
    clinic.refresh_from_db()
    assert clinic.twilio_number_sid
    return clinic


def _appointment(clinic: Clinic) -> Appointment:
    patient = Patient.objects.create(clinic=clinic, name="Pat", phone="+15125550999")
    return Appointment.objects.create(clinic=clinic, patient=patient, starts_at=timezone.now() + dt.timedelta(days=1))


def test_a_rebuy_after_a_release_texts_through_the_service_with_the_new_number(sub_clinic, sandbox, a2p_enabled):
    reg = registered(sub_clinic, sandbox)
    old_sid = sub_clinic.twilio_number_sid

    clinic = _release_and_rebuy(sub_clinic)

    assert clinic.twilio_number_sid != old_sid
    assert _pool(sandbox, reg.messaging_service_sid) == [clinic.twilio_number_sid]
    reg.refresh_from_db()
    assert (reg.number_sid, reg.number_status, reg.number_phone_number) == (
        clinic.twilio_number_sid,
        "added",
        clinic.twilio_number,
    )
    sent = messaging.reminder_send(appointment_id=_appointment(clinic).id)
    assert sent.message is not None, sent.skipped
    (request,) = sandbox.api_requests("POST", "Messages.json")
    assert request["form"]["MessagingServiceSid"] == reg.messaging_service_sid
    # The sandbox sent it from the service's sender: the new number.
    (message,) = [m for m in sandbox._call("GET", "state")["messages"] if m["sid"] == sent.message.sid]
    assert message["from"] == clinic.twilio_number


def test_the_release_marks_the_number_step_and_reminders_say_why_instead_of_failing(sub_clinic, sandbox, a2p_enabled):
    reg = registered(sub_clinic, sandbox)
    appointment = _appointment(sub_clinic)

    release.clinic_number_release_request(clinic_id=sub_clinic.id)

    reg.refresh_from_db()
    assert reg.number_status == NUMBER_CHANGED and not reg.campaign_ready
    outcome = messaging.reminder_send(appointment_id=appointment.id)
    assert outcome.message is None and "no active number" in outcome.skipped
    assert sandbox.api_requests("POST", "Messages.json") == []


def test_a_retried_number_step_and_a_second_change_add_the_number_once(sub_clinic, sandbox, a2p_enabled):
    reg = registered(sub_clinic, sandbox)
    clinic = _release_and_rebuy(sub_clinic)
    adds_before = len(sandbox.api_requests("POST", f"/v1/Services/{reg.messaging_service_sid}/PhoneNumbers"))

    # The hook again (a repeated task, a second change reported for the same number), then a retried advance.
    assert registration.registration_number_changed(clinic_id=clinic.id)
    registration.registration_advance(clinic_id=clinic.id)

    adds = sandbox.api_requests("POST", f"/v1/Services/{reg.messaging_service_sid}/PhoneNumbers")
    assert len(adds) == adds_before  # already in the pool: listed, not added again
    assert _pool(sandbox, reg.messaging_service_sid) == [clinic.twilio_number_sid]
    reg.refresh_from_db()
    assert reg.campaign_ready


def test_the_replaced_number_comes_out_of_the_pool_when_it_is_still_there(clinic, sandbox, a2p_enabled):
    """A change without a release (e.g. a move, or a number adopted after the old one was
    detached) leaves the old number in the service: the number step takes it out."""
    reg = registered(clinic, sandbox)
    old_sid = clinic.twilio_number_sid
    [new_sid] = sandbox.seed_numbers([{"phone_number": "+15125550177"}])
    Clinic.objects.filter(pk=clinic.pk).update(twilio_number="+15125550177", twilio_number_sid=new_sid)

    registration.registration_number_changed(clinic_id=clinic.id)

    assert _pool(sandbox, reg.messaging_service_sid) == [new_sid]
    (removal,) = sandbox.api_requests("DELETE", "/PhoneNumbers/")
    assert removal["path"] == f"/v1/Services/{reg.messaging_service_sid}/PhoneNumbers/{old_sid}"


def test_the_checklist_follows_the_registration_in_the_new_run(sub_clinic, sandbox, a2p_enabled):
    registered(sub_clinic, sandbox)
    a2p_steps = {OnboardingStep.A2P_PROFILE_APPROVED, OnboardingStep.A2P_BRAND_REGISTERED, OnboardingStep.A2P_CAMPAIGN_APPROVED}
    assert a2p_steps <= set(ChecklistItem.objects.filter(clinic=sub_clinic).values_list("step", flat=True))

    release.clinic_number_release_request(clinic_id=sub_clinic.id)
    after_release = set(ChecklistItem.objects.filter(clinic=sub_clinic).values_list("step", flat=True))
    # The new run: the business's approvals hold; texting waits for a number in the service.
    assert after_release == {OnboardingStep.A2P_PROFILE_APPROVED, OnboardingStep.A2P_BRAND_REGISTERED}

    provisioning.clinic_number_provision_request(clinic_id=sub_clinic.id, area_code="512")
    assert a2p_steps <= set(ChecklistItem.objects.filter(clinic=sub_clinic).values_list("step", flat=True))


def test_a_change_before_the_messaging_service_exists_asks_for_nothing(sub_clinic, sandbox, a2p_enabled):
    review(sandbox, mode="manual")
    registration.registration_start(clinic_id=sub_clinic.id)

    assert registration.registration_number_changed(clinic_id=sub_clinic.id) is False
    assert A2PRegistration.objects.get(clinic=sub_clinic).step_status(A2PStep.NUMBER) == ""


def _pipeline(admin_client, clinic: Clinic) -> str:
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    return html[html.index("a2p-pipeline") :]


def test_the_pipeline_shows_which_number_is_in_the_service_through_a_change(sub_clinic, sandbox, a2p_enabled, admin_client):
    registered(sub_clinic, sandbox)
    old = phone_format_national(sub_clinic.twilio_number)
    assert f"Texts go out from {old}" in _pipeline(admin_client, sub_clinic)

    release.clinic_number_release_request(clinic_id=sub_clinic.id)
    after_release = _pipeline(admin_client, sub_clinic)
    assert "✔ Number in the Messaging Service" not in after_release
    assert f"the clinic has no number ({old} was released)" in after_release

    clinic = _release_and_rebuy_after_release(sub_clinic)
    new = phone_format_national(clinic.twilio_number)
    rebought = _pipeline(admin_client, clinic)
    assert "✔ Number in the Messaging Service" in rebought
    assert f"Texts go out from {new}" in rebought


def _release_and_rebuy_after_release(clinic: Clinic) -> Clinic:
    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")
    clinic.refresh_from_db()
    return clinic


def test_a_reminder_while_the_new_number_joins_the_service_says_so(sub_clinic, sandbox, a2p_enabled, settings):
    reg = registered(sub_clinic, sandbox)
    [new_sid] = sandbox.seed_numbers([{"phone_number": "+15125550178", "account_sid": sub_clinic.twilio_account_sid}])
    Clinic.objects.filter(pk=sub_clinic.pk).update(twilio_number="+15125550178", twilio_number_sid=new_sid)
    A2PRegistration.objects.filter(pk=reg.pk).update(number_status=NUMBER_CHANGED)

    outcome = messaging.reminder_send(appointment_id=_appointment(sub_clinic).id)

    assert outcome.message is None
    assert "not in its Messaging Service yet" in outcome.skipped
    assert sandbox.api_requests("POST", "Messages.json") == []


def test_the_release_confirmation_warns_when_the_number_is_the_texting_sender(clinic, sandbox, a2p_enabled, admin_client):
    other = ClinicFactory(name="Not Texting Yet")
    [sid] = sandbox.seed_numbers([{"phone_number": "+15125550166"}])
    Clinic.objects.filter(pk=other.pk).update(twilio_number="+15125550166", twilio_number_sid=sid, number_state="active")
    before = admin_client.post(
        reverse("admin:clinics_clinic_changelist"), {"action": "release_number", ACTION_CHECKBOX_NAME: [clinic.pk, other.pk]}
    )
    assert "texting-sender" not in before.content.decode()

    registered(clinic, sandbox)
    page = admin_client.post(
        reverse("admin:clinics_clinic_changelist"), {"action": "release_number", ACTION_CHECKBOX_NAME: [clinic.pk, other.pk]}
    )

    html = page.content.decode()
    assert html.count("texting-sender") == 1
    assert f"{clinic.name} texts its patients from {clinic.twilio_number}" in html
    assert "reminders and texts stop" in html
