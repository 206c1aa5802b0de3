"""Key rotation end to end (clinics.sealed, manage.py reseal): sealed under key A, keys
B,A accepted, everything sealed again under B, A dropped, everything still opens; a row
sealed only under a key since lost shows one sentence in its place, never a 500; reseal
runs in batches, resumes after an interruption and changes nothing when done."""

from __future__ import annotations

import importlib
import io
import types

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from clinics.models import Clinic
from clinics.models_a2p import BusinessProfile
from clinics.sealed import UNOPENABLE_SENTENCE, SealError, secret_open, secret_seal
from telephony.management.commands import reseal
from telephony.models import MessageLog
from tests.factories import ClinicFactory
from tests.telephony.a2p.conftest import EIN, business_profile_data

pytestmark = pytest.mark.django_db

A, B, LOST = (Fernet.generate_key().decode() for _ in range(3))
BODY, REPLY = "Is my 3pm cleaning still on?", "Thanks, we got your message."
TOKEN = "f" * 32


def _raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - fixed names
        return cursor.fetchone()[0]


def _under(key: str, token: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def _reseal(*args: str) -> str:
    out = io.StringIO()
    call_command("reseal", *args, stdout=out)
    return out.getvalue()


def test_a_rotation_end_to_end_and_a_lost_key_shows_a_sentence(settings, admin_client):
    settings.FIELD_ENCRYPTION_KEYS = [LOST]
    lost = MessageLog.objects.create(message_sid="SM" + "0" * 32, body="lost text", reply="lost reply")
    lost_profile = BusinessProfile.objects.create(clinic=ClinicFactory(), **business_profile_data())
    settings.FIELD_ENCRYPTION_KEYS = [A]
    clinic = ClinicFactory(twilio_account_sid="AC" + "1" * 32, twilio_account_token_sealed=secret_seal(TOKEN))
    profile = BusinessProfile.objects.create(clinic=clinic, **business_profile_data())
    message = MessageLog.objects.create(message_sid="SM" + "1" * 32, clinic=clinic, body=BODY, reply=REPLY)
    columns = [
        ("clients", "twilio_account_token_sealed", clinic.pk),
        ("clinics_businessprofile", "ein", profile.pk),
        ("telephony_messagelog", "body", message.pk),
        ("telephony_messagelog", "reply", message.pk),
    ]
    assert all(_under(A, _raw(*c)) for c in columns)

    settings.FIELD_ENCRYPTION_KEYS = [B, A]  # the new key first, the old one still opens
    assert MessageLog.objects.get(pk=message.pk).body == BODY
    out = _reseal()

    assert all(_under(B, _raw(*c)) and not _under(A, _raw(*c)) for c in columns)
    assert "telephony.MessageLog.body: 1 sealed again" in out and "clinics.BusinessProfile.ein: 1 sealed again" in out
    assert f"telephony.MessageLog.reply: skipped 1 row(s) that no configured key opens (ids {lost.pk})" in out
    assert f"clinics.BusinessProfile.ein: skipped 1 row(s) that no configured key opens (ids {lost_profile.pk})" in out
    assert "lost text" not in out and BODY not in out

    settings.FIELD_ENCRYPTION_KEYS = [B]  # the old key dropped: everything still opens
    message = MessageLog.objects.get(pk=message.pk)
    assert (message.body, message.reply) == (BODY, REPLY)
    assert BusinessProfile.objects.get(pk=profile.pk).ein == EIN
    assert secret_open(Clinic.objects.get(pk=clinic.pk).twilio_account_token_sealed) == TOKEN

    # The row only the lost key opened: one sentence in its place, on every page, never a 500.
    assert MessageLog.objects.get(pk=lost.pk).body == UNOPENABLE_SENTENCE
    listing = admin_client.get(reverse("admin:telephony_messagelog_changelist"))
    assert listing.status_code == 200 and UNOPENABLE_SENTENCE in listing.content.decode() and BODY in listing.content.decode()
    detail = admin_client.get(reverse("admin:telephony_messagelog_change", args=[lost.pk]))
    assert detail.status_code == 200 and detail.content.decode().count(UNOPENABLE_SENTENCE) == 2  # body and reply
    profiles = admin_client.get(reverse("admin:clinics_businessprofile_changelist"))
    assert profiles.status_code == 200 and UNOPENABLE_SENTENCE in profiles.content.decode()  # the EIN's column
    assert "••-•••6789" in profiles.content.decode()  # the other profile's EIN, resealed, still opens
    assert admin_client.get(reverse("admin:clinics_businessprofile_change", args=[lost_profile.pk])).status_code == 200
    assert admin_client.get(reverse("admin:clinics_clinic_change", args=[lost_profile.clinic_id])).status_code == 200
    # Saving the row (marking it read) keeps its tokens: the key may still be found.
    stored = _raw("telephony_messagelog", "body", lost.pk)
    MessageLog.objects.get(pk=lost.pk).save()
    assert _raw("telephony_messagelog", "body", lost.pk) == stored
    with pytest.raises(SealError):
        secret_open(stored)


def _five_messages() -> list[MessageLog]:
    return [MessageLog.objects.create(message_sid=f"SM{i:032x}", body=f"text {i}") for i in range(5)]


def test_reseal_resumes_where_it_was_interrupted_and_a_rerun_changes_nothing(settings, monkeypatch):
    settings.FIELD_ENCRYPTION_KEYS = [A]
    rows = _five_messages()
    settings.FIELD_ENCRYPTION_KEYS = [B, A]

    assert "telephony.MessageLog.body: 5 would be sealed again" in _reseal("--dry-run")
    assert all(_under(A, _raw("telephony_messagelog", "body", m.pk)) for m in rows)  # a dry run changes nothing

    def interrupted(self, column, count):
        raise KeyboardInterrupt  # the operator's ^C after the first batch

    monkeypatch.setattr(reseal.Command, "_progress", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _reseal("--batch-size", "2")
    assert [_under(B, _raw("telephony_messagelog", "body", m.pk)) for m in rows] == [True, True, False, False, False]

    monkeypatch.undo()
    out = _reseal("--batch-size", "2")
    assert "telephony.MessageLog.body: 3 sealed again, 2 already under the newest key." in out
    assert "up to id" in out  # progress, batch by batch
    assert "older keys may be dropped" in out
    again = _reseal("--batch-size", "2")
    assert "telephony.MessageLog.body: 0 sealed again, 5 already under the newest key." in again
    assert all(_under(B, _raw("telephony_messagelog", "body", m.pk)) for m in rows)


def test_a_batch_size_below_one_is_refused_with_a_sentence():
    with pytest.raises(Exception, match="--batch-size must be 1 or more"):
        _reseal("--batch-size", "0")


migration = importlib.import_module("telephony.migrations.0014_messagelog_body_reply_sealed")


def test_the_migration_seals_plain_texts_in_batches_and_its_reverse_opens_them(monkeypatch):
    rows = _five_messages()
    with connection.cursor() as cursor:  # as stored before the migration: in the clear
        for m in rows:
            cursor.execute("UPDATE telephony_messagelog SET body = %s, reply = %s WHERE id = %s", [m.body, "ok", m.pk])
    editor = types.SimpleNamespace(connection=connection)
    batches = []
    real = migration.clinics.sealed.sealed_column_rewrite
    monkeypatch.setattr(
        migration.clinics.sealed,
        "sealed_column_rewrite",
        lambda *a, **kw: real(*a, **kw, batch_size=2, progress=lambda c: batches.append(c.last_id)),
    )

    migration.seal_messages(None, editor)
    sealed = {m.pk: _raw("telephony_messagelog", "body", m.pk) for m in rows}
    assert all(secret_open(sealed[m.pk]) == m.body for m in rows)
    assert secret_open(_raw("telephony_messagelog", "reply", rows[0].pk)) == "ok"
    assert batches == [rows[1].pk, rows[3].pk, rows[4].pk] * 2  # body, then reply, two rows a batch
    migration.seal_messages(None, editor)  # a second run leaves sealed values alone
    assert {m.pk: _raw("telephony_messagelog", "body", m.pk) for m in rows} == sealed

    migration.open_messages(None, editor)
    assert [_raw("telephony_messagelog", "body", m.pk) for m in rows] == [m.body for m in rows]
