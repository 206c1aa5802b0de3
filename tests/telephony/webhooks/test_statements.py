"""The compiled-statement mechanism (telephony/webhooks/statements.py) and the private
Django API it is built on: these tests fail on a Django upgrade that changes it, so the
upgrade is checked here rather than found in a webhook in production."""

from __future__ import annotations

import inspect

import django
import pytest
from django.db import connection
from django.db.models.sql import InsertQuery, Query, UpdateQuery
from django.db.models.sql.compiler import SQLCompiler, SQLInsertCompiler

from telephony.models import CallLog
from telephony.webhooks import statements
from telephony.webhooks.statements import Param, Statement

# Compiled per database vendor: the SQLite run checks them there too.
pytestmark = pytest.mark.embedded

# The Django line the private API below was read from. A new line: read the listed
# methods in its source, adjust statements.py if they changed, then move this pin.
VERIFIED_DJANGO = (5, 2)


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_django_is_the_line_the_private_api_was_verified_against():
    assert django.VERSION[:2] == VERIFIED_DJANGO, (
        "telephony/webhooks/statements.py uses Django's private compiler API (listed in its docstring); "
        f"verify it against Django {django.VERSION[0]}.{django.VERSION[1]} and update VERIFIED_DJANGO."
    )


@pytest.mark.parametrize(
    ("function", "parameters"),
    [
        (SQLInsertCompiler.assemble_as_sql, ["self", "fields", "value_rows"]),
        (SQLInsertCompiler.prepare_value, ["self", "field", "value"]),
        (SQLInsertCompiler.pre_save_val, ["self", "field", "obj"]),
        (SQLInsertCompiler.as_sql, ["self"]),
        (SQLCompiler.get_converters, ["self", "expressions"]),
        (SQLCompiler.as_sql, ["self", "with_limits", "with_col_aliases"]),
        (InsertQuery.insert_values, ["self", "fields", "objs", "raw"]),
        (UpdateQuery.add_update_values, ["self", "values"]),
        (Query.add_q, ["self", "q_object", "reuse_all"]),
    ],
    ids=lambda value: getattr(value, "__qualname__", ""),
)
def test_the_private_methods_keep_their_signatures(function, parameters):
    assert _parameters(function) == parameters


def test_insert_query_takes_the_conflict_arguments():
    assert {"on_conflict", "update_fields", "unique_fields"} <= set(_parameters(InsertQuery.__init__))


@pytest.mark.django_db
def test_a_select_compiles_once_and_binds_its_params_by_name():
    query = CallLog.objects.filter(call_sid=Param("sid", statements.model_field(CallLog, "call_sid")))
    statement = statements.select_statement(query.values_list("call_sid", "status"), columns=("call_sid", "status"))
    CallLog.objects.create(call_sid="CA" + "1" * 32, status="ringing")

    assert statement.sql.count("%s") == 1
    assert statement.fetch_one(sid="CA" + "1" * 32) == ["CA" + "1" * 32, "ringing"]
    assert statement.fetch_one(sid="CA" + "2" * 32) is None
    with pytest.raises(TypeError, match="missing value for parameter 'sid'"):
        statement.fetch_one()


@pytest.mark.django_db
def test_insert_or_ignore_writes_every_field_once_and_defaults_the_rest():
    insert = Statement(*statements.insert_or_ignore_sql(CallLog, "call_sid"))
    sid = "CA" + "3" * 32

    assert insert.execute(call_sid=sid, status="ringing") == 1
    assert insert.execute(call_sid=sid, status="completed") == 0  # the conflict target: nothing changes

    row = CallLog.objects.get(call_sid=sid)
    assert (row.status, row.status_rank, row.answered_by) == ("ringing", 0, "")  # the model's defaults


@pytest.mark.django_db
def test_a_conditional_insert_writes_only_when_its_condition_holds():
    if connection.vendor != "postgresql":
        pytest.skip("INSERT ... SELECT with typed values is the PostgreSQL voice statement's")
    slot = statements.Slot("write", statements.model_field(CallLog, "call_sid"), for_save=False, default=False)
    insert = Statement(*statements.insert_or_ignore_when_sql(CallLog, "call_sid", "%s = 'yes'", (slot,)))

    assert insert.execute(call_sid="CA" + "4" * 32, status="ringing", write="no") == 0
    assert insert.execute(call_sid="CA" + "5" * 32, status="ringing", write="yes") == 1
    assert list(CallLog.objects.values_list("call_sid", flat=True)) == ["CA" + "5" * 32]
