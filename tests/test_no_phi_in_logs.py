"""Issue 24, "No PHI in logs": every webhook (and its error paths), the tasks and the admin
pages that touch patients run with all log output captured at DEBUG (the root logger and
every other, the twilio SDK's and Django's request logging included), through the handlers
settings.LOGGING configures; no patient's phone number, in any format, and no message body
may appear in it. The masking filter itself is tested in tests/test_log_masking.py."""

import datetime as dt
import io
import logging
import re
from collections.abc import Iterator

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinics.models import Appointment, NumberState, Patient
from dentsignal.log_masking import MaskPhoneNumbers
from telephony import tasks
from telephony.models import CallLog, MessageLog
from telephony.webhooks import replies
from tests.factories import ClinicFactory
from tests.telephony.webhooks.twilio_requests import signed_post

# Real commits: the admin's reminder action sends its task on commit.
pytestmark = pytest.mark.django_db(transaction=True)

CLINIC_NUMBER, OFFICE, UNKNOWN_CLINIC = "+15125550142", "+15125550100", "+17375550100"
PATIENT, OTHER_PATIENT, UNSUBSCRIBED = "+15125550999", "+14155550123", "+12145550177"
PATIENTS = (PATIENT, OTHER_PATIENT, UNSUBSCRIBED)
PATIENT_NAME = "Rosalind Quist"
BODY = "Can I move my crown fitting to Friday? Dr Alvarez said it is fine"
FALLBACK_BODY = "Running late for my cleaning, so sorry about that"
VOICE, SMS, STATUS, STREAM = "/inbound/voice", "/api/sms/inbound", "/twilio/status", "/twilio/stream-status"
VOICE_FALLBACK, SMS_FALLBACK = "/inbound/voice/fallback", "/api/sms/inbound/fallback"
CALL_SID, SMS_SID, FALLBACK_SMS_SID = "CA" + "a" * 32, "SM" + "b" * 32, "SM" + "c" * 32


def phone_pattern(e164: str) -> re.Pattern[str]:
    """A US number however it is written: +15125550999, 5125550999, (512) 555-0999,
    512.555.0999, %2B15125550999; a masked ***0999 does not match."""
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return re.compile(rf"{area}\D{{0,2}}{exchange}\D{{0,2}}{line}")


def leaks(text: str, *, bodies: list[str]) -> list[str]:
    """The patient data found in `text`: numbers (any format), bodies, the patient's name."""
    found = [number for number in PATIENTS if phone_pattern(number).search(text)]
    return found + [body for body in [*bodies, PATIENT_NAME] if body and body in text]


def _project_handlers() -> list[logging.Handler]:
    """Every handler on any logger that writes somewhere, but pytest's own capture handlers."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    handlers = {id(h): h for logger in loggers for h in getattr(logger, "handlers", [])}
    return [
        h for h in handlers.values() if not type(h).__module__.startswith("_pytest") and not isinstance(h, logging.NullHandler)
    ]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything the configured handlers write, with every logger at DEBUG."""
    handlers = _project_handlers()
    assert handlers, "settings.LOGGING configures no handler"
    buffer = io.StringIO()
    streams = [(h, h.setStream(buffer)) for h in handlers if isinstance(h, logging.StreamHandler)]
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    levels = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    try:
        yield buffer
    finally:
        for logger, level, disabled in levels:
            logger.setLevel(level)
            logger.disabled = disabled
        for handler, stream in streams:
            handler.setStream(stream)


def test_every_handler_masks_phone_numbers():
    """Django's default handlers (a console without the filter, mail_admins) are replaced."""
    handlers = _project_handlers()
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, MaskPhoneNumbers) for f in handler.filters), handler
    assert not logging.getLogger("django").handlers and logging.getLogger("django").propagate


def _booked_clinic(sandbox):
    [sid] = sandbox.seed_numbers([{"phone_number": CLINIC_NUMBER}])
    clinic = ClinicFactory(
        name="Austin Dental",
        office_phone=OFFICE,
        twilio_number=CLINIC_NUMBER,
        twilio_number_sid=sid,
        number_state=NumberState.ACTIVE,
    )
    patient = Patient.objects.create(clinic=clinic, name=PATIENT_NAME, phone=PATIENT)
    starts = timezone.now() + dt.timedelta(days=1)
    appointment = Appointment.objects.create(clinic=clinic, patient=patient, starts_at=starts)
    unsubscribed = Patient.objects.create(clinic=clinic, name=PATIENT_NAME, phone=UNSUBSCRIBED)
    other = Appointment.objects.create(clinic=clinic, patient=unsubscribed, starts_at=starts)
    sandbox.unsubscribe([UNSUBSCRIBED])
    return clinic, appointment, other


def _sms(body, sid=SMS_SID, to=CLINIC_NUMBER, sender=PATIENT):
    return {"MessageSid": sid, "From": sender, "To": to, "Body": body, "AccountSid": "AC" + "0" * 32}


def _call(to=CLINIC_NUMBER, sender=PATIENT, status="ringing"):
    return {"CallSid": CALL_SID, "From": sender, "To": to, "CallStatus": status}


def test_no_patient_number_or_body_in_any_log_line(client, admin_client, sandbox, database_down, monkeypatch, log_output):
    clinic, appointment, unsubscribed = _booked_clinic(sandbox)
    answers: list[bytes] = []

    # The webhooks, and their error paths.
    answers.append(signed_post(client, VOICE, _call()).content)
    answers.append(signed_post(client, VOICE, _call(to=UNKNOWN_CLINIC)).content)
    assert client.post(VOICE, _call(), HTTP_X_TWILIO_SIGNATURE="forged").status_code == 403
    answers.append(signed_post(client, SMS, _sms(BODY)).content)
    answers.append(signed_post(client, SMS, _sms(BODY)).content)  # Twilio's retry
    answers.append(signed_post(client, SMS, _sms(BODY, sid="SM" + "d" * 32, to=UNKNOWN_CLINIC)).content)
    assert signed_post(client, SMS, {**_sms(BODY), "MessageSid": "not-a-sid"}).status_code == 400
    assert client.post(SMS, _sms(BODY), HTTP_X_TWILIO_SIGNATURE="forged").status_code == 403
    signed_post(client, STATUS, {**_call(status="completed"), "CallDuration": "42"})
    signed_post(client, STATUS, {"MessageSid": "SM" + "e" * 32, "MessageStatus": "delivered", "To": PATIENT})
    assert signed_post(client, STATUS, {"From": PATIENT, "To": CLINIC_NUMBER}).status_code == 400
    signed_post(client, STREAM, {"CallSid": CALL_SID, "StreamEvent": "stream-error", "StreamError": f"caller {PATIENT} hung up"})
    answers.append(signed_post(client, VOICE_FALLBACK, _call()).content)
    with database_down:
        answers.append(signed_post(client, VOICE, _call(sender=OTHER_PATIENT)).content)
        assert signed_post(client, SMS, _sms(FALLBACK_BODY, sid=FALLBACK_SMS_SID)).status_code == 503
        answers.append(signed_post(client, SMS_FALLBACK, _sms(FALLBACK_BODY, sid=FALLBACK_SMS_SID)).content)
        answers.append(signed_post(client, VOICE_FALLBACK, _call(sender=OTHER_PATIENT)).content)
    assert signed_post(client, SMS_FALLBACK, {"From": PATIENT, "Body": FALLBACK_BODY}).status_code == 400

    # A webhook that fails unexpectedly: Django logs the 500 (django.request) with its traceback.
    def fails(*, from_number, **kwargs):
        raise ValueError(f"could not process the text from {from_number}")

    monkeypatch.setattr(replies, "sms_reply_process", fails)
    unraised = Client(raise_request_exception=False)
    assert signed_post(unraised, SMS, _sms(BODY, sid="SM" + "f" * 32)).status_code == 500
    monkeypatch.undo()

    # The tasks: the fallback's replay, the office-line cache, reminders (one refused by the carrier).
    assert tasks.replay_fallback_sms.delay().get() == 1
    tasks.refresh_office_lines.delay().get()
    response = admin_client.post(
        reverse("admin:clinics_appointment_changelist"),
        {"action": "send_reminders", ACTION_CHECKBOX_NAME: [appointment.pk, unsubscribed.pk]},
        follow=True,
    )
    assert response.status_code == 200
    for reminder in MessageLog.objects.filter(direction=MessageLog.Direction.OUTBOUND):
        signed_post(client, STATUS, {"MessageSid": reminder.message_sid, "MessageStatus": "delivered", "To": reminder.to_number})
    sent = [request["form"]["Body"] for request in sandbox.api_requests("POST", "Messages.json")]

    # The admin pages that show patients, texts and calls.
    pages = [
        reverse("admin:telephony_messagelog_changelist"),
        reverse("admin:telephony_messagelog_changelist") + "?q=%2B15125550999",
        reverse("admin:telephony_calllog_changelist"),
        reverse("admin:clinics_patient_changelist") + "?q=512-555-0999",
        reverse("admin:clinics_appointment_changelist"),
        reverse("admin:clinics_clinic_change", args=[clinic.pk]),
        reverse("admin:clinics_patient_change", args=[appointment.patient_id]),
        *(reverse("admin:telephony_messagelog_change", args=[pk]) for pk in MessageLog.objects.values_list("pk", flat=True)),
        *(reverse("admin:telephony_calllog_change", args=[pk]) for pk in CallLog.objects.values_list("pk", flat=True)),
    ]
    shown = [admin_client.get(page) for page in pages]

    # The flows did what they do (else the log would prove nothing)...
    assert all(page.status_code == 200 for page in shown), [(p, r.status_code) for p, r in zip(pages, shown, strict=True)]
    assert BODY in "".join(page.content.decode() for page in shown)
    assert FALLBACK_BODY in {m.body for m in MessageLog.objects.all()} and sent  # sealed: compared opened, not in SQL
    output = log_output.getvalue()
    for logger_name in ("twilio.http_client", "django.request", "telephony.webhooks", "twilio_sandbox"):
        assert f" {logger_name}" in output, f"nothing logged by {logger_name}"
    assert "Internal Server Error: /api/sms/inbound" in output
    # ...and no patient's number, name, text or our reply to it is in the log...
    replied = re.findall(r"<Message>(.*?)</Message>", b"".join(answers).decode())
    assert leaks(output, bodies=[BODY, FALLBACK_BODY, *sent, *replied]) == []
    # ...where the numbers were logged, masked (the 500's traceback names the patient's).
    assert "from ***0999" in output
