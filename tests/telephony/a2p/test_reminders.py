"""Outbound appointment reminders through the Messages API."""

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clinics.models import Appointment, Patient
from telephony import tasks
from telephony.models import CallLog, MessageLog
from telephony.numbers import provisioning
from telephony.sids import sid_is_valid
from tests.factories import ClinicFactory

# Real commits: provisioning is enqueued with transaction.on_commit.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def appointment(sandbox):
    clinic = ClinicFactory(name="Austin Dental")
    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")
    patient = Patient.objects.create(clinic=clinic, name="Pat", phone="+15125550999")
    return Appointment.objects.create(clinic=clinic, patient=patient, starts_at=timezone.now() + dt.timedelta(days=1))


def test_reminder_is_sent_from_the_clinic_number_with_status_callback(appointment, sandbox, expected_webhooks):
    tasks.send_appointment_reminder.delay(appointment.id)

    (sent,) = sandbox.api_requests("POST", "Messages.json")
    clinic = appointment.clinic
    clinic.refresh_from_db()
    assert sent["form"]["From"] == clinic.twilio_number
    assert sent["form"]["To"] == "+15125550999"
    assert sent["form"]["StatusCallback"] == expected_webhooks["status_callback"]
    body = sent["form"]["Body"]
    assert "Reply C to confirm, R to reschedule" in body
    assert "CANCEL" not in body.upper()
    log = MessageLog.objects.get(direction=MessageLog.Direction.OUTBOUND)
    assert (log.appointment, log.status) == (appointment, "queued")
    appointment.refresh_from_db()
    assert appointment.reminder_sent_at is not None


def test_opted_out_patients_are_skipped(appointment, sandbox):
    Patient.objects.filter(pk=appointment.patient_id).update(sms_opted_out=True)

    result = tasks.send_appointment_reminder.delay(appointment.id).get()

    assert "opted out" in result["skipped"]
    assert sandbox.api_requests("POST", "Messages.json") == []


def test_unsubscribed_at_the_carrier_marks_the_patient_opted_out(appointment, sandbox):
    sandbox.unsubscribe(["+15125550999"])

    tasks.send_appointment_reminder.delay(appointment.id)

    appointment.patient.refresh_from_db()
    assert appointment.patient.sms_opted_out
    assert len(sandbox.api_requests("POST", "Messages.json")) == 1  # 21610 is not retried


def test_admin_action_queues_reminders_and_skips_opted_out(admin_client, appointment, sandbox):
    other = Patient.objects.create(clinic=appointment.clinic, name="Opted", phone="+15125550888", sms_opted_out=True)
    skipped = Appointment.objects.create(clinic=appointment.clinic, patient=other, starts_at=appointment.starts_at)

    response = admin_client.post(
        reverse("admin:clinics_appointment_changelist"),
        {"action": "send_reminders", ACTION_CHECKBOX_NAME: [appointment.pk, skipped.pk]},
        follow=True,
    )

    texts = [str(m) for m in response.context["messages"]]
    assert any("opted out" in t for t in texts)
    (sent,) = sandbox.api_requests("POST", "Messages.json")
    assert sent["form"]["To"] == "+15125550999"


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_sign_request_command_prints_a_curl_the_webhook_accepts(client, capsys, settings):
    import shlex

    settings.API_BASE_URL = "http://testserver"
    call_command("twilio_sign_request", "voice", "--to", "+15125550142")
    argv = shlex.split(capsys.readouterr().out)
    header = argv[argv.index("-H") + 1].split(": ", 1)[1]
    data = argv[argv.index("--data") + 1]

    response = client.post(
        "/inbound/voice", data, content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=header
    )

    assert response.status_code == 200
    assert b"not in service" in response.content


def _signed_curl(capsys, *args):
    import shlex
    from urllib.parse import parse_qs

    call_command("twilio_sign_request", *args)
    argv = shlex.split(capsys.readouterr().out)
    header = argv[argv.index("-H") + 1].split(": ", 1)[1]
    data = argv[argv.index("--data") + 1]
    return header, data, {key: values[0] for key, values in parse_qs(data).items()}


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_sign_request_makes_a_fresh_sid_each_run_unless_given(client, capsys, settings):
    settings.API_BASE_URL = "http://testserver"
    first = _signed_curl(capsys, "voice", "--to", "+15125550142")[2]["CallSid"]
    second = _signed_curl(capsys, "voice", "--to", "+15125550142")[2]["CallSid"]
    sms_one = _signed_curl(capsys, "sms", "--to", "+15125550142")[2]["MessageSid"]
    sms_two = _signed_curl(capsys, "sms", "--to", "+15125550142")[2]["MessageSid"]
    given = _signed_curl(capsys, "voice", "CallSid=CA" + "1" * 32)[2]["CallSid"]

    assert first != second and sms_one != sms_two
    assert all(sid_is_valid(sid, prefix="CA") for sid in (first, second))
    assert all(sid_is_valid(sid, prefix="SM") for sid in (sms_one, sms_two))
    assert given == "CA" + "1" * 32

    # Two runs are two calls, not a retry of one: both are logged.
    for _ in range(2):
        header, data, _form = _signed_curl(capsys, "voice", "--to", "+15125550142")
        response = client.post(
            "/inbound/voice", data, content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=header
        )
        assert response.status_code == 200
    assert CallLog.objects.count() == 2


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_sign_request_signs_a_stream_callback_the_webhook_accepts(client, capsys, settings):
    settings.API_BASE_URL = "http://testserver"
    header, data, form = _signed_curl(capsys, "stream", "StreamEvent=stream-stopped")

    response = client.post(
        "/twilio/stream-status", data, content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=header
    )

    assert response.status_code == 204
    assert CallLog.objects.get(call_sid=form["CallSid"]).stream_status == "stream-stopped"
