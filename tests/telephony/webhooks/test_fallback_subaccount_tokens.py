"""Issue 14: the fallback webhooks check a subaccount number's signature with that
subaccount's token while the database is down, from a sealed copy in the fallback store
(Redis, or the spool directory in the embedded default) kept up to date on every save."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from clinics import services as clinic_services
from clinics.models import Clinic
from clinics.sealed import secret_open
from telephony import fallback_store, twilio_service
from telephony.webhooks import fallbacks, signatures
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import ClinicFactory

# embedded: the copy lives in files on the embedded default (scripts/test runs these there too).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]
SMS_FALLBACK, VOICE_FALLBACK = "/api/sms/inbound/fallback", "/inbound/voice/fallback"
PATIENT = "+15125550999"


@pytest.fixture(autouse=True)
def no_cached_tokens():
    """Each test starts as a fresh process: no subaccount token cached."""
    signatures.signing_tokens_forget()
    yield
    signatures.signing_tokens_forget()


def provisioned(name: str) -> Clinic:
    clinic = ClinicFactory(name=name)
    assert twilio_service.provision_clinic_number(clinic.id, "512")["success"] is True
    return Clinic.objects.get(pk=clinic.id)


def signed_post(client, path, params, token):
    signature = RequestValidator(token).compute_signature(PUBLIC_BASE_URL + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def sms(clinic: Clinic, sid: str = "SM" + "d" * 32) -> dict[str, str]:
    return {"MessageSid": sid, "From": PATIENT, "To": clinic.twilio_number, "Body": "C", "AccountSid": clinic.twilio_account_sid}


def test_with_the_database_down_a_fallback_sms_signed_with_the_subaccount_token_is_accepted(
    client,
    sandbox,
    database_down,
):
    clinic = provisioned("Austin Dental")
    token = secret_open(clinic.twilio_account_token_sealed)
    signatures.signing_tokens_forget()  # a fresh process: nothing cached

    with database_down:
        accepted = signed_post(client, SMS_FALLBACK, sms(clinic), token)
        voice = signed_post(client, VOICE_FALLBACK, {**sms(clinic), "CallSid": "CA" + "e" * 32}, token)
        forged = signed_post(client, SMS_FALLBACK, sms(clinic, "SM" + "f" * 32), "0" * 32)
        stranger = {**sms(clinic, "SM" + "0" * 32), "AccountSid": "AC" + "9" * 32}
        unknown = signed_post(client, SMS_FALLBACK, stranger, token)

    assert accepted.status_code == 200, accepted.content
    assert voice.status_code == 200
    assert forged.status_code == 403 and unknown.status_code == 403
    assert [m.message_sid for m in fallback_store.sms_spooled()] == ["SM" + "d" * 32]


def test_the_copy_is_sealed_and_follows_a_rotated_token(client, sandbox, database_down):
    clinic = provisioned("Rotating Dental")
    old = secret_open(clinic.twilio_account_token_sealed)
    kept = fallback_store.account_token_sealed_get(clinic.twilio_account_sid)
    assert kept and old not in kept and secret_open(kept) == old  # encrypted with FIELD_ENCRYPTION_KEY, never plain

    new = "f" * 32
    assert clinic_services.clinic_subaccount_token_update(account_sid=clinic.twilio_account_sid, auth_token=new) == 1
    signatures.signing_tokens_forget()

    with database_down:
        stale = signed_post(client, SMS_FALLBACK, sms(clinic, "SM" + "1" * 32), old)
        fresh = signed_post(client, SMS_FALLBACK, sms(clinic, "SM" + "2" * 32), new)

    assert stale.status_code == 403 and fresh.status_code == 200


def test_the_beat_task_rebuilds_the_copy_from_the_clinics(sandbox):
    one, two = provisioned("One Dental"), provisioned("Two Dental")
    fallback_store.account_tokens_replace({})

    assert fallbacks.account_tokens_refresh() == 2

    for clinic in (one, two):
        assert fallback_store.account_token_sealed_get(clinic.twilio_account_sid) == clinic.twilio_account_token_sealed
