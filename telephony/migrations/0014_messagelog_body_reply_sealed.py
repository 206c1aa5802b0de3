"""Seal patients' texts and our replies at rest (MessageLog.body, reply; clinics.sealed).

The columns stay text; each value still stored in the clear is sealed in place, in
batches by id (clinics.sealed.sealed_column_rewrite). A value that already has a Fernet
token's shape is left alone, so a second run changes nothing. Raw SQL on purpose: the
historical model's field already opens values on read, which plain texts are not yet.
Reversible: unsealing writes them back.
"""

from django.db import migrations

import clinics.sealed

TABLE = "telephony_messagelog"
COLUMNS = ("body", "reply")


def _seal_plain(value: str) -> str | None:
    return None if clinics.sealed.secret_looks_sealed(value) else clinics.sealed.secret_seal(value)


def _open_sealed(value: str) -> str | None:
    return clinics.sealed.secret_open(value) if clinics.sealed.secret_looks_sealed(value) else None


def seal_messages(apps, schema_editor) -> None:
    for column in COLUMNS:
        clinics.sealed.sealed_column_rewrite(TABLE, column, _seal_plain, connection=schema_editor.connection)


def open_messages(apps, schema_editor) -> None:
    for column in COLUMNS:
        clinics.sealed.sealed_column_rewrite(TABLE, column, _open_sealed, connection=schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("telephony", "0013_log_redaction"),
    ]

    operations = [
        migrations.AlterField(
            model_name="messagelog",
            name="body",
            field=clinics.sealed.SealedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="messagelog",
            name="reply",
            field=clinics.sealed.SealedTextField(blank=True),
        ),
        migrations.RunPython(seal_messages, open_messages),
    ]
