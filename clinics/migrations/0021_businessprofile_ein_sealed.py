"""Seal every business profile's EIN at rest (clinics.sealed, FIELD_ENCRYPTION_KEY).

The column widens to text (a Fernet token is ~120 characters), then each EIN still stored
in the clear is sealed in place. Raw SQL on purpose: the historical model's field already
opens values on read, which plain EINs are not yet. Reversible: unsealing writes them back.
"""

import re

import django.core.validators
from django.db import migrations

import clinics.sealed

PLAIN_EIN = re.compile(r"^\d{2}-?\d{7}$")


def _rewrite(schema_editor, change) -> None:
    connection = schema_editor.connection
    table = connection.ops.quote_name("clinics_businessprofile")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, ein FROM {table}")  # noqa: S608 - fixed identifiers only
        rows = cursor.fetchall()
        for pk, value in rows:
            new = change(value or "")
            if new is not None and new != value:
                cursor.execute(f"UPDATE {table} SET ein = %s WHERE id = %s", [new, pk])  # noqa: S608


def seal_eins(apps, schema_editor) -> None:
    _rewrite(schema_editor, lambda v: clinics.sealed.secret_seal(v) if PLAIN_EIN.match(v) else None)


def open_eins(apps, schema_editor) -> None:
    _rewrite(schema_editor, lambda v: None if (not v or PLAIN_EIN.match(v)) else clinics.sealed.secret_open(v))


class Migration(migrations.Migration):
    dependencies = [
        ("clinics", "0020_merged_subaccount_powers_and_event_kinds"),
    ]

    operations = [
        migrations.AlterField(
            model_name="businessprofile",
            name="ein",
            field=clinics.sealed.SealedTextField(
                validators=[
                    django.core.validators.RegexValidator(
                        "^\\d{2}-?\\d{7}$", "Enter the EIN as 9 digits, e.g. 12-3456789.", code="ein"
                    )
                ],
                verbose_name="EIN",
            ),
        ),
        migrations.RunPython(seal_eins, open_eins),
    ]
