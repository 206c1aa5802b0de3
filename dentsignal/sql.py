"""Fixed SQL for the webhooks' hot path, where building an ORM query costs more than running it.

Measured with bench/profile_webhooks.py on PostgreSQL: compiling `filter().first()` on a
clinic costs ~0.4 ms of CPU and an `Exists` annotation ~0.7 ms more, while executing a
fixed SQL string costs ~0.15 ms. Twilio waits for every webhook (and a caller hears
silence meanwhile), so the few statements each webhook runs are written once here and in
the modules that use them, in SQL that PostgreSQL and SQLite both accept
(`ON CONFLICT … DO NOTHING` included). Values go in through each field's own
`get_db_prep_save` and come out through the backend's converters, exactly as the ORM
would do it; everything off the hot path uses the ORM.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from functools import cache

from django.db import connection, transaction
from django.db.models import Field, Model


def sql_fetch_one(sql: str, params: Sequence) -> tuple | None:
    """The first row of a SELECT, or None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def sql_execute(sql: str, params: Sequence) -> int:
    """Run one INSERT/UPDATE; the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


class ModelColumns:
    """Some columns of a model in a hand-written SELECT, and the instance built from them.

    `ModelColumns(Clinic, "c", "id", "name")` gives `.sql` ("c.id, c.name") for the
    SELECT list and `.build(row, start)` to turn those values of a row back into a
    Clinic (the other fields deferred, as with `only()`).
    """

    def __init__(self, model: type[Model], alias: str, *attnames: str) -> None:
        wanted = set(attnames)
        # Model.from_db expects the values in the order of the model's concrete fields.
        self.fields = [f for f in model._meta.concrete_fields if f.attname in wanted]
        unknown = wanted - {f.attname for f in self.fields}
        if unknown:
            raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
        self.model, self.attnames = model, tuple(f.attname for f in self.fields)
        self.sql = ", ".join(f"{alias}.{f.column}" for f in self.fields)
        self.width = len(self.fields)

    def build(self, row: Sequence, start: int = 0) -> Model:
        values = list(row[start : start + self.width])
        for i, converters in enumerate(_converters(connection.vendor, self.model, self.attnames)):
            for convert in converters:
                values[i] = convert(values[i], self.fields[i], connection)
        return self.model.from_db(connection.alias, self.attnames, values)


@cache
def _converters(vendor: str, model: type[Model], attnames: tuple[str, ...]) -> list[list]:
    """The backend's and the field's from-database converters for each column."""
    fields = _fields_by_attname(model)
    result = []
    for name in attnames:
        column = fields[name].get_col(model._meta.db_table)
        result.append(connection.ops.get_db_converters(column) + column.get_db_converters(connection))
    return result


@cache
def _fields_by_attname(model: type[Model]) -> dict[str, Field]:
    return {f.attname: f for f in model._meta.concrete_fields}


@cache
def insert_fields(model: type[Model]) -> tuple[Field, ...]:
    """The columns an INSERT of `model` writes, in order: every concrete field but the key."""
    return tuple(f for f in model._meta.concrete_fields if not f.primary_key)


def row_insert_params(model: type[Model], values: Mapping[str, object], *, exclude: Collection[str] = ()) -> list:
    """The values of insert_fields() (but the `exclude` attnames) for a new row given by
    attname, missing fields taking their defaults, prepared for the database as
    `model(**values).save()` would prepare them. No instance is built: its __init__ and
    signals cost a webhook ~40 µs."""
    return [
        f.get_db_prep_save(values[f.attname] if f.attname in values else f.get_default(), connection)
        for f in _plain_insert_fields(model)
        if f.attname not in exclude
    ]


@cache
def _plain_insert_fields(model: type[Model]) -> tuple[Field, ...]:
    """insert_fields(), for a model none of whose fields sets its value in pre_save()."""
    fields = insert_fields(model)
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            raise ValueError(f"{model.__name__}.{f.name} is set on save: build an instance instead")
    return fields


@cache
def _insert_sql(model: type[Model], conflict: str) -> str:
    meta, fields = model._meta, insert_fields(model)
    columns = ", ".join(f.column for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return (
        f"INSERT INTO {meta.db_table} ({columns}) VALUES ({placeholders}) "  # noqa: S608 - names from the models; values are parameters
        f"ON CONFLICT ({meta.get_field(conflict).column}) DO NOTHING"
    )


def row_insert_or_ignore(model: type[Model], values: Mapping[str, object], *, conflict: str) -> bool:
    """INSERT a new row (values by attname, as row_insert_params) in one statement; False
    if a row with the same `conflict` value (a unique field, e.g. a Twilio SID) exists.

    Unlike `save()`, a duplicate raises nothing, so it needs no savepoint inside a
    transaction; nothing returns the new primary key (the hot path never needs it).
    """
    return sql_execute(_insert_sql(model, conflict), row_insert_params(model, values)) == 1


@cache
def _update_sql(model: type[Model], attnames: tuple[str, ...]) -> str:
    meta, fields = model._meta, _fields_by_attname(model)
    assignments = ", ".join(f"{fields[name].column} = %s" for name in attnames)
    return f"UPDATE {meta.db_table} SET {assignments} WHERE {meta.pk.column} = %s"  # noqa: S608 - names from the model


def _update_params(instance: Model, names: tuple[str, ...]) -> list:
    fields = _fields_by_attname(type(instance))
    return [*(fields[name].get_db_prep_save(fields[name].pre_save(instance, False), connection) for name in names), instance.pk]


def instance_update(instance: Model, *, fields: Sequence[str]) -> int:
    """Like `save(update_fields=fields)` in one fixed statement (auto_now fields included)."""
    names = tuple(fields)
    return sql_execute(_update_sql(type(instance), names), _update_params(instance, names))


@cache
def _insert_then_update_sql(insert_model: type[Model], conflict: str, update_model: type[Model], names: tuple[str, ...]) -> str:
    insert, update = _insert_sql(insert_model, conflict), _update_sql(update_model, names)
    return f"WITH inserted AS ({insert} RETURNING 1) {update} AND EXISTS (SELECT 1 FROM inserted)"  # noqa: S608 - from the models


def row_insert_then_update(
    model: type[Model], values: Mapping[str, object], *, conflict: str, update: Model, fields: Sequence[str]
) -> bool:
    """Atomically: INSERT a new `model` row (values by attname) unless a row with its
    `conflict` value exists, and only if it was inserted, UPDATE `update`'s `fields`.
    False if it was a duplicate.

    On PostgreSQL one statement (a data-modifying WITH), so no BEGIN/COMMIT round trips;
    elsewhere the two statements in a transaction.
    """
    names = tuple(fields)
    if connection.vendor == "postgresql":
        sql = _insert_then_update_sql(model, conflict, type(update), names)
        return sql_execute(sql, [*row_insert_params(model, values), *_update_params(update, names)]) == 1
    with transaction.atomic():
        if not row_insert_or_ignore(model, values, conflict=conflict):
            return False
        instance_update(update, fields=names)
    return True
