"""The fallback spool holds texts sealed (clinics.sealed): Redis and the spool files show
no number and no body; the replay opens them; one no key opens is set aside with a log
line that names its MessageSid only, and the others still replay."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

from clinics.sealed import secret_looks_sealed, secret_open
from telephony import fallback_store
from telephony.fallback_store import SpooledSms
from telephony.models import MessageLog
from telephony.numbers import doctor
from telephony.webhooks import fallbacks
from tests.telephony.webhooks.twilio_requests import CLINIC_NUMBER, PATIENT, active_clinic, signed_post

pytestmark = pytest.mark.django_db

SMS_FALLBACK = "/api/sms/inbound/fallback"
BODY = "My crown came loose, can I come in today?"
LOST, KEPT = "SM" + "1" * 32, "SM" + "2" * 32


def _raw_spooled(message_sid: str) -> str:
    """The stored form of a spooled text, as Redis or the spool file holds it."""
    if settings.FALLBACK_REDIS_URL:
        return fallback_store._redis(settings.FALLBACK_REDIS_URL).hget(fallback_store.SMS_SPOOL_KEY, message_sid).decode()
    return (Path(settings.FALLBACK_SPOOL_DIR) / "sms" / f"{message_sid}.json").read_text()


def test_a_text_taken_by_the_fallback_is_spooled_sealed_and_replays_in_the_clear(client):
    active_clinic()
    params = {"MessageSid": KEPT, "From": PATIENT, "To": CLINIC_NUMBER, "Body": BODY, "AccountSid": settings.TWILIO_ACCOUNT_SID}
    assert signed_post(client, SMS_FALLBACK, params).status_code == 200

    raw = _raw_spooled(KEPT)
    assert BODY not in raw and "crown" not in raw and PATIENT not in raw and PATIENT[-4:] not in raw
    assert secret_looks_sealed(raw) and secret_open(raw)
    (spooled,) = fallback_store.sms_spooled()
    assert (spooled.body, spooled.from_number) == (BODY, PATIENT)

    assert fallbacks.fallback_sms_replay() == 1
    assert MessageLog.objects.get(message_sid=KEPT).body == BODY


def test_a_text_no_key_opens_is_set_aside_with_a_line_free_of_patient_data(settings, caplog):
    active_clinic()
    lost_key, kept_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [lost_key]
    fallback_store.sms_spool(SpooledSms(LOST, CLINIC_NUMBER, PATIENT, BODY, 1.0))
    settings.FIELD_ENCRYPTION_KEYS = [kept_key]
    fallback_store.sms_spool(SpooledSms(KEPT, CLINIC_NUMBER, PATIENT, "C", 2.0))
    legacy = SpooledSms("SM" + "3" * 32, CLINIC_NUMBER, PATIENT, "Y", 3.0)  # spooled in the clear before sealing
    if settings.FALLBACK_REDIS_URL:
        fallback_store._redis(settings.FALLBACK_REDIS_URL).hset(
            fallback_store.SMS_SPOOL_KEY, legacy.message_sid, json.dumps(legacy.__dict__)
        )
    else:
        (Path(settings.FALLBACK_SPOOL_DIR) / "sms" / f"{legacy.message_sid}.json").write_text(json.dumps(legacy.__dict__))

    with caplog.at_level(logging.DEBUG):
        assert fallbacks.fallback_sms_replay() == 2  # the others replay, nothing crashes

    assert set(MessageLog.objects.values_list("message_sid", flat=True)) == {KEPT, legacy.message_sid}
    assert fallback_store.sms_spool_count() == 0 and fallback_store.sms_spool_aside_count() == 1  # kept, not lost
    (line,) = [r.getMessage() for r in caplog.records if LOST in r.getMessage()]
    assert "cannot be opened" in line and "set aside" in line
    assert BODY not in caplog.text and PATIENT not in caplog.text
    (finding,) = [f for f in doctor.config_check(check_credentials=False) if f.code == "fallback_sms_set_aside"]
    assert "1 text(s)" in finding.message  # the doctor says so until someone acts

    settings.FIELD_ENCRYPTION_KEYS = [kept_key, lost_key]  # the key found again: the text is still there
    if settings.FALLBACK_REDIS_URL:
        raw = fallback_store._redis(settings.FALLBACK_REDIS_URL).hget(fallback_store.SMS_SPOOL_ASIDE_KEY, LOST)
    else:
        raw = (Path(settings.FALLBACK_SPOOL_DIR) / "sms-aside" / f"{LOST}.json").read_bytes()
    assert fallback_store._sms_open(raw).body == BODY
