"""A clinic's own audit right after a change of its number or account (issue 25): its account
alone is listed again and the Number audit page's last complete result is brought up to date
for it, without a sweep over every account."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from clinics.models import Clinic
from telephony import twilio, twilio_service
from telephony.models import AccountAudit, AuditRun
from telephony.numbers import audit_runs, clinic_audit, release
from telephony.webhook_urls import webhook_params
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db


def provisioned(name: str, capture) -> Clinic:
    clinic = ClinicFactory(name=name)
    with capture(execute=True):
        assert twilio_service.provision_clinic_number(clinic.id, "512")["success"] is True
    return Clinic.objects.get(pk=clinic.id)


def swept(capture) -> AuditRun:
    with capture(execute=True):
        audit_runs.audit_run_request(requested_by=None)
    run = AuditRun.objects.get()
    assert run.status == AuditRun.Status.DONE
    return run


def listed_accounts(sandbox) -> list[str]:
    """The accounts whose numbers were listed, one entry per list call."""
    return [r["path"].split("/")[3] for r in sandbox.api_requests("GET", "/IncomingPhoneNumbers.json")]


def page(admin_client) -> str:
    return admin_client.get(reverse("admin:telephony_auditrun_changelist")).content.decode()


def test_after_a_purchase_and_a_release_the_page_is_current_without_a_sweep(
    sandbox, admin_client, django_capture_on_commit_callbacks
):
    first = provisioned("First Dental", django_capture_on_commit_callbacks)
    swept(django_capture_on_commit_callbacks)
    sandbox._call("DELETE", "requests")

    started = time.monotonic()
    second = provisioned("Second Dental", django_capture_on_commit_callbacks)
    took = time.monotonic() - started

    # Only the new clinic's account was listed again: no sweep, no list of every subaccount.
    assert listed_accounts(sandbox) == [second.twilio_account_sid]
    assert not [r for r in sandbox.api_requests("GET") if r["path"].endswith("/Accounts.json")]
    assert took < 2.0
    run = AuditRun.objects.get()  # still the one run: its result was brought up to date
    assert run.result["numbers_per_account"][second.twilio_account_sid] == 1 and run.result["numbers_checked"] == 2
    assert AccountAudit.objects.get(account_sid=second.twilio_account_sid).sweep_id is None
    html = page(admin_client)
    assert "All good (2)" in html and "Second Dental" in html and "First Dental" in html

    with django_capture_on_commit_callbacks(execute=True):
        release.number_release_run(phone_sid=second.twilio_number_sid, clinic_id=second.id)

    run.refresh_from_db()
    assert run.result["numbers_per_account"][second.twilio_account_sid] == 0
    assert [row["sid"] for row in run.result["all_good"]] == [first.twilio_number_sid]
    assert not [f for f in run.result["findings"] if f.get("sid")]
    assert "All good (1)" in page(admin_client)


def test_drift_set_after_the_change_is_found_by_the_next_clinic_audit_and_not_taken_as_fixed(
    sandbox, admin_client, django_capture_on_commit_callbacks
):
    clinic = provisioned("Drifting Dental", django_capture_on_commit_callbacks)
    other = provisioned("Steady Dental", django_capture_on_commit_callbacks)
    swept(django_capture_on_commit_callbacks)
    # Staff reset the number's webhooks (a history event after the sweep): its audit runs again.
    with django_capture_on_commit_callbacks(execute=True):
        twilio_service.update_number_webhooks(clinic.twilio_number_sid)
    # Then someone points its SMS URL at another tool in the Console.
    drifted = {**webhook_params(), "sms_url": "https://crm.example.com/sms"}
    twilio.incoming_number_update(clinic.twilio_number_sid, webhook_fields=drifted, account_sid=clinic.twilio_account_sid)
    sandbox._call("DELETE", "requests")

    assert clinic_audit.clinic_audit_run(clinic_id=clinic.id) is True

    assert listed_accounts(sandbox) == [clinic.twilio_account_sid]
    run = AuditRun.objects.get()
    (finding,) = [f for f in audit_runs.audit_findings_now(run=run) if f["sid"]]  # beside the configuration's
    assert finding["code"] == "webhook_drift" and finding["sid"] == clinic.twilio_number_sid
    assert finding["details"]["found"] == "https://crm.example.com/sms"
    assert finding["resolved"] == ""  # the reset came before this finding: it did not fix it
    assert [row["sid"] for row in run.result["all_good"]] == [other.twilio_number_sid]
    html = page(admin_client)
    assert "https://crm.example.com/sms" in html and "All good (1)" in html


def test_an_audit_that_began_before_a_newer_listing_leaves_the_newer_one(sandbox, django_capture_on_commit_callbacks):
    clinic = provisioned("Raced Dental", django_capture_on_commit_callbacks)
    run = swept(django_capture_on_commit_callbacks)
    kept = AccountAudit.objects.get(account_sid=clinic.twilio_account_sid)
    AccountAudit.objects.filter(pk=kept.pk).update(listed_at=kept.listed_at.replace(year=kept.listed_at.year + 1))
    twilio.incoming_number_update(
        clinic.twilio_number_sid,
        webhook_fields={**webhook_params(), "voice_url": "https://old.example.net/v"},
        account_sid=clinic.twilio_account_sid,
    )

    assert clinic_audit.clinic_audit_run(clinic_id=clinic.id) is False

    run.refresh_from_db()
    assert not [f for f in run.result["findings"] if f.get("sid")]


def test_before_any_audit_has_completed_a_change_lists_nothing(sandbox, django_capture_on_commit_callbacks):
    provisioned("Early Dental", django_capture_on_commit_callbacks)

    assert listed_accounts(sandbox) == [] and not AccountAudit.objects.exists()


def test_a_finding_fixed_outside_dentsignal_shows_no_longer_found(sandbox, django_capture_on_commit_callbacks):
    clinic = provisioned("Console Dental", django_capture_on_commit_callbacks)
    twilio.incoming_number_update(
        clinic.twilio_number_sid,
        webhook_fields={**webhook_params(), "voice_url": "https://old.example.net/v"},
        account_sid=clinic.twilio_account_sid,
    )
    run = swept(django_capture_on_commit_callbacks)
    # Someone puts it right in the Console: no repair of ours, no history event.
    twilio.incoming_number_update(
        clinic.twilio_number_sid, webhook_fields=webhook_params(), account_sid=clinic.twilio_account_sid
    )

    clinic_audit.clinic_audit_run(clinic_id=clinic.id)

    (finding,) = [f for f in audit_runs.audit_findings_now(run=AuditRun.objects.get(pk=run.pk)) if f["sid"]]
    assert finding["code"] == "webhook_drift" and finding["resolved"].startswith("No longer found at ")
    assert [row["sid"] for row in AuditRun.objects.get(pk=run.pk).result["all_good"]] == [clinic.twilio_number_sid]
