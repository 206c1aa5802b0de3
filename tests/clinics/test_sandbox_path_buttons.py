"""Issue 23 in the demo: the clinic page's sandbox-only buttons that play Twilio's and the
losing carrier's part, so each path that keeps the clinic's number is walked from the page.
Shown and accepted only with the sandbox Twilio (404 otherwise), only for Onboarding staff
(clinics.keep_existing_number); each moves the sandbox on, then the app's own check runs."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils.html import escape

from clinics import services
from clinics.models import BusinessProfile, ChecklistItem, Clinic, HostedOrder, NumberState, OnboardingPath, OnboardingStep
from clinics.models_porting import NumberPortIn, PortInState
from telephony.models import CallLog
from telephony.numbers import hosted, porting_in
from tests.clinics.test_onboarding_path import PUBLISHED, forwarding
from tests.factories import ClinicFactory
from tests.permissions import staff_client
from tests.telephony.a2p.conftest import business_profile_data
from tests.telephony.numbers.test_porting_in import PUBLISHED as PORTED
from tests.telephony.numbers.test_porting_in import _plain_form, on_port_in

pytestmark = pytest.mark.django_db


def port_move_url(clinic: Clinic, move: str) -> str:
    return reverse("admin:clinics_clinic_sandbox_port_move", args=[clinic.pk, move])


def hosted_move_url(clinic: Clinic) -> str:
    return reverse("admin:clinics_clinic_sandbox_hosted_move", args=[clinic.pk])


def forwarded_call_url(clinic: Clinic) -> str:
    return reverse("admin:clinics_clinic_sandbox_forwarded_call", args=[clinic.pk])


def page(client: Any, clinic: Clinic) -> str:
    return client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()


def forwarding_clinic() -> Clinic:
    """A clinic on the forward path, its Twilio number bought (in the main account, whose
    token the simulated webhook is signed with)."""
    number = {"twilio_number": "+15125550188", "twilio_number_sid": "PN" + "5" * 32, "number_state": NumberState.ACTIVE}
    return forwarding(ClinicFactory(name="Lake Dental", **number))


def test_without_the_sandbox_the_buttons_are_neither_shown_nor_accepted(admin_client, sandbox, settings):
    clinic = on_port_in()
    porting_in.port_in_submit(clinic_id=clinic.id, form=_plain_form(), actor=None)
    settings.TWILIO_SANDBOX = False
    assert "(sandbox)" not in page(admin_client, clinic)
    for url in (port_move_url(clinic, "send-loa"), hosted_move_url(clinic), forwarded_call_url(clinic)):
        assert admin_client.post(url).status_code == 404
    assert NumberPortIn.objects.get().state == PortInState.IN_REVIEW


def test_the_buttons_need_the_keep_existing_number_power(django_user_model, sandbox):
    clinic = on_port_in()
    porting_in.port_in_submit(clinic_id=clinic.id, form=_plain_form(), actor=None)
    clerk = staff_client(django_user_model, "clerk", ("clinics.view_clinic", "clinics.change_clinic"))
    assert "(sandbox)" not in page(clerk, clinic)
    for url in (port_move_url(clinic, "send-loa"), hosted_move_url(clinic), forwarded_call_url(clinic)):
        assert clerk.post(url).status_code == 403
    assert NumberPortIn.objects.get().state == PortInState.IN_REVIEW
    onboarding = staff_client(
        django_user_model, "onboarder", ("clinics.view_clinic", "clinics.change_clinic", "clinics.keep_existing_number")
    )
    assert "Send the authorization to sign (sandbox)" in page(onboarding, clinic)
    onboarding.post(port_move_url(clinic, "send-loa"))
    assert NumberPortIn.objects.get().state == PortInState.WAITING_FOR_SIGNATURE


def test_a_port_is_signed_rejected_corrected_and_completed_from_the_page(admin_client, sandbox):
    clinic = on_port_in()
    porting_in.port_in_submit(clinic_id=clinic.id, form=_plain_form(), actor=None)
    first = NumberPortIn.objects.get()

    admin_client.post(port_move_url(clinic, "send-loa"))
    first.refresh_from_db()
    assert first.state == PortInState.WAITING_FOR_SIGNATURE  # as the app's own check recorded it
    body = page(admin_client, clinic)
    assert "Sign the LOA:" in body and "Sign the authorization (sandbox)" in body
    assert "Complete the port (sandbox)" not in body

    # A step out of turn is refused with a sentence and moves nothing.
    refused = admin_client.post(port_move_url(clinic, "complete"), follow=True).content.decode()
    assert "is not the next step now" in refused
    first.refresh_from_db()
    assert first.state == PortInState.WAITING_FOR_SIGNATURE

    admin_client.post(port_move_url(clinic, "sign"))
    body = page(admin_client, clinic)
    assert "Reject the port: account number mismatch (sandbox)" in body and "Complete the port (sandbox)" in body
    admin_client.post(port_move_url(clinic, "reject"))
    first.refresh_from_db()
    assert first.state == PortInState.ACTION_REQUIRED and first.rejection_reason == "Account number does not match"
    assert "Fix the request:" in page(admin_client, clinic)

    porting_in.port_in_submit(clinic_id=clinic.id, form=_plain_form(), actor=None)  # corrected
    for move in ("send-loa", "sign", "complete"):
        said = admin_client.post(port_move_url(clinic, move), follow=True).content.decode()
    assert escape("the port of (415) 555-0142: completed.") in said
    clinic.refresh_from_db()
    assert clinic.twilio_number == PORTED
    assert "(sandbox)" not in page(admin_client, clinic)  # nothing left to move


def test_a_texting_order_is_moved_on_to_completed_from_the_page(
    admin_client, sandbox, settings, django_capture_on_commit_callbacks
):
    settings.TWILIO_HOSTED_SMS_ENABLED = True
    clinic = ClinicFactory(name="Lake Dental")
    BusinessProfile.objects.create(clinic=clinic, **business_profile_data())
    services.clinic_onboarding_path_set(
        clinic_id=clinic.id, path=OnboardingPath.TEXT_ENABLE, published_number=PUBLISHED, actor=None
    )
    refused = admin_client.post(hosted_move_url(clinic), follow=True).content.decode()
    assert "The texting order does not exist yet" in refused
    with django_capture_on_commit_callbacks(execute=True):
        hosted.hosted_order_start(clinic_id=clinic.id, actor=None)
    assert "Move the texting order on (sandbox)" in page(admin_client, clinic)

    seen = []
    for _ in range(4):
        admin_client.post(hosted_move_url(clinic))
        seen.append(HostedOrder.objects.get().status)
    assert seen == ["received", "pending-loa", "carrier-processing", "completed"]
    clinic.refresh_from_db()
    assert clinic.twilio_number == PUBLISHED  # the app's poll made the hosted number the clinic's
    assert "Move the texting order on (sandbox)" not in page(admin_client, clinic)
    refused = admin_client.post(hosted_move_url(clinic), follow=True).content.decode()
    assert "there is no next step to move it to" in refused


def test_a_forwarded_call_ticks_the_published_line_step_on_its_evidence(admin_client, sandbox):
    clinic = forwarding_clinic()
    assert "Simulate a forwarded call (sandbox)" in page(admin_client, clinic)

    said = admin_client.post(forwarded_call_url(clinic), follow=True).content.decode()

    assert escape("a call to (512) 555-7000 was forwarded to (512) 555-0188.") in said
    item = ChecklistItem.objects.get(clinic=clinic, step=OnboardingStep.PUBLISHED_LINE)
    assert item.done_by is None  # by the system, on Twilio's ForwardedFrom, not a person
    assert CallLog.objects.filter(clinic=clinic).count() == 1


def test_a_clinic_that_forwards_nothing_gets_no_forwarded_call(admin_client, sandbox):
    clinic = ClinicFactory(twilio_number="+15125550188", number_state=NumberState.ACTIVE)
    assert "Simulate a forwarded call (sandbox)" not in page(admin_client, clinic)
    said = admin_client.post(forwarded_call_url(clinic), follow=True).content.decode()
    assert "There is no forwarding to simulate" in said
    assert not CallLog.objects.exists()
