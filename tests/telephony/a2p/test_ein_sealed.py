"""The EIN is sealed at rest (clinics.sealed.SealedTextField): the column holds a Fernet
token, code reads the EIN in the clear, and the migration seals EINs stored before."""

from __future__ import annotations

import importlib
import types

import pytest
from django.db import connection

from clinics.models_a2p import BusinessProfile
from clinics.sealed import UNOPENABLE_SENTENCE, SealError, secret_open
from tests.factories import ClinicFactory
from tests.telephony.a2p.conftest import EIN, business_profile_data

pytestmark = pytest.mark.django_db

migration = importlib.import_module("clinics.migrations.0021_businessprofile_ein_sealed")


def _stored(profile: BusinessProfile) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ein FROM clinics_businessprofile WHERE id = %s", [profile.pk])
        return str(cursor.fetchone()[0])


def _profile() -> BusinessProfile:
    return BusinessProfile.objects.create(clinic=ClinicFactory(), **business_profile_data())


def test_the_database_holds_no_ein_only_a_token_that_opens_to_it():
    profile = _profile()

    stored = _stored(profile)
    assert EIN not in stored and "3456789" not in stored
    assert secret_open(stored) == EIN
    assert BusinessProfile.objects.get(pk=profile.pk).ein == EIN
    assert BusinessProfile.objects.get(pk=profile.pk).ein_masked == "••-•••6789"


def test_each_save_seals_again_and_another_key_cannot_read_it(settings):
    profile = _profile()
    first = _stored(profile)
    profile.save()
    assert _stored(profile) != first  # Fernet: a fresh token on each save, the same EIN inside

    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    loaded = BusinessProfile.objects.get(pk=profile.pk)  # the page still loads
    assert loaded.ein_masked == UNOPENABLE_SENTENCE  # people see one sentence in its place
    with pytest.raises(SealError, match="cannot be decrypted"):
        loaded.ein_digits  # noqa: B018 - what Twilio would be sent: refused, never the sentence
    stored = _stored(profile)
    loaded.save()
    assert _stored(profile) == stored  # saved again, the token is kept as it was, not replaced


def test_the_migration_seals_plain_eins_and_its_reverse_opens_them():
    profile = _profile()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE clinics_businessprofile SET ein = %s WHERE id = %s", [EIN, profile.pk])
    editor = types.SimpleNamespace(connection=connection)

    migration.seal_eins(None, editor)
    sealed = _stored(profile)
    assert sealed != EIN and secret_open(sealed) == EIN
    migration.seal_eins(None, editor)  # a second run leaves sealed values alone
    assert _stored(profile) == sealed

    migration.open_eins(None, editor)
    assert _stored(profile) == EIN
