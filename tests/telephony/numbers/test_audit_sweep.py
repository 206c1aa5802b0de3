"""The audit's sweep over every account (issue 25): listings kept per account, progress on
the Number audit page beside the last complete result, and a sweep interrupted part way
through goes on where it stopped instead of listing every account again."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinics.models import Clinic
from telephony import fleet, twilio_service
from telephony.models import AccountAudit, AuditRun
from telephony.numbers import audit_runs
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db


def provisioned(name: str) -> Clinic:
    clinic = ClinicFactory(name=name)
    assert twilio_service.provision_clinic_number(clinic.id, "512")["success"] is True
    return Clinic.objects.get(pk=clinic.id)


def number_lists(sandbox) -> list[str]:
    """The accounts whose numbers were listed, one entry per list call."""
    return [
        r["path"].split("/")[3]
        for r in sandbox.requests()
        if r["method"] == "GET" and r["path"].endswith("/IncomingPhoneNumbers.json")
    ]


class WorkerKilled(BaseException):
    """What a killed worker looks like from inside the sweep: it stops between two batches."""


def test_an_interrupted_sweep_resumes_where_it_stopped_and_the_page_shows_its_progress(
    sandbox, settings, monkeypatch, admin_client, django_capture_on_commit_callbacks
):
    settings.FLEET_AUDIT_BATCH = 2
    clinics = [provisioned(f"Sweep Dental {i}") for i in range(4)]  # 5 accounts with the main one
    previous = AuditRun.objects.create(status=AuditRun.Status.DONE, progress="Checked 4 numbers.", result={"findings": []})
    run = AuditRun.objects.create(progress="Queued…")
    real_fan_out, batches = fleet.accounts_fan_out, []

    def killed_after_two_batches(jobs, **kwargs):
        if len(batches) == 2:
            raise WorkerKilled
        batches.append(list(jobs))
        return real_fan_out(jobs, **kwargs)

    monkeypatch.setattr(fleet, "accounts_fan_out", killed_after_two_batches)
    sandbox._call("DELETE", "requests")
    with pytest.raises(WorkerKilled):
        audit_runs.audit_run_execute(audit_run_id=run.id)

    run.refresh_from_db()
    assert (run.status, run.accounts_done, run.accounts_total) == (AuditRun.Status.RUNNING, 4, 5)
    assert run.progress == "Listed 4 of 5 accounts…"
    page = admin_client.get(reverse("admin:telephony_auditrun_changelist")).content.decode()
    assert "Listed 4 of 5 accounts" in page and "the last complete audit" in page and "Checked 4 numbers." in page
    listed_first = set(number_lists(sandbox))
    assert len(listed_first) == 4

    monkeypatch.setattr(fleet, "accounts_fan_out", real_fan_out)
    sandbox._call("DELETE", "requests")
    with django_capture_on_commit_callbacks(execute=True):
        assert audit_runs.audit_run_request(requested_by=None) == run  # resumed, not started again

    run.refresh_from_db()
    assert run.status == AuditRun.Status.DONE and run.accounts_done == 5
    (listed_again,) = number_lists(sandbox)  # only the account the killed run had not listed
    assert listed_again not in listed_first
    assert run.result["numbers_checked"] == 4
    assert not [f for f in run.result["findings"] if f.get("sid")]  # nothing about the numbers: all listed
    assert AccountAudit.objects.filter(sweep=run).count() == 5
    assert {c.twilio_account_sid for c in clinics} <= set(AccountAudit.objects.values_list("account_sid", flat=True))
    assert previous != audit_runs.audit_run_last_complete() == run


def test_the_sweeps_queries_do_not_grow_with_the_clinics(
    sandbox, settings, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    settings.FLEET_AUDIT_BATCH = 100
    for i in range(2):
        provisioned(f"Small Dental {i}")
    with django_assert_max_num_queries(30) as small, django_capture_on_commit_callbacks(execute=True):
        audit_runs.audit_run_request(requested_by=None)
    for i in range(6):
        provisioned(f"Big Dental {i}")
    with django_assert_max_num_queries(30) as big, django_capture_on_commit_callbacks(execute=True):
        audit_runs.audit_run_request(requested_by=None)

    assert len(big.captured_queries) == len(small.captured_queries)
    assert AuditRun.objects.first().result["numbers_checked"] == 8
