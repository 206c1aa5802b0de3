"""The webhooks' status writes to call and message logs, in fixed SQL (see dentsignal/sql.py)."""

from collections.abc import Mapping, Sequence
from functools import cache

from django.db.models import Model

from dentsignal.sql import insert_fields, row_insert_params, sql_execute


@cache
def _forward_only_upsert_sql(model: type[Model], sid_field: str, attnames: tuple[str, ...], by_sequence: bool) -> str:
    table, fields = model._meta.db_table, insert_fields(model)
    columns = {f.attname: f.column for f in fields}
    assignments = ", ".join(f"{columns[name]} = excluded.{columns[name]}" for name in attnames)
    newer = f"{table}.status_rank < excluded.status_rank OR {table}.status = ''"
    if by_sequence:
        # Same rank (e.g. two in-progress callbacks): the higher SequenceNumber wins.
        newer += (
            f" OR ({table}.status_rank = excluded.status_rank AND excluded.sequence_number IS NOT NULL"
            f" AND ({table}.sequence_number < excluded.sequence_number OR {table}.sequence_number IS NULL))"
        )
    return (
        f"INSERT INTO {table} ({', '.join(columns.values())}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 - names from the model
        f" ON CONFLICT ({columns[sid_field]}) DO UPDATE SET {assignments} WHERE {newer}"
    )


def status_write_forward_only(
    model: type[Model], row: Mapping[str, object], *, sid_field: str, fields: Sequence[str], by_sequence: bool = False
) -> None:
    """Apply a status callback in one statement: INSERT `row` (a new `model` row's values
    by attname) if no log row has its SID, else UPDATE that row's `fields` to `row`'s if
    its status is newer (by rank; with `by_sequence`, a higher `sequence_number` wins at
    the same rank).

    Duplicates and out-of-order deliveries change nothing, and two deliveries racing
    for a new SID cannot lose a status: the database settles the conflict.
    """
    sql = _forward_only_upsert_sql(model, sid_field, tuple(fields), by_sequence)
    sql_execute(sql, row_insert_params(model, row))
