"""The fallback webhooks: set on every number, audited, and answering with the database down."""

import datetime as dt
import signal
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.utils import timezone
from twilio.request_validator import RequestValidator

from clinics.models import Appointment, AppointmentStatus, Clinic, NumberState, Patient
from dentsignal.celery import app as celery_app
from telephony import fallback_store, tasks, twilio_service
from telephony.models import MessageLog
from telephony.numbers import audit, doctor, repairs
from telephony.webhooks import fallbacks
from telephony.webhooks.fallbacks import SMS_ACKNOWLEDGEMENT, UNKNOWN_LINE_MESSAGE
from telephony.webhooks.views import TROUBLE_MESSAGE
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import ClinicFactory
from tests.telephony.numbers.sandbox_numbers import clinic_with_number
from tests.telephony.worker_pool import BROKER_URL, wait_queue_drained
from tests.telephony.worker_pool import database_url as _database_url

# embedded: the fallback store is files on the embedded default, Redis with a broker; the
# database outage differs per vendor (scripts/test runs these on SQLite too).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

VOICE_FALLBACK, SMS_FALLBACK = "/inbound/voice/fallback", "/api/sms/inbound/fallback"
SMS, STATUS, VOICE = "/api/sms/inbound", "/twilio/status", "/inbound/voice"
CLINIC_NUMBER, OFFICE, PATIENT = "+15125550142", "+15125550100", "+15125550999"
FALLBACK_HOST = "https://fallback.dentsignal.example.net"


def signed_post(client, path, params, *, base=PUBLIC_BASE_URL):
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(base + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def twiml(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return root


def sms_params(body="C", sid="SM" + "c" * 32):
    return {"MessageSid": sid, "From": PATIENT, "To": CLINIC_NUMBER, "Body": body, "AccountSid": settings.TWILIO_ACCOUNT_SID}


def call_params():
    return {"CallSid": "CA" + "a" * 32, "From": PATIENT, "To": CLINIC_NUMBER, "CallStatus": "ringing"}


def booked_clinic():
    clinic = ClinicFactory(
        name="Austin Dental",
        office_phone=OFFICE,
        twilio_number=CLINIC_NUMBER,
        twilio_number_sid="PN" + "1" * 32,
        number_state=NumberState.ACTIVE,
    )
    patient = Patient.objects.create(clinic=clinic, name="Pat", phone=PATIENT)
    appointment = Appointment.objects.create(clinic=clinic, patient=patient, starts_at=timezone.now() + dt.timedelta(days=2))
    return clinic, appointment


# ------------------------------------------------------------------ set on every number, audited


def test_a_purchase_sets_both_fallback_urls(sandbox):
    clinic = ClinicFactory()

    assert twilio_service.provision_clinic_number(clinic.id, "512")["success"]

    (purchase,) = sandbox.api_requests("POST", "IncomingPhoneNumbers.json")
    form = purchase["form"]
    assert form["VoiceFallbackUrl"] == PUBLIC_BASE_URL + VOICE_FALLBACK
    assert form["SmsFallbackUrl"] == PUBLIC_BASE_URL + SMS_FALLBACK
    assert form["VoiceFallbackMethod"] == form["SmsFallbackMethod"] == "POST"
    (owned,) = sandbox.owned_numbers()
    assert owned["voice_fallback_url"] == PUBLIC_BASE_URL + VOICE_FALLBACK
    assert owned["sms_fallback_url"] == PUBLIC_BASE_URL + SMS_FALLBACK


def test_the_fallbacks_can_live_on_another_host(sandbox, settings):
    settings.API_FALLBACK_BASE_URL = FALLBACK_HOST
    clinic = ClinicFactory()
    bought = twilio_service.provision_clinic_number(clinic.id, "512")

    twilio_service.update_number_webhooks(bought["sid"])

    for request in sandbox.api_requests("POST", "IncomingPhoneNumbers"):
        assert request["form"]["VoiceFallbackUrl"] == FALLBACK_HOST + VOICE_FALLBACK
        assert request["form"]["SmsFallbackUrl"] == FALLBACK_HOST + SMS_FALLBACK
        assert request["form"]["VoiceUrl"] == PUBLIC_BASE_URL + VOICE  # the primaries stay on API_BASE_URL


def test_the_audit_reports_fallback_drift_and_fix_webhooks_repairs_it(sandbox, settings):
    settings.API_BASE_URL = PUBLIC_BASE_URL
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"
    clinic_with_number(sandbox, "+15125550101", "Old Dental", voice_fallback_url="", sms_fallback_url="https://gone.example/sms")

    findings = audit.number_audit().findings

    assert {(f.code, f.details["field"]) for f in findings} == {
        ("webhook_drift", "voice_fallback_url"),
        ("webhook_drift", "sms_fallback_url"),
    }
    sms_finding = next(f for f in findings if f.details["field"] == "sms_fallback_url")
    assert "SMS fallback URL is 'https://gone.example/sms'" in sms_finding.message
    assert sms_finding.details["expected"] == PUBLIC_BASE_URL + SMS_FALLBACK

    repairs.fix_webhooks(findings)

    assert audit.number_audit().findings == []


# ------------------------------------------------------------------ signed like the others


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize("path", [VOICE_FALLBACK, SMS_FALLBACK])
def test_unsigned_or_wrongly_signed_fallbacks_are_refused_and_keep_nothing(client, settings, path):
    settings.API_FALLBACK_BASE_URL = FALLBACK_HOST
    params = {**sms_params(), **call_params()}

    unsigned = client.post(path, params)
    # Signed over the primary origin, not the fallback's public URL Twilio calls.
    wrong_url = signed_post(client, path, params, base=PUBLIC_BASE_URL)
    get = client.get(path)

    assert unsigned.status_code == wrong_url.status_code == 403
    assert get.status_code == 405
    assert fallback_store.sms_spool_count() == 0


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_fallbacks_are_signed_over_the_fallback_origin(client, settings):
    settings.API_FALLBACK_BASE_URL = FALLBACK_HOST

    response = signed_post(client, SMS_FALLBACK, sms_params(), base=FALLBACK_HOST)

    twiml(response)
    assert fallback_store.sms_spool_count() == 1


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize("sid", ["not-a-sid", "SM" + "c" * 32 + "\n", "SM" + "c" * 31 + "/"])
def test_an_sms_fallback_without_a_message_sid_is_a_400(client, sid):
    response = signed_post(client, SMS_FALLBACK, {**sms_params(), "MessageSid": sid})

    assert response.status_code == 400 and b"MessageSid" in response.content
    assert fallback_store.sms_spool_count() == 0


# ------------------------------------------------------------------ the database down


def test_voice_fallback_dials_the_office_from_the_cache_with_the_database_down(client, database_down):
    booked_clinic()  # saved and committed: the office-line cache follows

    with database_down:
        root = twiml(signed_post(client, VOICE_FALLBACK, call_params()))
        unknown = twiml(signed_post(client, VOICE_FALLBACK, {**call_params(), "To": "+15125550777"}))

    dial = root.find("Dial")
    assert dial is not None and dial.text == OFFICE and dial.get("callerId") == CLINIC_NUMBER
    assert unknown.find("Dial") is None and unknown.findtext("Say") == UNKNOWN_LINE_MESSAGE


def test_the_office_line_cache_follows_a_changed_office_line_and_a_released_number(client, database_down):
    clinic, _ = booked_clinic()
    clinic.office_phone = "+15125550111"
    clinic.save(update_fields=["office_phone"])

    with database_down:
        changed = twiml(signed_post(client, VOICE_FALLBACK, call_params()))
    clinic.twilio_number, clinic.twilio_number_sid, clinic.number_state = None, None, NumberState.RELEASED
    clinic.save(update_fields=["twilio_number", "twilio_number_sid", "number_state"])
    with database_down:
        gone = twiml(signed_post(client, VOICE_FALLBACK, call_params()))

    assert changed.findtext("Dial") == "+15125550111"
    assert gone.find("Dial") is None


def test_the_voice_fallback_never_dials_the_clinics_own_number(client):
    ClinicFactory(office_phone=CLINIC_NUMBER, twilio_number=CLINIC_NUMBER, number_state=NumberState.ACTIVE)

    root = twiml(signed_post(client, VOICE_FALLBACK, call_params()))

    assert root.find("Dial") is None and root.findtext("Say") == UNKNOWN_LINE_MESSAGE


def test_primary_voice_dials_the_office_from_the_cache_with_the_database_down(client, database_down):
    booked_clinic()

    with database_down:
        root = twiml(signed_post(client, VOICE, call_params()))
        unknown = twiml(signed_post(client, VOICE, {**call_params(), "To": "+15125550777"}))

    assert root.findtext("Dial") == OFFICE
    assert unknown.findtext("Say") == TROUBLE_MESSAGE


@pytest.mark.timing
def test_primary_sms_and_status_answer_503_fast_with_the_database_down(client, database_down):
    booked_clinic()
    status = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "delivered"}

    with database_down:
        started = time.monotonic()
        sms = signed_post(client, SMS, sms_params())
        callback = signed_post(client, STATUS, status)
        elapsed = time.monotonic() - started

    for response in (sms, callback):
        assert response.status_code == 503
        assert response["Content-Type"].startswith("text/plain") and response["Retry-After"]
    assert elapsed < 10  # Twilio gives a webhook 15 s before it calls the fallback
    assert MessageLog.objects.count() == 0


def test_an_sms_taken_while_the_database_is_down_is_processed_exactly_once_when_it_is_back(
    client,
    database_down,
):
    clinic, appointment = booked_clinic()

    with database_down:
        first = twiml(signed_post(client, SMS_FALLBACK, sms_params("C")))
        again = twiml(signed_post(client, SMS_FALLBACK, sms_params("C")))  # Twilio delivered it twice
        with pytest.raises(DatabaseError):
            fallbacks.fallback_sms_replay()  # still down: nothing is lost

    assert first.findtext("Message") == SMS_ACKNOWLEDGEMENT.format(name="Austin Dental")
    assert ET.tostring(again) == ET.tostring(first)
    assert fallback_store.sms_spool_count() == 1
    assert MessageLog.objects.count() == 0

    assert tasks.replay_fallback_sms.delay().get() == 1
    assert tasks.replay_fallback_sms.delay().get() == 0
    # Spooled again (a crash between processing and forgetting), and the primary delivery too.
    fallback_store.sms_spool(fallback_store.SpooledSms(sms_params()["MessageSid"], CLINIC_NUMBER, PATIENT, "C", 0.0))
    assert fallbacks.fallback_sms_replay() == 1
    twiml(signed_post(client, SMS, sms_params("C")))

    (logged,) = MessageLog.objects.all()
    assert logged.message_sid == sms_params()["MessageSid"] and logged.action == "confirmed"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert fallback_store.sms_spool_count() == 0


def test_replay_keeps_arrival_order_and_opt_outs_get_no_acknowledgement(client, database_down):
    clinic, appointment = booked_clinic()

    with database_down:
        stop = twiml(signed_post(client, SMS_FALLBACK, sms_params("STOP", sid="SM" + "1" * 32)))
        start = twiml(signed_post(client, SMS_FALLBACK, sms_params("START", sid="SM" + "0" * 32)))

    assert stop.find("Message") is None and start.find("Message") is None
    assert fallbacks.fallback_sms_replay() == 2
    # STOP came first although its SID sorts last: the patient ends opted back in.
    assert Patient.objects.get(clinic=clinic, phone=PATIENT).sms_opted_out is False


def test_the_replay_command_says_what_it_did_and_fails_with_a_sentence_while_the_database_is_down(
    client,
    database_down,
    capsys,
):
    booked_clinic()
    with database_down:
        twiml(signed_post(client, SMS_FALLBACK, sms_params("hello")))
        with pytest.raises(Exception, match="nothing was lost"):
            call_command("telephony_fallback_replay")

    call_command("telephony_fallback_replay")

    assert "Replayed 1 spooled text(s); 1 clinic number(s)" in capsys.readouterr().out
    assert MessageLog.objects.get().action == "inbox"


@pytest.mark.skipif(bool(settings.FALLBACK_REDIS_URL), reason="the embedded default's spool directory")
def test_the_file_spool_holds_one_whole_file_per_message(client, database_down):
    with database_down:
        signed_post(client, SMS_FALLBACK, sms_params("hello", sid="SM" + "e" * 32))
        signed_post(client, SMS_FALLBACK, sms_params("hello", sid="SM" + "e" * 32))
        signed_post(client, SMS_FALLBACK, sms_params("hi", sid="SM" + "f" * 32))

    names = sorted(p.name for p in (Path(settings.FALLBACK_SPOOL_DIR) / "sms").iterdir())
    assert names == ["SM" + "e" * 32 + ".json", "SM" + "f" * 32 + ".json"]  # no temporaries left


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.skipif(not settings.FALLBACK_REDIS_URL, reason="needs the test Redis")
def test_with_redis_down_a_text_is_spooled_to_the_local_directory(client, settings):
    settings.FALLBACK_REDIS_URL = "redis://127.0.0.1:1/0"

    twiml(signed_post(client, SMS_FALLBACK, sms_params("hello")))

    assert (Path(settings.FALLBACK_SPOOL_DIR) / "sms" / (sms_params()["MessageSid"] + ".json")).exists()


# ------------------------------------------------------------------ real workers, real PostgreSQL and Redis


@pytest.mark.worker
@pytest.mark.skipif(not BROKER_URL, reason="set TEST_CELERY_BROKER_URL to a Redis URL (scripts/test does)")
def test_workers_replay_a_text_spooled_in_redis_once_the_database_is_back(client, workers, database_down):
    clinic, appointment = booked_clinic()
    with database_down:
        twiml(signed_post(client, SMS_FALLBACK, sms_params("C")))
    assert settings.FALLBACK_REDIS_URL == BROKER_URL  # spooled in Redis, where the workers read it
    # A worker whose database is unreachable (PostgreSQL down for it) fails the replay and keeps the text.
    real = urlsplit(_database_url())
    down = workers.start("--pool=solo", DATABASE_URL=real._replace(netloc=f"{real.username}@127.0.0.1:1").geturl())
    celery_app.send_task("telephony.tasks.replay_fallback_sms")
    wait_queue_drained(timeout=60)
    down.send_signal(signal.SIGTERM)
    down.wait(timeout=30)
    assert fallback_store.sms_spool_count() == 1 and MessageLog.objects.count() == 0

    workers.start("--concurrency=2")
    for _ in range(2):  # beat's tick and a manual run, at once
        celery_app.send_task("telephony.tasks.replay_fallback_sms")
    wait_queue_drained(timeout=60)

    (logged,) = MessageLog.objects.all()
    assert logged.action == "confirmed" and logged.clinic_id == clinic.id
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert fallback_store.sms_spool_count() == 0


def test_the_doctor_reports_waiting_texts_and_a_fallback_origin_twilio_cannot_reach(client, settings, database_down):
    settings.API_FALLBACK_BASE_URL = "http://localhost:9000"
    with database_down:
        twiml(signed_post(client, SMS_FALLBACK, sms_params("hello"), base="http://localhost:9000"))

    found = {f.code: f for f in doctor.config_check(check_credentials=False)}

    assert "1 text(s)" in found["fallback_sms_waiting"].message
    assert "API_FALLBACK_BASE_URL" in found["api_fallback_base_url_not_public"].message
    assert "webhook_path_missing" not in found
    settings.API_FALLBACK_BASE_URL = ""
    fallbacks.fallback_sms_replay()
    assert "fallback_sms_waiting" not in {f.code for f in doctor.config_check(check_credentials=False)}


def test_rebuilds_of_the_office_line_cache_wait_for_each_other(client):
    """One rebuild at a time: the last to write is the last to read, so a slower rebuild's
    older snapshot can never overwrite a newer one."""
    clinic, _ = booked_clinic()

    def rebuild() -> None:
        try:
            fallbacks.office_lines_refresh()
        finally:
            connection.close()

    with fallback_store.office_lines_lock():  # another rebuild is running
        Clinic.objects.filter(pk=clinic.pk).update(office_phone="+15125550123")  # a bulk update: no signal
        waiting = threading.Thread(target=rebuild)
        waiting.start()
        time.sleep(0.5)
        assert fallback_store.office_line_get(CLINIC_NUMBER).office_phone == OFFICE  # it waits
    waiting.join(timeout=30)

    assert fallback_store.office_line_get(CLINIC_NUMBER).office_phone == "+15125550123"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL refuses NUL in text; SQLite keeps it")
def test_a_message_that_fails_on_its_own_stays_spooled_and_does_not_block_the_others(client):
    booked_clinic()
    # A NUL in the sender's number (a body is sealed: its token never holds one).
    bad = fallback_store.SpooledSms("SM" + "1" * 32, CLINIC_NUMBER, PATIENT + "\x00", "C", 1.0)
    good = fallback_store.SpooledSms("SM" + "2" * 32, CLINIC_NUMBER, PATIENT, "C", 2.0)
    fallback_store.sms_spool(bad)
    fallback_store.sms_spool(good)

    assert fallbacks.fallback_sms_replay() == 1

    assert MessageLog.objects.get().message_sid == good.message_sid
    assert [m.message_sid for m in fallback_store.sms_spooled()] == [bad.message_sid]
