"""What is sealed at rest (subaccount auth tokens, EINs, patients' texts and our replies),
with Fernet under FIELD_ENCRYPTION_KEYS.

Fernet (from `cryptography`) is authenticated encryption: a sealed value read back with
another key, or tampered with, raises SealError instead of yielding garbage. Several keys
are accepted (MultiFernet): the first seals, every one opens, so a key is rotated by
putting the new one first, running `manage.py reseal` (every sealed column under the new
key) and only then dropping the old one. The keys are read lazily from settings, so tests
and operators can change them without an import-time copy.

A column of SealedTextField whose value no key opens (a lost key) reads back as an
`Unopenable`: a string holding one sentence for people, shown in its place by the admin,
pages and exports (never a 500), and written back unchanged if its row is saved. Code that
needs the plain value calls `sealed_plain`, which raises SealError's sentence instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection as default_connection
from django.db import models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

# Shown to people in place of a value no key opens (no key, no setting name: the operator's
# `manage.py reseal` report and docs/operations.md say which rows and what to do).
UNOPENABLE_SENTENCE = "Cannot be shown: sealed with an encryption key DentSignal no longer has."
# The shape of a Fernet token: urlsafe base64 of at least 73 bytes, the first 0x80 (the
# version), then a 64-bit timestamp whose high bytes are zero until 2106.
FERNET_TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_-]{92,}={0,2}")
# Columns sealed by code rather than by SealedTextField ("app_label.Model", field name).
SEALED_BY_CODE = (("clinics.Clinic", "twilio_account_token_sealed"),)
# How many ids of rows no key opens a rewrite remembers (for its report).
UNOPENABLE_IDS_SHOWN = 20


class SealError(Exception):
    """A sealed value cannot be opened with any of FIELD_ENCRYPTION_KEYS (another key, or damaged)."""


class Unopenable(str):
    """A sealed value no configured key opens: reads as UNOPENABLE_SENTENCE, keeps its token."""

    token: str

    def __new__(cls, token: str) -> Unopenable:
        value = super().__new__(cls, UNOPENABLE_SENTENCE)
        value.token = token
        return value


@functools.lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (urlsafe base64 of 32 bytes): make one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
        ) from exc


@functools.lru_cache(maxsize=8)
def _newest(key: str) -> Fernet:
    return Fernet(key.encode())


def _keys() -> tuple[str, ...]:
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: nothing can be sealed or opened.")
    return keys


def _seal_error() -> SealError:
    return SealError(
        "A stored secret cannot be decrypted with this DentSignal's encryption keys (was a key dropped?): "
        "tell the DentSignal operator."
    )


def secret_seal(plain: str) -> str:
    """`plain` encrypted with the first of FIELD_ENCRYPTION_KEYS, as text to store ("" stays "")."""
    if not plain:
        return ""
    return _fernet(_keys()).encrypt(plain.encode()).decode()


def secret_open(sealed: str) -> str:
    """The plain text of a value made by secret_seal under any configured key ("" stays "");
    SealError if none opens it."""
    if not sealed:
        return ""
    try:
        return _fernet(_keys()).decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise _seal_error() from exc


def secret_reseal(sealed: str) -> str | None:
    """`sealed` sealed again under the newest key, or None when it already is (or is "");
    SealError if no configured key opens it."""
    if not sealed:
        return None
    keys = _keys()
    try:
        _newest(keys[0]).decrypt(sealed.encode())
        return None
    except InvalidToken:
        pass
    try:
        return _fernet(keys).rotate(sealed.encode()).decode()
    except InvalidToken as exc:
        raise _seal_error() from exc


def sealed_plain(value: str) -> str:
    """The plain value of a SealedTextField, for code that must use it (an EIN sent to
    Twilio): SealError instead of the sentence shown to people when no key opens it."""
    if isinstance(value, Unopenable):
        raise _seal_error()
    return value


def secret_looks_sealed(value: str) -> bool:
    """Whether `value` has the shape of a Fernet token (a plain patient text practically never has)."""
    return bool(FERNET_TOKEN.fullmatch(value))


class SealedTextField(models.TextField):
    """A text column stored sealed (secret_seal) and read back in the clear.

    The database holds only Fernet tokens, so a dump, a backup or a SQL console shows no
    EIN and no patient's text. Fernet tokens differ on every save, so the column cannot be
    filtered, searched or indexed by value (a lookup on it matches nothing). A value no key
    opens reads back as an Unopenable (see the module docstring).
    """

    def from_db_value(self, value: str | None, expression: object, connection: object) -> str | None:
        """Open the stored token; an Unopenable when no configured key can."""
        if not value:
            return value
        try:
            return secret_open(value)
        except SealError:
            return Unopenable(value)

    def get_prep_value(self, value: object) -> object:
        """Seal the plain value on its way to the database (an Unopenable goes back as it came)."""
        if isinstance(value, Unopenable):
            return value.token
        value = super().get_prep_value(value)
        return secret_seal(value) if isinstance(value, str) and value else value


# ----------------------------------------------------------------- rewriting sealed columns in batches


@dataclass(frozen=True)
class SealedColumn:
    """A column holding sealed values: its table and column names, and a name for people."""

    table: str
    column: str
    label: str


def sealed_columns() -> list[SealedColumn]:
    """Every sealed column of every installed model: each SealedTextField, and SEALED_BY_CODE."""
    found: list[SealedColumn] = []
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, SealedTextField):
                found.append(SealedColumn(model._meta.db_table, str(f.column), f"{model._meta.label}.{f.name}"))
    for label, name in SEALED_BY_CODE:
        model = apps.get_model(label)
        found.append(SealedColumn(model._meta.db_table, str(model._meta.get_field(name).column), f"{label}.{name}"))
    return found


@dataclass
class RewriteCount:
    """What a rewrite of a sealed column did: rows changed, left as they were (already as
    wanted, or empty), and those no key opens (their ids, the first ones only)."""

    changed: int = 0
    unchanged: int = 0
    unopenable: int = 0
    unopenable_ids: list[int] = field(default_factory=list)
    last_id: int = 0


def sealed_column_rewrite(
    table: str,
    column: str,
    change: Callable[[str], str | None],
    *,
    batch_size: int = 500,
    dry_run: bool = False,
    connection: BaseDatabaseWrapper | None = None,
    progress: Callable[[RewriteCount], None] | None = None,
) -> RewriteCount:
    """Rewrite each non-empty value of `table`.`column` by `change` (None: leave it;
    SealError: no key opens it, counted and left), in batches of `batch_size` rows by id,
    each batch committed on its own: an interrupted run keeps what it did, and a rerun
    whose `change` leaves done values be continues where it stopped. A row changed
    meanwhile by someone else is left to them (compare and set). `progress` is called with
    the running count after each batch; the final count is returned."""
    conn = connection or default_connection
    quote = conn.ops.quote_name
    table_q, column_q = quote(table), quote(column)
    select = f"SELECT id, {column_q} FROM {table_q} WHERE id > %s AND {column_q} <> '' ORDER BY id LIMIT %s"  # noqa: S608 - identifiers only
    update = f"UPDATE {table_q} SET {column_q} = %s WHERE id = %s AND {column_q} = %s"  # noqa: S608 - identifiers only
    count = RewriteCount()
    while True:
        with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
            cursor.execute(select, [count.last_id, batch_size])
            rows = cursor.fetchall()
            for pk, value in rows:
                count.last_id = pk
                try:
                    new = change(value)
                except SealError:
                    count.unopenable += 1
                    if len(count.unopenable_ids) < UNOPENABLE_IDS_SHOWN:
                        count.unopenable_ids.append(pk)
                    continue
                if new is None or new == value:
                    count.unchanged += 1
                    continue
                if not dry_run:
                    cursor.execute(update, [new, pk, value])
                count.changed += 1
        if rows and progress is not None:
            progress(count)
        if len(rows) < batch_size:
            return count
