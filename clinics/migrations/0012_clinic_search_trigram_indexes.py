"""PostgreSQL: trigram indexes for the clinic list's search (admin search_fields).

Django's `icontains` on PostgreSQL is `UPPER(col::text) LIKE UPPER('%term%')`: a plain
B-tree cannot serve it, so at 100,000 clinics every search read the whole table (~250 ms,
bench/README.md "Admin list"). GIN indexes on the same expressions with pg_trgm's
operator class can (https://www.postgresql.org/docs/current/pgtrgm.html#PGTRGM-INDEX);
pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
SQLite (the embedded default) has no such index and needs none at its sizes.
"""

from django.db import migrations

COLUMNS = ("name", "twilio_number", "twilio_number_sid")


def indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS clients_{column}_trgm ON clients USING gin (UPPER("{column}"::text) gin_trgm_ops)'
        )


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS clients_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("clinics", "0011_clinic_list_order_index")]

    operations = [migrations.RunPython(indexes_create, indexes_drop)]
