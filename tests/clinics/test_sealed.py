"""clinics.sealed: several keys accepted, the first sealing (MultiFernet); a value no key
opens is an Unopenable (a sentence for people, SealError for code); nothing searches or
filters a sealed column."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.contrib import admin

from clinics.sealed import (
    UNOPENABLE_SENTENCE,
    SealedTextField,
    SealError,
    Unopenable,
    sealed_plain,
    secret_looks_sealed,
    secret_open,
    secret_reseal,
    secret_seal,
)

A, B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_the_first_key_seals_every_key_opens_and_reseal_moves_a_value_to_the_first(settings):
    settings.FIELD_ENCRYPTION_KEYS = [A]
    old = secret_seal("12-3456789")

    settings.FIELD_ENCRYPTION_KEYS = [B, A]
    assert secret_open(old) == "12-3456789"
    new = secret_seal("12-3456789")
    assert Fernet(B.encode()).decrypt(new.encode()) == b"12-3456789"
    moved = secret_reseal(old)
    assert moved is not None and Fernet(B.encode()).decrypt(moved.encode()) == b"12-3456789"
    assert secret_reseal(new) is None and secret_reseal("") is None  # already under the newest key: left as is

    settings.FIELD_ENCRYPTION_KEYS = [B]
    assert secret_open(moved) == "12-3456789"
    with pytest.raises(SealError, match="cannot be decrypted"):
        secret_open(old)
    with pytest.raises(SealError):
        secret_reseal(old)


def test_an_unopenable_reads_as_one_sentence_and_refuses_code_that_needs_the_value():
    value = Unopenable("gAAAAA-the-token")
    assert value == UNOPENABLE_SENTENCE and value[:80] == UNOPENABLE_SENTENCE  # fits a list column whole
    assert value.token == "gAAAAA-the-token"
    assert SealedTextField().get_prep_value(value) == "gAAAAA-the-token"  # saved back unchanged
    with pytest.raises(SealError):
        sealed_plain(value)
    assert sealed_plain("12-3456789") == "12-3456789"


def test_a_token_has_a_shape_a_patient_text_has_not():
    assert secret_looks_sealed(secret_seal("C")) and secret_looks_sealed(secret_seal("x" * 1600))
    assert not any(secret_looks_sealed(t) for t in ("", "C", "gAAAAA", "Can I come at 4?", "gAAAAA" + "a" * 91))


def test_no_admin_searches_or_filters_a_sealed_column():
    for model, model_admin in admin.site._registry.items():
        sealed = {f.name for f in model._meta.concrete_fields if isinstance(f, SealedTextField)}
        named = {str(n).lstrip("^=@").split("__")[0] for n in model_admin.search_fields}
        named |= {n for n in model_admin.list_filter if isinstance(n, str)}
        assert not sealed & named, f"{model.__name__}'s admin searches or filters the sealed {sealed & named}"
