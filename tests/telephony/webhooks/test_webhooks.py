"""The three Twilio webhooks, called with requests signed the way Twilio signs them."""

import datetime as dt

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from twilio.request_validator import RequestValidator

from clinics.models import Appointment, AppointmentStatus, ChecklistItem, Clinic, NumberState, OnboardingStep, Patient
from telephony.models import CallLog, MessageLog
from telephony.statuses import call_status_rank
from telephony.webhooks.views import TROUBLE_MESSAGE
from tests.conftest import PUBLIC_BASE_URL
from tests.telephony.webhooks.twilio_requests import (
    CLINIC_NUMBER,
    OTHER_NUMBER,
    PATIENT,
    SMS,
    STATUS,
    VOICE,
    active_clinic,
    call_params,
    signed_post,
    twiml,
)

# embedded: the hot path compiles its SQL per database vendor (telephony/webhooks/hot_path.py),
# so these run on SQLite too (scripts/test).
pytestmark = [pytest.mark.django_db, pytest.mark.no_sandbox, pytest.mark.embedded]

# ------------------------------------------------------------------- security


@pytest.mark.parametrize("path", [VOICE, SMS, STATUS])
def test_unsigned_and_forged_requests_are_refused_and_write_nothing(client, path):
    active_clinic()
    params = {**call_params(), "MessageSid": "SM" + "b" * 32, "MessageStatus": "sent", "Body": "C"}

    unsigned = client.post(path, params)
    forged = client.post(path, params, HTTP_X_TWILIO_SIGNATURE="bm90IGEgc2lnbmF0dXJl")
    not_ascii = client.post(path, params, HTTP_X_TWILIO_SIGNATURE="sïgnätüre=")
    wrong_token = signed_post(client, path, params, token="another-accounts-token-000000000")
    internal_url = signed_post(client, path, params, url="http://testserver" + path)
    tampered = client.post(
        path,
        {**params, "Body": "STOP"},
        HTTP_X_TWILIO_SIGNATURE=RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params),
    )

    for response in (unsigned, forged, not_ascii, wrong_token, internal_url, tampered):
        assert response.status_code == 403
    assert CallLog.objects.count() == 0 and MessageLog.objects.count() == 0


@pytest.mark.parametrize("path", [VOICE, SMS, STATUS])
def test_only_post_is_allowed(client, path):
    assert client.get(path).status_code == 405
    assert client.put(path).status_code == 405


def test_signature_covers_the_query_string(client):
    active_clinic()
    params = call_params()

    ok = signed_post(client, VOICE + "?attempt=1", params, url=PUBLIC_BASE_URL + VOICE + "?attempt=1")
    wrong = signed_post(client, VOICE + "?attempt=1", params, url=PUBLIC_BASE_URL + VOICE)

    assert ok.status_code == 200 and wrong.status_code == 403


def test_a_signature_over_the_url_with_its_default_port_is_accepted(client):
    # Some of Twilio's back ends sign https://host:443/path; the SDK's full check accepts both.
    active_clinic()
    scheme, rest = PUBLIC_BASE_URL.split("://")
    port = ":443" if scheme == "https" else ":80"

    response = signed_post(client, VOICE, call_params(), url=f"{scheme}://{rest}{port}{VOICE}")

    assert response.status_code == 200 and CallLog.objects.count() == 1


def test_unknown_new_parameters_do_not_break_validation(client):
    active_clinic()
    params = {**call_params(), "StirVerstat": "TN-Validation-Passed-A", "SomeFutureParam": "x"}

    assert signed_post(client, VOICE, params).status_code == 200


# ------------------------------------------------------------------- voice


def test_active_clinic_call_is_handed_to_the_ai_agent(client, settings):
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"
    clinic = active_clinic(name="Austin Dental")

    root = twiml(signed_post(client, VOICE, call_params()))

    (connect,) = list(root)
    assert connect.tag == "Connect"
    (stream,) = list(connect)
    assert stream.tag == "Stream" and stream.get("url") == "wss://agent.example.com/stream"
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert parameters == {
        "clinic_id": str(clinic.id),
        "clinic_name": "Austin Dental",
        "caller": PATIENT,
        "call_sid": "CA" + "a" * 32,
    }


def test_conversation_relay_can_be_chosen(client, settings):
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/relay"
    settings.AI_AGENT_MODE = "conversation_relay"
    active_clinic()

    root = twiml(signed_post(client, VOICE, call_params()))

    relay = root.find("Connect/ConversationRelay")
    assert relay is not None and relay.get("url") == "wss://agent.example.com/relay"
    assert {p.get("name") for p in relay.findall("Parameter")} >= {"clinic_id", "clinic_name", "caller", "call_sid"}


def test_without_agent_url_the_call_rings_the_office(client, settings):
    settings.AI_AGENT_STREAM_URL = ""
    active_clinic(office_phone="+15125550100")

    root = twiml(signed_post(client, VOICE, call_params()))

    (dial,) = list(root)
    assert dial.tag == "Dial" and dial.text == "+15125550100"


def test_fallback_never_dials_the_clinics_own_twilio_number(client, settings):
    settings.AI_AGENT_STREAM_URL = ""
    active_clinic(office_phone=CLINIC_NUMBER, name="Loop Dental")

    root = twiml(signed_post(client, VOICE, call_params()))

    assert [child.tag for child in root] == ["Say"]


def test_inactive_clinic_without_office_line_hears_a_message(client, settings):
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"
    clinic = active_clinic(office_phone="", name="Quiet Dental")
    clinic.number_state = NumberState.RELEASING
    clinic.save()

    root = twiml(signed_post(client, VOICE, call_params()))

    (say,) = list(root)
    assert say.tag == "Say" and "Quiet Dental" in say.text


def test_unknown_number_gets_a_polite_message_and_hang_up(client):
    root = twiml(signed_post(client, VOICE, call_params(to="+19995550000")))

    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert "not in service" in root.find("Say").text
    assert CallLog.objects.get().clinic is None


def test_call_is_logged_once_and_leaves_the_checklist_to_the_agent(client):
    # Issue 14: the voice webhook no longer ticks "test inbound call"; the agent's
    # stream-started callback does (tests/telephony/webhooks/test_stream_status.py).
    clinic = active_clinic()

    signed_post(client, VOICE, call_params())
    signed_post(client, VOICE, call_params())  # Twilio retried

    log = CallLog.objects.get()
    assert (log.clinic, log.from_number, log.to_number, log.status) == (clinic, PATIENT, CLINIC_NUMBER, "ringing")
    assert not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.TEST_INBOUND_CALL).exists()


@pytest.mark.django_db(transaction=True)  # real transactions, as in production
def test_a_voice_call_costs_at_most_two_queries(client, settings, django_assert_num_queries):
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"
    active_clinic()
    signed_post(client, VOICE, call_params(sid="CA" + "0" * 32))
    # The agent answered the first call: the checklist step is ticked (the steady state).
    stream = {"CallSid": "CA" + "0" * 32, "StreamEvent": "stream-started", "AccountSid": settings.TWILIO_ACCOUNT_SID}
    assert signed_post(client, "/twilio/stream-status", stream).status_code == 204

    # PostgreSQL: the lookup and the log in one statement; SQLite: one each.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        signed_post(client, VOICE, call_params(sid="CA" + "1" * 32))

    assert CallLog.objects.filter(call_sid="CA" + "1" * 32, clinic__isnull=False).exists()


def test_caller_is_answered_when_the_log_write_fails(client, settings):
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"
    clinic = active_clinic()
    # The log table is gone (rolled back after the test): every write to it fails.
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {CallLog._meta.db_table} RENAME TO calllog_away")

    root = twiml(signed_post(client, VOICE, call_params()))

    assert root.find("Connect/Stream/Parameter[@name='clinic_id']").get("value") == str(clinic.id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM calllog_away")
        assert cursor.fetchone() == (0,)


def test_caller_hears_a_message_when_the_clinic_lookup_fails(client):
    active_clinic()
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {Clinic._meta.db_table} RENAME TO clinics_away")

    root = twiml(signed_post(client, VOICE, call_params()))

    assert [(el.tag, el.text) for el in root] == [("Say", TROUBLE_MESSAGE)]


# ------------------------------------------------------------------- SMS


@pytest.fixture
def booked():
    clinic = active_clinic(name="Austin Dental", office_phone="+15125550100")
    patient = Patient.objects.create(clinic=clinic, name="Pat", phone=PATIENT)
    soon = timezone.now() + dt.timedelta(days=2)
    later = Appointment.objects.create(clinic=clinic, patient=patient, starts_at=soon + dt.timedelta(days=7))
    nxt = Appointment.objects.create(clinic=clinic, patient=patient, starts_at=soon)
    Appointment.objects.create(clinic=clinic, patient=patient, starts_at=timezone.now() - dt.timedelta(days=1))
    return clinic, patient, nxt, later


def sms(client, body, sid="SM" + "c" * 32, to=CLINIC_NUMBER, sender=PATIENT, **headers):
    return signed_post(client, SMS, {"MessageSid": sid, "From": sender, "To": to, "Body": body}, **headers)


def reply_text(response):
    root = twiml(response)
    message = root.find("Message")
    return message.text if message is not None else None


@pytest.mark.parametrize("body", ["C", "c", " confirm! ", "Y", "y.", "CONFIRM"])
def test_confirm_keywords_confirm_the_next_appointment(client, booked, body):
    clinic, patient, nxt, later = booked

    text = reply_text(sms(client, body))

    nxt.refresh_from_db()
    later.refresh_from_db()
    assert nxt.status == AppointmentStatus.CONFIRMED and later.status == AppointmentStatus.SCHEDULED
    local = timezone.localtime(nxt.starts_at)
    assert "confirmed" in text and "Austin Dental" in text and f"{local:%b} {local.day}" in text


@pytest.mark.parametrize("body", ["R", "r", "Reschedule", "RESCHEDULE."])
def test_reschedule_keywords_flag_the_appointment_for_staff(client, booked, body):
    _, _, nxt, _ = booked

    text = reply_text(sms(client, body))

    nxt.refresh_from_db()
    assert nxt.status == AppointmentStatus.RESCHEDULE_REQUESTED and nxt.needs_staff_attention
    assert "will call you" in text


@pytest.mark.parametrize("body", ["STOP", "stop", "StopAll", "UNSUBSCRIBE", "CANCEL", "end", "QUIT", "opt-out", "REVOKE"])
def test_opt_out_keywords_opt_the_patient_out_and_never_cancel(client, booked, body):
    _, patient, nxt, _ = booked

    assert reply_text(sms(client, body)) is None  # Twilio answers opt-outs itself

    patient.refresh_from_db()
    nxt.refresh_from_db()
    assert patient.sms_opted_out and patient.sms_opted_out_at is not None
    assert nxt.status == AppointmentStatus.SCHEDULED


@pytest.mark.parametrize("body", ["START", "unstop", "Yes"])
def test_opt_in_keywords_opt_back_in(client, booked, body):
    _, patient, _, _ = booked
    sms(client, "STOP", sid="SM" + "1" * 32)

    sms(client, body, sid="SM" + "2" * 32)

    patient.refresh_from_db()
    assert not patient.sms_opted_out


@pytest.mark.parametrize("body", ["HELP", "info", "Help?"])
def test_help_replies_with_clinic_name_and_phone(client, booked, body):
    text = reply_text(sms(client, body))

    assert "Austin Dental" in text and "(512) 555-0100" in text


def test_anything_else_goes_to_the_staff_inbox_with_an_acknowledgement(client, booked):
    clinic, patient, nxt, _ = booked

    text = reply_text(sms(client, "Can I bring my daughter too?"))

    assert "got your message" in text
    log = MessageLog.objects.get()
    assert (log.clinic, log.patient, log.needs_reading, log.body) == (clinic, patient, True, "Can I bring my daughter too?")
    nxt.refresh_from_db()
    assert nxt.status == AppointmentStatus.SCHEDULED


def test_duplicate_delivery_changes_nothing_twice_and_gets_the_same_reply(client, booked):
    _, _, nxt, later = booked

    first = reply_text(sms(client, "C", HTTP_I_TWILIO_IDEMPOTENCY_TOKEN="tok-1"))
    nxt.status = AppointmentStatus.SCHEDULED  # staff changed it since
    nxt.save()
    again = reply_text(sms(client, "C", HTTP_I_TWILIO_IDEMPOTENCY_TOKEN="tok-1"))

    assert again == first
    nxt.refresh_from_db()
    assert nxt.status == AppointmentStatus.SCHEDULED
    assert MessageLog.objects.count() == 1


def test_two_clinics_sharing_a_patient_phone_are_kept_apart(client, booked):
    clinic_a, patient_a, nxt_a, _ = booked
    clinic_b = active_clinic(number=OTHER_NUMBER, name="Round Rock Dental")
    patient_b = Patient.objects.create(clinic=clinic_b, name="Pat", phone=PATIENT)
    appt_b = Appointment.objects.create(clinic=clinic_b, patient=patient_b, starts_at=timezone.now() + dt.timedelta(hours=5))

    text = reply_text(sms(client, "C", to=OTHER_NUMBER))

    appt_b.refresh_from_db()
    nxt_a.refresh_from_db()
    assert appt_b.status == AppointmentStatus.CONFIRMED
    assert nxt_a.status == AppointmentStatus.SCHEDULED
    assert "Round Rock Dental" in text

    sms(client, "STOP", sid="SM" + "9" * 32, to=OTHER_NUMBER)
    patient_a.refresh_from_db()
    patient_b.refresh_from_db()
    assert patient_b.sms_opted_out and not patient_a.sms_opted_out


def test_reply_without_an_appointment_says_so(client):
    active_clinic(name="Austin Dental")

    text = reply_text(sms(client, "C"))

    assert "could not find an upcoming appointment" in text


def test_first_sms_ticks_the_checklist(client, booked):
    clinic, *_ = booked

    sms(client, "hello")

    assert ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.TEST_INBOUND_SMS, done_by=None).exists()


# ------------------------------------------------------------------- status callbacks


def status(client, **params):
    response = signed_post(client, STATUS, params)
    assert response.status_code == 204
    return response


def test_message_status_only_moves_forward(client):
    sid = "SM" + "d" * 32
    status(client, MessageSid=sid, MessageStatus="sent")
    status(client, MessageSid=sid, MessageStatus="delivered")
    status(client, MessageSid=sid, MessageStatus="sent")  # late and out of order
    status(client, MessageSid=sid, MessageStatus="delivered")  # duplicate

    log = MessageLog.objects.get(message_sid=sid)
    assert log.status == "delivered"


def test_failed_message_keeps_its_error_code_and_is_final(client):
    sid = "SM" + "e" * 32
    status(client, MessageSid=sid, MessageStatus="undelivered", ErrorCode="30003")
    status(client, MessageSid=sid, MessageStatus="sent")

    log = MessageLog.objects.get(message_sid=sid)
    assert (log.status, log.error_code) == ("undelivered", 30003)


def test_call_status_with_duration_and_sequence(client):
    clinic = active_clinic()
    signed_post(client, VOICE, call_params())
    sid = "CA" + "a" * 32
    status(client, CallSid=sid, CallStatus="in-progress", SequenceNumber="1")
    status(client, CallSid=sid, CallStatus="completed", CallDuration="42", SequenceNumber="3")
    status(client, CallSid=sid, CallStatus="in-progress", SequenceNumber="2")

    log = CallLog.objects.get(call_sid=sid)
    assert (log.status, log.duration_seconds, log.clinic) == ("completed", 42, clinic)


def test_status_for_an_unknown_sid_is_kept(client):
    status(client, CallSid="CA" + "f" * 32, CallStatus="completed", CallDuration="7")

    assert CallLog.objects.get(call_sid="CA" + "f" * 32).status == "completed"


def test_status_without_sids_is_a_400(client):
    assert signed_post(client, STATUS, {"Foo": "bar"}).status_code == 400


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (STATUS, {"CallSid": "CA" + "f" * 32 + "\n", "CallStatus": "completed"}),
        (STATUS, {"MessageSid": "SM" + "f" * 32 + "\n", "MessageStatus": "delivered"}),
        (SMS, {"MessageSid": "SM" + "f" * 32 + "\n", "From": "+15125550123", "To": "+15125550100", "Body": "C"}),
    ],
)
def test_a_sid_with_a_trailing_newline_is_not_a_sid(client, path, params):
    """One definition of a SID (telephony.sids.sid_is_valid, a full match): "CA…\n" is refused
    like any malformed SID, and nothing is logged under it."""
    assert signed_post(client, path, params).status_code == 400
    assert not CallLog.objects.exists() and not MessageLog.objects.exists()


@pytest.fixture
def crowded():
    """Many clinics, patients and appointments, all live (checklist ticked): the steady state."""
    clinics = [active_clinic(number=f"+1512555{1000 + i:04d}", name=f"Crowded {i}") for i in range(30)]
    ChecklistItem.objects.bulk_create(
        [ChecklistItem(clinic=clinic, step=step) for clinic in clinics for step in OnboardingStep.values], ignore_conflicts=True
    )
    patients = Patient.objects.bulk_create(
        [
            Patient(clinic=clinic, name=f"P{j}", phone=f"+1737555{i:02d}{j:02d}")
            for i, clinic in enumerate(clinics)
            for j in range(5)
        ]
    )
    now = timezone.now()
    Appointment.objects.bulk_create(
        [
            Appointment(clinic=patient.clinic, patient=patient, starts_at=now + dt.timedelta(days=k + 1))
            for patient in patients
            for k in range(3)
        ]
    )
    return clinics


@pytest.mark.django_db(transaction=True)  # real transactions, as in production: no test savepoints counted
@pytest.mark.parametrize(
    ("path", "params", "budget"),
    [
        (VOICE, {"CallSid": "CA" + "7" * 32, "From": "+17375551502", "To": "+15125551015", "CallStatus": "ringing"}, 2),
        # One upsert, whether the SID is known or new.
        (STATUS, {"CallSid": "CA" + "8" * 32, "CallStatus": "completed", "CallDuration": "12"}, 1),
        (STATUS, {"CallSid": "CA" + "9" * 32, "CallStatus": "in-progress", "SequenceNumber": "2"}, 1),
        (STATUS, {"MessageSid": "SM" + "8" * 32, "MessageStatus": "delivered"}, 1),
        (SMS, {"MessageSid": "SM" + "7" * 32, "From": "+17375551502", "To": "+15125551015", "Body": "C"}, 5),
        (SMS, {"MessageSid": "SM" + "6" * 32, "From": "+17375551502", "To": "+15125551015", "Body": "R"}, 5),
        (SMS, {"MessageSid": "SM" + "5" * 32, "From": "+17375551502", "To": "+15125551015", "Body": "Can I come at 4?"}, 5),
    ],
)
def test_query_budget_per_webhook_whatever_the_data_size(client, crowded, django_assert_max_num_queries, path, params, budget):
    CallLog.objects.create(call_sid="CA" + "9" * 32, status="ringing", status_rank=call_status_rank("ringing"))
    with django_assert_max_num_queries(budget):
        response = signed_post(client, path, params)

    assert response.status_code in (200, 204)


def test_sms_to_a_number_we_do_not_know_is_logged_and_not_answered(client):
    assert reply_text(sms(client, "C", to="+19995550000")) is None

    log = MessageLog.objects.get()
    assert (log.clinic, log.action, log.to_number) == (None, "unknown_number", "+19995550000")
