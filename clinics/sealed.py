"""Secrets stored at rest (subaccount auth tokens, EINs), sealed with Fernet under FIELD_ENCRYPTION_KEY.

Fernet (from `cryptography`) is authenticated encryption: a sealed value read back with
another key, or tampered with, raises SealError instead of yielding garbage. The key is
read lazily from settings, so tests and operators can rotate it without an import-time copy.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class SealError(Exception):
    """A sealed value cannot be opened with FIELD_ENCRYPTION_KEY (another key, or damaged)."""


@functools.lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key.encode())
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY is not a Fernet key (urlsafe base64 of 32 bytes): make one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
        ) from exc


def secret_seal(plain: str) -> str:
    """`plain` encrypted with FIELD_ENCRYPTION_KEY, as text to store ("" stays "")."""
    if not plain:
        return ""
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plain.encode()).decode()


def secret_open(sealed: str) -> str:
    """The plain text of a value made by secret_seal ("" stays ""); SealError if it cannot be opened."""
    if not sealed:
        return ""
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise SealError(
            "A stored secret cannot be decrypted with this DentSignal's encryption key (was the key changed?): "
            "tell the DentSignal operator."
        ) from exc


class SealedTextField(models.TextField):
    """A text column stored sealed (secret_seal) and read back in the clear.

    For secrets that must be at rest encrypted but used in code as plain text (a clinic's
    EIN): the database holds only Fernet tokens, so a dump, a backup or a SQL console shows
    no EIN. Fernet tokens differ on every save, so the column cannot be filtered or indexed
    by value (nothing here needs to).
    """

    def from_db_value(self, value: str | None, expression: object, connection: object) -> str | None:
        """Open the stored token (SealError if FIELD_ENCRYPTION_KEY cannot)."""
        return secret_open(value) if value else value

    def get_prep_value(self, value: object) -> object:
        """Seal the plain value on its way to the database."""
        value = super().get_prep_value(value)
        return secret_seal(value) if isinstance(value, str) and value else value
