"""The webhooks' hot path (telephony/webhooks/hot_path.py): routes, safe inserts, loud failed log writes."""

import dataclasses
import datetime as dt
import json
import logging
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, models
from django.db.models.functions import Lower
from django.utils import timezone

from clinics.models import Appointment, ChecklistItem, NumberState, OnboardingStep, Patient
from clinics.sealed import secret_looks_sealed, secret_open
from telephony.models import CallLog, LogWriteFailure, MessageLog
from telephony.webhooks import hot_path, statements
from tests.conftest import PUBLIC_BASE_URL
from tests.telephony.webhooks.twilio_requests import (
    CLINIC_NUMBER,
    PATIENT,
    SMS,
    VOICE,
    active_clinic,
    call_params,
    signed_post,
    twiml,
)

# embedded: statements compiled per database vendor, SQLite's too (scripts/test).
pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

CALL_SID = "CA" + "d" * 32


def test_a_route_is_a_frozen_value_with_both_step_flags():
    clinic = active_clinic(name="Route Dental", office_phone="+15125550100")
    ChecklistItem.objects.create(clinic=clinic, step=OnboardingStep.TEST_INBOUND_SMS)

    route = hot_path.clinic_route_get(to_number=CLINIC_NUMBER)

    assert route == hot_path.ClinicRoute(
        id=clinic.id,
        name="Route Dental",
        office_phone="+15125550100",
        twilio_number=CLINIC_NUMBER,
        number_state=NumberState.ACTIVE,
        twilio_account_sid="",  # the main account's (issue 20: the route says who may sign for it)
        onboarding_path="new_number",
        published_number="",
        call_tested=False,
        sms_tested=True,
    )
    assert route.active
    with pytest.raises(dataclasses.FrozenInstanceError):
        route.name = "Other"  # type: ignore[misc]
    assert hot_path.clinic_route_get(to_number="+19995550000") is None


def test_statements_are_compiled_once_per_vendor():
    assert hot_path._route_select() is hot_path._route_select()
    assert "%s" in hot_path._route_select().sql


@pytest.mark.django_db(transaction=True)  # real transactions, as in production
def test_the_voice_route_and_log_keep_their_budget_and_write_the_row(client, django_assert_num_queries):
    clinic = active_clinic()
    ChecklistItem.objects.create(clinic=clinic, step=OnboardingStep.TEST_INBOUND_CALL)

    # PostgreSQL: one statement (a data-modifying WITH); elsewhere the read, then the insert.
    with django_assert_num_queries(1 if hot_path.route_and_log_in_one_statement() else 2):
        signed_post(client, VOICE, call_params(sid=CALL_SID))
    signed_post(client, VOICE, call_params(sid=CALL_SID))  # Twilio retried: nothing new
    signed_post(client, VOICE, call_params(to="+19995550000", sid="CA" + "e" * 32))  # no clinic

    assert sorted(CallLog.objects.values_list("call_sid", "clinic_id", "to_number")) == [
        (CALL_SID, clinic.id, CLINIC_NUMBER),
        ("CA" + "e" * 32, None, "+19995550000"),
    ]
    assert not LogWriteFailure.objects.exists()


def _new_field(kind: str) -> models.Field:
    if kind == "db_default":
        return models.CharField(max_length=20, db_default="twilio")
    return models.GeneratedField(expression=Lower("direction"), output_field=models.CharField(max_length=24), db_persist=True)


@pytest.fixture(params=["db_default", "generated"])
def call_log_with_a_new_field(request):
    """CallLog with one more column, as a later migration would add it: a field with a
    database default, or a generated column. Removed again (model and table) afterwards."""
    field = _new_field(request.param)
    field.set_attributes_from_name("source")
    field.contribute_to_class(CallLog, "source")
    with connection.schema_editor() as editor:
        editor.add_field(CallLog, field)
    statements.compiled_statements_clear()
    try:
        yield request.param
    finally:
        with connection.schema_editor() as editor:
            editor.remove_field(CallLog, field)
        CallLog._meta.local_fields.remove(field)
        CallLog._meta._expire_cache()
        delattr(CallLog, "source")
        statements.compiled_statements_clear()


@pytest.mark.django_db(transaction=True)  # the schema editor cannot run inside the test's transaction on SQLite
def test_a_new_db_default_or_generated_field_does_not_stop_call_logging(client, call_log_with_a_new_field):
    clinic = active_clinic()
    assert "source" not in [f.attname for f in statements.insert_fields(CallLog)]  # the database writes it

    signed_post(client, VOICE, call_params(sid=CALL_SID))
    signed_post(client, "/twilio/status", {"CallSid": CALL_SID, "CallStatus": "completed", "CallDuration": "7"})

    log = CallLog.objects.get()
    assert (log.clinic_id, log.status, log.duration_seconds) == (clinic.id, "completed", 7)
    # The database filled the new column: its default, or the generated value.
    assert log.source == ("twilio" if call_log_with_a_new_field == "db_default" else "inbound")
    assert not LogWriteFailure.objects.exists()


def test_a_failed_call_log_write_is_logged_at_error_with_the_call_sid_and_counted(client, caplog, settings):
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"
    clinic = active_clinic()
    # The log table is gone (rolled back after the test): every write to it fails.
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {CallLog._meta.db_table} RENAME TO calllog_away")

    with caplog.at_level(logging.ERROR, logger="telephony"):
        first = twiml(signed_post(client, VOICE, call_params(sid=CALL_SID)))
        signed_post(client, VOICE, call_params(sid="CA" + "e" * 32))

    # The caller was answered, and the failure is anything but silent.
    assert first.find("Connect/Stream/Parameter[@name='clinic_id']").get("value") == str(clinic.id)
    failed = [r for r in caplog.records if r.name == "telephony.webhooks.hot_path"]
    assert [r.levelno for r in failed] == [logging.ERROR, logging.ERROR]
    assert CALL_SID in failed[0].getMessage()
    counter = LogWriteFailure.objects.get(log=hot_path.CALL_LOG)
    assert (counter.count, counter.last_sid) == (2, "CA" + "e" * 32)
    assert counter.last_error


def test_the_doctor_reports_failed_log_writes(settings):
    settings.API_BASE_URL = PUBLIC_BASE_URL
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"
    settings.TWILIO_SANDBOX = False
    hot_path.log_write_failure_count(log=hot_path.CALL_LOG, sid=CALL_SID, error=RuntimeError("column missing"))
    hot_path.log_write_failure_count(log=hot_path.CALL_LOG, sid=CALL_SID, error=RuntimeError("column missing"))

    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("telephony_doctor", "--json", stdout=out)

    assert exit_.value.code == 2  # errors
    (finding,) = [f for f in json.loads(out.getvalue())["findings"] if f["code"] == "log_writes_failed"]
    assert finding["severity"] == "error"
    assert finding["details"] == {"log": "call_log", "count": 2, "last_sid": CALL_SID}
    assert "column missing" in finding["message"]


def test_a_failed_status_write_is_counted_and_answered_with_an_error_for_twilio_to_retry(client, caplog):
    message_sid = "SM" + "d" * 32
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {MessageLog._meta.db_table} RENAME TO messagelog_away")
    client.raise_request_exception = False  # answered as in production: a 5xx

    with caplog.at_level(logging.ERROR, logger="telephony"):
        response = signed_post(client, "/twilio/status", {"MessageSid": message_sid, "MessageStatus": "delivered"})

    assert response.status_code >= 500

    assert any(r.levelno == logging.ERROR and message_sid in r.getMessage() for r in caplog.records)
    counter = LogWriteFailure.objects.get(log=hot_path.MESSAGE_LOG)
    assert (counter.count, counter.last_sid) == (1, message_sid)


# ----------------------------------------------------------------- texts sealed at rest


@pytest.mark.parametrize("body", ["C", "Can I come at 4 instead? My tooth hurts"])  # compiled insert+update; insert
def test_the_sms_webhook_stores_the_text_and_reply_sealed_and_a_repeat_gets_the_same_reply(client, body):
    clinic = active_clinic(name="Austin Dental")
    patient = Patient.objects.create(clinic=clinic, name="Pat", phone=PATIENT)
    Appointment.objects.create(clinic=clinic, patient=patient, starts_at=timezone.now() + dt.timedelta(days=2))
    params = {"MessageSid": "SM" + "e" * 32, "From": PATIENT, "To": CLINIC_NUMBER, "Body": body}

    first = twiml(signed_post(client, SMS, params)).findtext("Message")

    with connection.cursor() as cursor:
        cursor.execute("SELECT body, reply FROM telephony_messagelog WHERE message_sid = %s", [params["MessageSid"]])
        stored_body, stored_reply = cursor.fetchone()
    assert secret_looks_sealed(stored_body) and secret_open(stored_body) == body  # a Fernet token, not the text
    assert first and secret_looks_sealed(stored_reply) and secret_open(stored_reply) == first
    assert twiml(signed_post(client, SMS, params)).findtext("Message") == first  # the repeat opens the stored reply
