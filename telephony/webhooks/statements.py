"""Statements compiled once from ORM querysets and run many times with new values.

Building and compiling a queryset costs more CPU than running its SQL (figures in
bench/README.md), and Twilio waits for each webhook. So a statement is written as an
ordinary ORM queryset, compiled by Django's own compiler the first time a connection of
that vendor needs it (`compiled_per_vendor`), and kept; a run only binds its values and
executes the SQL:

- a value that changes per run is a `Param("name", field)` in the queryset: it compiles
  to one `%s`, and each run fills it by name through the field's `get_db_prep_value` /
  `get_db_prep_save`, exactly as the ORM prepares a value;
- rows come back through the compiler's own converters (the backend's and the fields');
- an INSERT writes every concrete field but the auto key, `GeneratedField`s and fields
  with a `db_default` (the database fills those), a missing value taking the field's
  default, so adding such a field to a model never breaks a compiled write;
- `ON CONFLICT (<field>) DO NOTHING` and Django's `DO UPDATE SET` suffix on a named field
  (the ORM's ignore_conflicts names none), to which callers may append a `WHERE`.

Django's private API this relies on (not covered by Django's deprecation policy), pinned
by tests/telephony/webhooks/test_statements.py, which fails on a Django upgrade that
changes it: `django.db.models.sql.InsertQuery` (`insert_values`, `on_conflict`,
`update_fields`, `unique_fields`) and `UpdateQuery` (`add_update_values`, `add_q`);
`SQLCompiler.as_sql`, `get_converters`, `select`, `col_count`; `SQLInsertCompiler`
`prepare_value`, `pre_save_val`, `assemble_as_sql`; `Query.extra_select`,
`values_select`, `annotation_select`; and an `Expression` subclass whose `as_sql` returns
a marker object as its parameter (Param).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression, Field, Model, QuerySet
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery


@dataclass(frozen=True)
class Slot:
    """Where a named value goes in a compiled statement's parameters."""

    name: str
    field: Field
    for_save: bool  # prepared as for a write (get_db_prep_save), else as for a lookup
    default: bool  # a missing value takes the field's default (INSERTs)

    def prepare(self, values: Mapping[str, object], conn: BaseDatabaseWrapper) -> object:
        if self.name in values:
            value = values[self.name]
        elif self.default:
            value = self.field.get_default()
        else:
            raise TypeError(f"missing value for parameter {self.name!r}")
        if self.for_save:
            return self.field.get_db_prep_save(value, conn)
        return self.field.get_db_prep_value(value, conn, prepared=False)


class Param(Expression):
    """A value given by name at each run of a compiled statement (see the module docstring)."""

    def __init__(self, name: str, field: Field, *, for_save: bool = False, default: bool = False) -> None:
        super().__init__(output_field=field)
        self.slot = Slot(name, field, for_save, default)

    # The parameter is a Slot marker, which Statement.bind replaces: django-stubs type
    # parameters as str | int only.
    def as_sql(self, compiler: Any, connection: BaseDatabaseWrapper) -> tuple[str, list]:  # type: ignore[override]
        return "%s", [self.slot]


@dataclass(frozen=True)
class Statement:
    """SQL compiled from a queryset for one vendor, its parameters (constants and named
    slots, in order) and, for a SELECT, its column names and row converters."""

    sql: str
    params: tuple
    columns: tuple[str, ...] = ()
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...] = ()

    def bind(self, values: Mapping[str, object]) -> list:
        """The parameters for one run, the named ones taken from `values`."""
        return [p.prepare(values, connection) if isinstance(p, Slot) else p for p in self.params]

    def fetch_one(self, **values: object) -> list | None:
        """Run the SELECT; its first row, converted as the ORM would, or None."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.bind(values))
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
        for index, converters, expression in self.converters:
            for convert in converters:
                row[index] = convert(row[index], expression, connection)
        return row

    def execute(self, **values: object) -> int:
        """Run the INSERT/UPDATE; the number of rows it changed."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.bind(values))
            return cursor.rowcount


class _Cached(Protocol):
    def __call__(self, *args: Any) -> Statement: ...
    def cache_clear(self) -> None: ...


_COMPILED: list[_Cached] = []


def compiled_per_vendor(build: Callable[..., Statement]) -> Callable[..., Statement]:
    """Cache a statement builder's result per database vendor (and arguments)."""
    cached: _Cached = cache(build)
    _COMPILED.append(cached)

    def statement(*args: Any) -> Statement:
        return cached(connection.vendor, *args)

    statement.__doc__ = build.__doc__
    return statement


def compiled_statements_clear() -> None:
    """Forget every compiled statement (tests that change a model at run time call this)."""
    for cached in _COMPILED:
        cached.cache_clear()


def select_statement(queryset: QuerySet, *, columns: Sequence[str]) -> Statement:
    """Compile a `values_list()` queryset whose columns must come out as `columns`."""
    compiler = queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    query = compiler.query
    names = (*query.extra_select, *query.values_select, *query.annotation_select)
    if tuple(names) != tuple(columns):
        raise ValueError(f"the query selects {names}, not {tuple(columns)}")
    expressions = [selected[0] for selected in compiler.select[: compiler.col_count]]
    converters = tuple((i, tuple(c), expr) for i, (c, expr) in compiler.get_converters(expressions).items())
    return Statement(sql, tuple(params), tuple(names), converters)


def model_field(model: type[Model], name: str) -> Field:
    """The concrete field `name` of `model` (not a reverse relation)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field


def insert_fields(model: type[Model]) -> tuple[Field, ...]:
    """The columns an INSERT of `model` writes: every concrete field but the auto key,
    generated fields and fields with a database default (the database fills those)."""
    written = tuple(
        f for f in model._meta.concrete_fields if f is not model._meta.auto_field and not f.generated and not f.has_db_default()
    )
    for f in written:
        # Such a field takes its value in pre_save(), which a compiled INSERT never runs.
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            raise ValueError(f"{model.__name__}.{f.name} is set on save: use the ORM for this model")
    return written


def insert_sql(
    model: type[Model], *, on_conflict: OnConflict | None = None, conflict: str = "", update: Sequence[str] = (), **given: Any
) -> tuple[str, tuple]:
    """`model`'s INSERT of one row (every insert_fields() value a Param named by its
    attname, unless `given` as an expression), with Django's ON CONFLICT ... DO UPDATE SET
    suffix on the unique field `conflict` when asked; (sql, params)."""
    written = insert_fields(model)
    values = {f.attname: Param(f.attname, f, for_save=True, default=True) for f in written}
    # An instance holding the Params, built once here: the compiler reads values from it.
    row = model(**{**values, **given})
    query = InsertQuery(
        model,
        on_conflict=on_conflict,
        update_fields=[model_field(model, name) for name in update],
        unique_fields=[model_field(model, conflict)] if on_conflict else [],
    )
    query.insert_values(written, [row])
    ((sql, params),) = query.get_compiler(connection=connection).as_sql()
    return sql, tuple(params)


def insert_or_ignore_sql(model: type[Model], conflict: str, **given: Any) -> tuple[str, tuple]:
    """INSERT ... ON CONFLICT (<conflict>) DO NOTHING: a repeated value of the unique field
    `conflict` changes nothing. Named conflict target: other constraints still raise
    (SQLite's INSERT OR IGNORE, which Django's ignore_conflicts uses, would also hide NOT
    NULL failures)."""
    sql, params = insert_sql(model, **given)
    return f"{sql} ON CONFLICT ({connection.ops.quote_name(conflict)}) DO NOTHING", params


def insert_or_ignore_when_sql(
    model: type[Model], conflict: str, condition: str, condition_params: tuple, **given: Any
) -> tuple[str, tuple]:
    """PostgreSQL: as insert_or_ignore_sql, but the row is written only when `condition` (SQL)
    holds: INSERT ... SELECT <values> WHERE <condition>. A SELECT list, unlike VALUES, does
    not take its types from the target columns, so each value is cast to its column's type.
    Uses the insert compiler's own value preparation (prepare_value, pre_save_val,
    assemble_as_sql), as its as_sql() does."""
    written = insert_fields(model)
    values = {f.attname: Param(f.attname, f, for_save=True, default=True) for f in written}
    row = model(**{**values, **given})
    query = InsertQuery(model)
    query.insert_values(written, [row])
    compiler = query.get_compiler(connection=connection)
    value_row = [compiler.prepare_value(f, compiler.pre_save_val(f, row)) for f in written]
    (placeholders,), (params,) = compiler.assemble_as_sql(written, [value_row])
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in written)
    select = ", ".join(f"CAST({p} AS {f.db_type(connection)})" for p, f in zip(placeholders, written, strict=True))
    table = quote(model._meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) SELECT {select} WHERE {condition} ON CONFLICT ({quote(conflict)}) DO NOTHING"
    return sql, (*params, *condition_params)
