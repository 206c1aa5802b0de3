"""Beat's retention run (telephony.retention.redaction): texts and calls past MESSAGE_RETENTION_DAYS
redacted here and at the sandbox Twilio, 20009 asked again later, idempotent, counted, in the
doctor and on the clinic's page."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from telephony import twilio
from telephony.models import CallLog, MessageLog
from telephony.numbers.doctor import retention_findings
from telephony.retention.redaction import retention_run
from tests.factories import ClinicFactory
from twilio_sandbox import SANDBOX_ACCOUNT_SID

pytestmark = pytest.mark.django_db

CLINIC_NUMBER, PATIENT = "+15125550100", "+15125554567"


def sent_text(sandbox, body: str, *, status: str) -> str:
    """A text the sandbox Twilio holds (sent from the clinic's number), moved on to `status`."""
    sid = twilio.message_send(from_number=CLINIC_NUMBER, to_number=PATIENT, body=body, status_callback="https://x.test/s").sid
    if status != "queued":
        sandbox._call("POST", "message-status", {"sid": sid, "status": status})
    return sid


def recorded_call(sandbox, *, in_progress: bool = False) -> str:
    return sandbox._call("POST", "calls", {"account_sid": SANDBOX_ACCOUNT_SID, "count": 1, "in_progress": in_progress})["sids"][0]


def message(clinic, sid: str, *, at: datetime.datetime) -> MessageLog:
    return MessageLog.objects.create(
        message_sid=sid,
        clinic=clinic,
        from_number=PATIENT,
        to_number=CLINIC_NUMBER,
        body="my tooth hurts",
        reply="Call us",
        created_at=at,
    )


def test_run_redacts_what_is_past_retention_here_and_at_twilio_and_retries_what_is_not_final(sandbox, settings):
    settings.MESSAGE_RETENTION_DAYS = 90
    sandbox.seed_numbers([{"phone_number": CLINIC_NUMBER}])
    clinic = ClinicFactory()
    now = timezone.now()
    cutoff = now - datetime.timedelta(days=90)
    delivered = message(
        clinic, sent_text(sandbox, "my tooth hurts", status="delivered"), at=cutoff - datetime.timedelta(seconds=1)
    )
    queued_sid = sent_text(sandbox, "still sending", status="queued")
    queued = message(clinic, queued_sid, at=cutoff - datetime.timedelta(days=3))
    boundary = message(clinic, "SM" + "b" * 32, at=cutoff)  # exactly 90 days old: kept
    call = CallLog.objects.create(
        call_sid=recorded_call(sandbox),
        clinic=clinic,
        from_number=PATIENT,
        to_number=CLINIC_NUMBER,
        direction="inbound",
        created_at=cutoff - datetime.timedelta(days=1),
    )
    busy = CallLog.objects.create(
        call_sid=recorded_call(sandbox, in_progress=True),
        clinic=clinic,
        from_number=CLINIC_NUMBER,
        to_number=PATIENT,
        direction="outbound-api",
        created_at=cutoff - datetime.timedelta(days=1),
    )

    first = retention_run(now=now)

    assert (first.messages_redacted, first.calls_redacted) == (2, 2)
    assert (first.twilio_redacted, first.twilio_waiting, first.twilio_failed) == (2, 2, 0)
    for row in (delivered, queued):
        row.refresh_from_db()
        assert (row.body, row.reply, row.redacted_at) == ("", "", now)
    boundary.refresh_from_db()
    assert (boundary.body, boundary.redacted_at) == ("my tooth hurts", None)
    call.refresh_from_db()
    busy.refresh_from_db()
    assert (call.from_number, call.to_number) == ("…4567", CLINIC_NUMBER)
    assert (busy.from_number, busy.to_number) == (CLINIC_NUMBER, "…4567")
    # At Twilio: the delivered text's body is empty, the finished call record is gone.
    held = {m["sid"]: m for m in sandbox._call("GET", "state")["messages"]}
    assert held[delivered.message_sid]["body"] == ""
    assert held[queued_sid]["body"] == "still sending"
    redactions = sandbox.api_requests("POST", f"/Messages/{delivered.message_sid}")
    assert [r["form"] for r in redactions] == [{"Body": ""}]
    assert len(sandbox.api_requests("DELETE", f"/Calls/{call.call_sid}")) == 1
    delivered.refresh_from_db()
    queued.refresh_from_db()
    assert delivered.twilio_redacted_at == now and queued.twilio_redacted_at is None
    assert "20009" in queued.twilio_redaction_error

    later = now + datetime.timedelta(hours=1)
    again = retention_run(now=later)  # only the boundary text is new; Twilio asked again about the two not final

    assert (again.messages_redacted, again.calls_redacted, again.twilio_redacted, again.twilio_waiting) == (1, 0, 1, 2)

    sandbox._call("POST", "message-status", {"sid": queued_sid, "status": "delivered"})
    third = retention_run(now=later + datetime.timedelta(hours=1))

    assert (third.twilio_redacted, third.twilio_waiting) == (1, 1)
    queued.refresh_from_db()
    assert queued.twilio_redacted_at is not None and queued.twilio_redaction_error == ""
    assert {m["sid"]: m for m in sandbox._call("GET", "state")["messages"]}[queued_sid]["body"] == ""


def test_a_run_is_bounded_by_its_batch(sandbox):
    clinic = ClinicFactory()
    old = timezone.now() - datetime.timedelta(days=400)
    for i in range(3):
        message(clinic, f"SM{i:032x}", at=old)

    run = retention_run(batch=2)

    assert run.messages_redacted == 2
    assert MessageLog.objects.filter(redacted_at__isnull=True).count() == 1
    # Unknown to Twilio (20404): nothing left there to redact, so done.
    assert run.twilio_redacted == 2


def test_doctor_reports_the_backlog_until_a_run_clears_it(sandbox):
    clinic = ClinicFactory()
    message(clinic, "SM" + "c" * 32, at=timezone.now() - datetime.timedelta(days=200))

    found = retention_findings()

    assert [f.code for f in found] == ["retention_backlog"]
    assert "1 text(s) or call(s)" in found[0].message
    retention_run()
    assert retention_findings() == []


def test_clinic_page_says_what_was_redacted_in_one_line(sandbox, admin_client):
    clinic = ClinicFactory()
    url = reverse("admin:clinics_clinic_change", args=[clinic.pk])
    assert "Nothing redacted yet: texts and callers&#x27; numbers are kept 90 days" in admin_client.get(url).content.decode()
    message(clinic, "SM" + "d" * 32, at=timezone.now() - datetime.timedelta(days=120))
    retention_run()

    page = admin_client.get(url).content.decode()

    assert "1 text(s) and 0 call(s) redacted (everything up to" in page
    assert "at Twilio too: 1 text(s) and 0 call(s)" in page
