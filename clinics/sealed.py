"""Secrets stored at rest (subaccount auth tokens), sealed with Fernet under FIELD_ENCRYPTION_KEY.

Fernet (from `cryptography`) is authenticated encryption: a sealed value read back with
another key, or tampered with, raises SealError instead of yielding garbage. The key is
read lazily from settings, so tests and operators can rotate it without an import-time copy.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


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
        raise SealError("A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY (was the key changed?).") from exc
