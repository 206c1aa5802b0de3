"""Issue 23, port-in path: the portability check and the form on the clinic page, the request
made once (double click, lost answer), a rejection said as what to fix, the corrected
resubmission, cancel, the poll, and the completed port made the clinic's number with
everything a bought number gets. Against the sandbox Twilio, through the real SDK."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from clinics import services as clinic_services
from clinics.models import ChecklistItem, Clinic, NumberEvent, OnboardingPath, OnboardingStep
from clinics.models_porting import NumberPortIn, PortInState
from clinics.selectors import clinic_next_step
from telephony.numbers import audit, porting_in, provisioning
from telephony.tasks import ports_in_poll
from tests.factories import ClinicFactory
from tests.permissions import staff_client
from tests.twilio_sandbox.trust_hub import control_post

pytestmark = pytest.mark.django_db

PUBLISHED = "+14155550142"  # not in 512, where the temporary number is bought
PIN_NUMBER = "+15125550190"  # the sandbox: portable, PIN and account number required
SECRET_ACCOUNT, SECRET_PIN = "ACCT-77341", "8642"


def on_port_in(published=PUBLISHED, *, temporary=None) -> Clinic:
    """A clinic on the port-in path; with `temporary` (django_capture_on_commit_callbacks), a
    number bought first, as a clinic that wants to go live during the port does."""
    clinic = ClinicFactory(name="Lake Dental")
    if temporary is not None:
        with temporary(execute=True):
            provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")
    clinic_services.clinic_onboarding_path_set(
        clinic_id=clinic.id, path=OnboardingPath.PORT_IN, published_number=published, actor=None
    )
    clinic.refresh_from_db()
    return clinic


def form_data(**changes) -> dict:
    data = {
        "customer_name": "Lake Dental LLC",
        "authorized_representative": "Ana Lopez",
        "authorized_representative_email": "ana@lake.example.com",
        "street": "1 Main St",
        "city": "Austin",
        "state": "tx",
        "zip": "78701",
        "target_date": (timezone.localdate() + datetime.timedelta(days=10)).isoformat(),
        "utility_bill": SimpleUploadedFile("bill.pdf", b"%PDF-1.4 bill", content_type="application/pdf"),
    }
    return {**data, **changes}


def port_url(clinic) -> str:
    return reverse("admin:clinics_clinic_port_in", args=[clinic.pk])


def change_page(client, clinic) -> str:
    return client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()


def creates(sandbox) -> list:
    return sandbox.api_requests("POST", "/v1/Porting/PortIn")


def test_choosing_port_in_checks_portability_and_a_toll_free_number_gets_a_sentence_and_no_form(staff_user, client, sandbox):
    client.force_login(staff_user)
    clinic = ClinicFactory(name="Lake Dental")
    response = client.post(
        reverse("admin:clinics_clinic_onboarding_path", args=[clinic.pk]),
        {"path": "port_in", "published_number": "(800) 555-0100"},
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == port_url(clinic)
    assert "manual port" in html and "22133" in html and "MANUAL_PORTING" not in html
    assert 'id="port-in-form"' not in html
    [check] = sandbox.api_requests("GET", "/v1/Porting/Portability/PhoneNumber/")
    clinic.refresh_from_db()
    assert check["query"] == {"TargetAccountSid": clinic.twilio_account_sid} and clinic.twilio_account_sid.startswith("AC")


def test_a_pin_number_needs_account_number_and_pin_which_are_sent_once_and_never_shown_or_kept(staff_user, client, sandbox):
    client.force_login(staff_user)
    clinic = on_port_in(PIN_NUMBER)
    page = client.get(port_url(clinic)).content.decode()
    assert "requires the account number and the PIN" in page and "customer service record" in page

    refused = client.post(port_url(clinic), form_data())
    assert "enter both" in refused.content.decode() and not creates(sandbox)

    done = client.post(port_url(clinic), form_data(account_number=SECRET_ACCOUNT, pin=SECRET_PIN), follow=True)
    html = done.content.decode()
    [sent] = creates(sandbox)
    assert sent["json"]["phone_numbers"] == [{"phone_number": PIN_NUMBER, "pin": SECRET_PIN}]
    assert sent["json"]["losing_carrier_information"]["account_number"] == SECRET_ACCOUNT
    assert sent["json"]["account_sid"] == Clinic.objects.get(pk=clinic.pk).twilio_account_sid
    port = NumberPortIn.objects.get()
    assert port.state == PortInState.IN_REVIEW and port.request_sid.startswith("KW")
    stored = str(list(NumberPortIn.objects.values())) + str(list(NumberEvent.objects.values()))
    assert SECRET_ACCOUNT not in stored and SECRET_PIN not in stored
    assert SECRET_ACCOUNT not in html and SECRET_PIN not in html
    # A correction page prefills the record, never the secrets.
    assert SECRET_PIN not in client.get(port_url(clinic)).content.decode()


def test_a_target_date_under_seven_days_is_refused_before_twilio_is_asked(staff_user, client, sandbox):
    client.force_login(staff_user)
    clinic = on_port_in()
    soon = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    response = client.post(port_url(clinic), form_data(target_date=soon))
    assert "at least 7 days ahead" in response.content.decode()
    assert not creates(sandbox) and not NumberPortIn.objects.exists()


def test_a_double_submit_and_a_lost_answer_make_one_port_in_request(staff_user, sandbox):
    clinic = on_port_in()
    form = _plain_form()
    sandbox.fault(path="/v1/Porting/PortIn", mode="drop_after")
    with pytest.raises(porting_in.twilio.TwilioError):
        porting_in.port_in_submit(clinic_id=clinic.id, form=form, actor=staff_user)
    assert NumberPortIn.objects.get().state == PortInState.REQUESTING
    with pytest.raises(clinic_services.ClinicInputError, match="being requested right now"):
        porting_in.port_in_submit(clinic_id=clinic.id, form=form, actor=staff_user)
    NumberPortIn.objects.update(requested_at=timezone.now() - porting_in.REQUEST_LEASE)

    port = porting_in.port_in_submit(clinic_id=clinic.id, form=form, actor=staff_user)

    assert len(creates(sandbox)) == 1  # found at Twilio, not asked again
    assert port.state == PortInState.IN_REVIEW and port.request_sid.startswith("KW")
    assert NumberPortIn.objects.count() == 1


def _plain_form() -> porting_in.PortInForm:
    carrier = porting_in.twilio.LosingCarrierInfo(
        customer_name="Lake Dental LLC",
        authorized_representative="Ana Lopez",
        authorized_representative_email="ana@lake.example.com",
        street="1 Main St",
        city="Austin",
        state="TX",
        zip="78701",
    )
    return porting_in.PortInForm(
        carrier=carrier,
        target_date=timezone.localdate() + datetime.timedelta(days=10),
        bill_name="bill.pdf",
        bill_content=b"%PDF-1.4 bill",
        bill_content_type="application/pdf",
    )


def test_rejected_corrected_and_completed_the_ported_number_becomes_the_clinics_number(
    staff_user, client, sandbox, django_capture_on_commit_callbacks
):
    client.force_login(staff_user)
    clinic = on_port_in(temporary=django_capture_on_commit_callbacks)
    temporary, temporary_sid = clinic.twilio_number, clinic.twilio_number_sid
    assert temporary and clinic.number_state == "active"
    client.post(port_url(clinic), form_data())
    first = NumberPortIn.objects.get()
    control_post(sandbox, "port-in-status", {"sid": first.request_sid, "status": "waiting_for_signature"})
    ports_in_poll.delay()
    first.refresh_from_db()
    assert first.state == PortInState.WAITING_FOR_SIGNATURE and first.signature_request_url.startswith("https://")
    page = change_page(client, Clinic.objects.get(pk=clinic.pk))
    assert "Sign the LOA:" in page and escape(first.signature_request_url) in page and "Ana Lopez" in page

    reason = "Account number does not match the customer service record"
    control_post(
        sandbox,
        "port-in-number-status",
        {"sid": first.number_sid, "status": "rejected", "rejection_reason": reason, "rejection_reason_code": 6010},
    )
    client.post(reverse("admin:clinics_clinic_port_in_refresh", args=[clinic.pk]))
    first.refresh_from_db()
    assert first.state == PortInState.ACTION_REQUIRED
    page = change_page(client, Clinic.objects.get(pk=clinic.pk))
    assert "Fix the request:" in page and escape(reason) in page and "correct them on the clinic" in page
    assert "action_required" not in page and first.request_sid not in page

    correction = client.get(port_url(clinic)).content.decode()
    assert 'value="Lake Dental LLC"' in correction  # prefilled from the record entered
    client.post(port_url(clinic), form_data(account_number="ACCT-1"))
    first.refresh_from_db()
    second = NumberPortIn.objects.exclude(pk=first.pk).get()
    assert first.state == PortInState.REPLACED and second.state == PortInState.IN_REVIEW
    assert sandbox.api_requests("DELETE", first.request_sid)  # the rejected request cancelled at Twilio

    # The temporary number keeps working during the port.
    assert Clinic.objects.get(pk=clinic.pk).twilio_number == temporary
    control_post(sandbox, "port-in-status", {"sid": second.request_sid, "status": "completed"})
    client.post(reverse("admin:clinics_clinic_port_in_refresh", args=[clinic.pk]))

    clinic.refresh_from_db()
    second.refresh_from_db()
    assert (clinic.twilio_number, clinic.twilio_number_sid[:2], clinic.number_state) == (PUBLISHED, "PN", "active")
    assert second.state == PortInState.COMPLETED
    assert (second.temporary_number, second.temporary_number_sid) == (temporary, temporary_sid)
    ported = next(n for n in sandbox.owned_numbers() if n["phone_number"] == PUBLISHED)
    assert ported["sid"] == clinic.twilio_number_sid and ported["voice_url"].endswith("/inbound/voice")
    assert ported["voice_fallback_url"].endswith("/inbound/voice/fallback") and ported["sms_url"].endswith("/api/sms/inbound")
    assert clinic.twilio_webhooks  # saved as on every number
    assert NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.PORTED_IN, phone_number=PUBLISHED).exists()
    done = set(ChecklistItem.objects.filter(clinic=clinic).values_list("step", flat=True))
    assert OnboardingStep.PUBLISHED_LINE in done and OnboardingStep.TEST_INBOUND_CALL not in done
    assert any(n["sid"] == temporary_sid for n in sandbox.owned_numbers())  # not released by itself
    assert "test_inbound_call" not in clinic_next_step(clinic=clinic, retry_helps=False).text
    result = audit.number_audit()
    assert not [f for f in result.findings if f.sid == clinic.twilio_number_sid]  # the audit sees it, all good
    assert any(row["sid"] == clinic.twilio_number_sid for row in result.all_good)

    # Staff say when the temporary number goes.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:clinics_clinic_port_in_release_temporary", args=[clinic.pk]))
    assert not any(n["sid"] == temporary_sid for n in sandbox.owned_numbers())
    assert Clinic.objects.get(pk=clinic.pk).twilio_number == PUBLISHED


def test_cancel_while_twilio_allows_it_then_the_button_is_gone(staff_user, client, sandbox):
    client.force_login(staff_user)
    clinic = on_port_in()
    client.post(port_url(clinic), form_data())
    assert 'id="port-in-cancel-button"' in change_page(client, clinic)
    client.post(reverse("admin:clinics_clinic_port_in_cancel", args=[clinic.pk]))
    port = NumberPortIn.objects.get()
    assert port.state == PortInState.CANCELED
    page = change_page(client, clinic)
    assert 'id="port-in-cancel-button"' not in page and "Start the port:" in page
    # Cancelled: the path may change again.
    clinic_services.clinic_onboarding_path_set(clinic_id=clinic.id, path=OnboardingPath.NEW_NUMBER, actor=None)


def test_an_open_port_holds_the_path(sandbox):
    clinic = on_port_in()
    porting_in.port_in_submit(clinic_id=clinic.id, form=_plain_form(), actor=None)
    with pytest.raises(clinic_services.ClinicInputError, match="cancel it on the clinic's page first"):
        clinic_services.clinic_onboarding_path_set(clinic_id=clinic.id, path=OnboardingPath.NEW_NUMBER, actor=None)


def test_the_audit_reports_a_port_stuck_past_its_target_date(sandbox):
    clinic = on_port_in()
    porting_in.port_in_submit(clinic_id=clinic.id, form=_plain_form(), actor=None)
    assert not [f for f in audit.number_audit().findings if f.code == "port_in_overdue"]
    NumberPortIn.objects.update(target_date=timezone.localdate() - datetime.timedelta(days=2))
    [finding] = [f for f in audit.number_audit().findings if f.code == "port_in_overdue"]
    assert finding.clinic_id == clinic.id and "was due on" in finding.message and "in review" in finding.message


def test_starting_or_cancelling_a_port_needs_the_keep_existing_number_permission(django_user_model, sandbox):
    clinic = on_port_in()
    client = staff_client(django_user_model, "clerk", ("clinics.view_clinic", "clinics.change_clinic"))
    assert client.get(port_url(clinic)).status_code == 403
    assert client.post(port_url(clinic), form_data()).status_code == 403
    assert client.post(reverse("admin:clinics_clinic_port_in_cancel", args=[clinic.pk])).status_code == 403
    assert 'id="port-in-button"' not in change_page(client, clinic)
    assert not creates(sandbox) and not sandbox.api_requests("GET", "/v1/Porting/Portability")
