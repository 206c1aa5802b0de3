"""Every database read and write of Twilio's webhooks, as named, typed functions.

Twilio waits for each webhook (a caller hears silence meanwhile), and building and
compiling a queryset costs more CPU than running its SQL (figures in bench/README.md).
So each statement below is written as an ordinary ORM queryset, compiled by Django's own
compiler the first time a connection of that vendor needs it, and kept; a call then only
binds its values and runs the SQL:

- a value that changes per call is a `Param("name", field)` in the queryset: it compiles
  to one `%s`, and each run fills it by name through the field's `get_db_prep_value` /
  `get_db_prep_save`, exactly as the ORM prepares a value;
- rows come back through the compiler's own converters (the backend's and the fields');
- an INSERT writes every concrete field but the auto key, `GeneratedField`s and fields
  with a `db_default` (the database fills those), a missing value taking the field's
  default, so adding such a field to a log model never breaks a webhook's write;
- a duplicate or out-of-order delivery must change nothing, without a savepoint: `ON
  CONFLICT (<sid>) DO NOTHING`, and for status callbacks Django's `DO UPDATE SET` plus a
  `WHERE` (the status is newer). The ORM has no such WHERE, and its ignore_conflicts
  names no conflict target, so these are appended to the compiled INSERT with quoted
  names; PostgreSQL and SQLite both accept them.

The webhooks read a clinic as a frozen `ClinicRoute`, never as a half-loaded Clinic.
A log write that fails is logged at ERROR with its Call/Message SID and counted in
`LogWriteFailure`, which `manage.py telephony_doctor` reports. Off the steady path
(first SMS of a patient, opt-outs, repeats) the functions here use the ORM as usual.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields
from functools import cache
from typing import Any, Protocol

from django.db import DatabaseError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Exists, Expression, F, Field, Model, OuterRef, Q, QuerySet
from django.db.models.constants import OnConflict
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery, UpdateQuery
from django.utils import timezone

from clinics.models import Appointment, AppointmentStatus, ChecklistItem, Clinic, NumberState, OnboardingStep, Patient
from clinics.services import clinic_checklist_tick
from telephony.models import CallLog, LogWriteFailure, MessageLog

logger = logging.getLogger(__name__)

OPEN_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED, AppointmentStatus.RESCHEDULE_REQUESTED)
CALL_LOG, MESSAGE_LOG = "call_log", "message_log"


# ----------------------------------------------------------------- compiled statements


@dataclass(frozen=True)
class _Slot:
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
        self.slot = _Slot(name, field, for_save, default)

    # The parameter is a _Slot marker, which Statement.bind replaces: django-stubs type
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
        return [p.prepare(values, connection) if isinstance(p, _Slot) else p for p in self.params]

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


def _select(queryset: QuerySet, *, columns: Sequence[str]) -> Statement:
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


def _field(model: type[Model], name: str) -> Field:
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


def _insert(
    model: type[Model], *, on_conflict: OnConflict | None = None, update: Sequence[str] = (), **given: Any
) -> tuple[str, tuple]:
    """`model`'s INSERT of one row (every insert_fields() value a Param named by its
    attname, unless `given` as an expression), with Django's ON CONFLICT ... DO UPDATE SET
    suffix when asked; (sql, params)."""
    written = insert_fields(model)
    values = {f.attname: Param(f.attname, f, for_save=True, default=True) for f in written}
    # An instance holding the Params, built once here: the compiler reads values from it.
    row = model(**{**values, **given})
    query = InsertQuery(
        model,
        on_conflict=on_conflict,
        update_fields=[_field(model, name) for name in update],
        unique_fields=[_field(model, _sid_field(model))] if on_conflict else [],
    )
    query.insert_values(written, [row])
    ((sql, params),) = query.get_compiler(connection=connection).as_sql()
    return sql, tuple(params)


def _sid_field(model: type[Model]) -> str:
    return {CallLog: "call_sid", MessageLog: "message_sid"}[model]


def _insert_or_ignore(model: type[Model], **given: Any) -> tuple[str, tuple]:
    """INSERT ... ON CONFLICT (<sid>) DO NOTHING: a repeated SID changes nothing. Named
    conflict target: other constraints still raise (SQLite's INSERT OR IGNORE, which
    Django's ignore_conflicts uses, would also hide NOT NULL failures)."""
    sql, params = _insert(model, **given)
    return f"{sql} ON CONFLICT ({connection.ops.quote_name(_sid_field(model))}) DO NOTHING", params


def _insert_or_ignore_when(model: type[Model], condition: str, condition_params: tuple, **given: Any) -> tuple[str, tuple]:
    """PostgreSQL: as _insert_or_ignore, but the row is written only when `condition` (SQL)
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
    table, sid = quote(model._meta.db_table), quote(_sid_field(model))
    sql = f"INSERT INTO {table} ({columns}) SELECT {select} WHERE {condition} ON CONFLICT ({sid}) DO NOTHING"
    return sql, (*params, *condition_params)


def _signer_slot() -> _Slot:
    """The request's signer (telephony.tenants: "" for the main account), as a parameter."""
    return _Slot("signer", _field(Clinic, "twilio_account_sid"), for_save=False, default=False)


# ----------------------------------------------------------------- the clinic a number reaches


@dataclass(frozen=True, slots=True)
class ClinicRoute:
    """What the webhooks need of the clinic holding a number, and its two live-test steps."""

    id: int
    name: str
    office_phone: str
    twilio_number: str | None
    number_state: str
    twilio_account_sid: str  # the account that owns the number ("" for the main one): who may sign for it
    call_tested: bool  # "test inbound call" is ticked
    sms_tested: bool  # "test inbound SMS" is ticked
    campaign_approved: bool = False  # A2P "campaign approved and number in the Messaging Service" is ticked

    @property
    def active(self) -> bool:
        """The number is live (an AI agent may answer)."""
        return self.number_state == NumberState.ACTIVE


_ROUTE_FIELDS = ("id", "name", "office_phone", "twilio_number", "number_state", "twilio_account_sid")
_ROUTE_COLUMNS = tuple(f.name for f in fields(ClinicRoute))
_STEP_FLAGS = _ROUTE_COLUMNS[len(_ROUTE_FIELDS) :]


def _step_ticked(step: str, clinic: str) -> Exists:
    return Exists(ChecklistItem.objects.filter(clinic_id=OuterRef(clinic), step=step))


def _with_step_flags(queryset: QuerySet, clinic: str) -> QuerySet:
    return queryset.annotate(
        call_tested=_step_ticked(OnboardingStep.TEST_INBOUND_CALL, clinic),
        sms_tested=_step_ticked(OnboardingStep.TEST_INBOUND_SMS, clinic),
        campaign_approved=_step_ticked(OnboardingStep.A2P_CAMPAIGN_APPROVED, clinic),
    )


@compiled_per_vendor
def _route_select(vendor: str) -> Statement:
    """The clinic holding the number `twilio_number` (unique), with its step flags."""
    queryset = Clinic.objects.filter(twilio_number=Param("twilio_number", _field(Clinic, "twilio_number"))).order_by()
    return _select(_with_step_flags(queryset, "pk").values_list(*_ROUTE_COLUMNS), columns=_ROUTE_COLUMNS)


def clinic_route_get(*, to_number: str) -> ClinicRoute | None:
    """The clinic holding this E.164 number, or None: one indexed query."""
    if not to_number:
        return None
    row = _route_select().fetch_one(twilio_number=to_number)
    return None if row is None else ClinicRoute(*row)


# ----------------------------------------------------------------- log writes


@contextmanager
def _log_write(log: str, sid: str, *, atomic: bool = False) -> Iterator[None]:
    """Run a log write; if it fails, log it at ERROR with the SID, count it, and re-raise.

    With `atomic`, the block is one transaction. Otherwise, inside a caller's transaction
    the write gets a savepoint, so that its failure does not spoil that transaction (and
    the count can still be written); in autocommit (every webhook in production) nothing:
    no extra round trips. Either way the failed work is rolled back before it is counted.
    """
    try:
        with transaction.atomic() if atomic or connection.in_atomic_block else nullcontext():
            yield
    except DatabaseError as exc:
        logger.error("Could not write the %s row of %s: %s", log, sid, exc, exc_info=True)
        log_write_failure_count(log=log, sid=sid, error=exc)
        raise


def log_write_failure_count(*, log: str, sid: str, error: BaseException) -> None:
    """Add one to `log`'s count of failed writes (read by telephony_doctor), noting the
    SID and the error; if even that fails, say so at ERROR (never raises DatabaseError)."""
    now = timezone.now()
    note = {"last_sid": sid[:34], "last_error": f"{type(error).__name__}: {error}"[:300], "last_failed_at": now}
    try:
        with transaction.atomic():
            # Two first failures at once: the loser's create hits the unique `log`, and
            # get_or_create then finds the winner's row, which it adds to.
            counter, created = LogWriteFailure.objects.get_or_create(log=log, defaults={"count": 1, **note})
            if not created:
                LogWriteFailure.objects.filter(pk=counter.pk).update(count=F("count") + 1, **note)
    except DatabaseError:
        logger.exception("Could not count the failed %s write of %s either", log, sid)


@compiled_per_vendor
def _log_insert(vendor: str, model: type[Model]) -> Statement:
    """A new log row (values by attname); nothing if its SID is logged already."""
    return Statement(*_insert_or_ignore(model))


def _log_row_insert(model: type[Model], log: str, values: Mapping[str, object]) -> bool:
    with _log_write(log, str(values[_sid_field(model)])):
        return _log_insert(model).execute(**values) == 1


# ----------------------------------------------------------------- voice


def call_log_insert(values: Mapping[str, object]) -> bool:
    """Log a call (CallLog values by attname, missing ones defaulted); False if its
    CallSid was logged already. A failure is logged, counted and raised."""
    return _log_row_insert(CallLog, CALL_LOG, values)


def call_answer_update(*, call_sid: str, answered_by: str, reason: str) -> None:
    """Note on the call's log row how the voice webhook answered it and why not the agent
    (one UPDATE, while the clinic's call step is open). Raises DatabaseError (after a
    savepoint inside a transaction); not counted: it fails with the row's insert, which is."""
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        CallLog.objects.filter(call_sid=call_sid).update(answered_by=answered_by, fallback_reason=reason[:200])


@compiled_per_vendor
def _route_and_log(vendor: str) -> Statement:
    """PostgreSQL: the route read and the call log insert in one statement (a
    data-modifying WITH); the log row's clinic is the route's id, NULL if none. Nothing is
    logged when the route's clinic is in another account than the signer's (the caller
    then refuses the request: telephony.tenants)."""
    route = _route_select()
    clinic_id = RawSQL("(SELECT route.id FROM route)", ())
    quote = connection.ops.quote_name
    account = f"route.{quote('twilio_account_sid')}"
    mine = f"NOT EXISTS (SELECT 1 FROM route WHERE %s <> '' AND {account} <> %s)"  # noqa: S608 - quoted names
    insert, insert_params = _insert_or_ignore_when(CallLog, mine, (_signer_slot(), _signer_slot()), clinic_id=clinic_id)
    sql = f"WITH route AS ({route.sql}), logged AS ({insert}) SELECT * FROM route"  # noqa: S608 - compiled by Django
    return Statement(sql, (*route.params, *insert_params), route.columns, route.converters)


def call_route_and_log(*, to_number: str, call: Mapping[str, object], signer: str) -> ClinicRoute | None:
    """PostgreSQL only: the clinic holding `to_number`, and the call (CallLog values by
    attname but the clinic's) logged with it, in one statement; a repeated CallSid
    changes nothing, and so does a call to a clinic of another account than `signer`'s.
    Raises DatabaseError (after a savepoint inside a transaction)."""
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        row = _route_and_log().fetch_one(**call, twilio_number=to_number, signer=signer)
    return None if row is None else ClinicRoute(*row)


def route_and_log_in_one_statement() -> bool:
    """Whether this database runs call_route_and_log (PostgreSQL's data-modifying WITH)."""
    return connection.vendor == "postgresql"


# ----------------------------------------------------------------- status callbacks


@compiled_per_vendor
def _status_upsert(vendor: str, model: type[Model], update: tuple[str, ...], by_sequence: bool) -> Statement:
    """INSERT a log row, or on its SID UPDATE `update` if the new status is newer and the
    row is not a clinic's of another account than the signer's (telephony.tenants)."""
    sql, params = _insert(model, on_conflict=OnConflict.UPDATE, update=update)
    table, quote = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name
    rank, status, sequence = quote("status_rank"), quote("status"), quote("sequence_number")
    newer = f"{table}.{rank} < EXCLUDED.{rank} OR {table}.{status} = ''"
    if by_sequence:
        # Same rank (e.g. two in-progress callbacks): the higher SequenceNumber wins.
        newer += (
            f" OR ({table}.{rank} = EXCLUDED.{rank} AND EXCLUDED.{sequence} IS NOT NULL"
            f" AND ({table}.{sequence} < EXCLUDED.{sequence} OR {table}.{sequence} IS NULL))"
        )
    clinic, clinics, account = quote("clinic_id"), quote(Clinic._meta.db_table), quote("twilio_account_sid")
    in_account = f"SELECT {quote('id')} FROM {clinics} WHERE {clinics}.{account} = %s"  # noqa: S608 - quoted names
    mine = f"%s = '' OR {table}.{clinic} IS NULL OR {table}.{clinic} IN ({in_account})"
    return Statement(f"{sql} WHERE ({newer}) AND ({mine})", (*params, _signer_slot(), _signer_slot()))


def _status_apply(
    model: type[Model], log: str, values: Mapping[str, object], update: Sequence[str], *, by_sequence: bool
) -> bool:
    with _log_write(log, str(values[_sid_field(model)])):
        return _status_upsert(model, tuple(update), by_sequence).execute(**values) == 1


def call_status_upsert(values: Mapping[str, object], *, update: Sequence[str], signer: str) -> bool:
    """Apply a call status in one statement: a new CallLog row (values by attname) if its
    CallSid is unknown, else its `update` fields if the status is newer by rank, or at
    the same rank by a higher sequence number. Duplicates and late deliveries change
    nothing; two deliveries racing for a new SID cannot lose a status; a clinic's call is
    changed only for the main account or that clinic's (`signer`). Whether it changed."""
    return _status_apply(CallLog, CALL_LOG, {**values, "signer": signer}, update, by_sequence=True)


def message_status_upsert(values: Mapping[str, object], *, update: Sequence[str], signer: str) -> bool:
    """As call_status_upsert, for a MessageLog row (newer by rank only)."""
    return _status_apply(MessageLog, MESSAGE_LOG, {**values, "signer": signer}, update, by_sequence=False)


def log_owner_account(model: type[Model], *, sid: str) -> str | None:
    """The account of the clinic a CallLog/MessageLog row (by its SID) is logged for, or
    None when there is no such row or it is no clinic's (telephony.tenants)."""
    rows = model._default_manager.filter(**{_sid_field(model): sid}, clinic__isnull=False)
    return rows.values_list("clinic__twilio_account_sid", flat=True).first()


# ----------------------------------------------------------------- SMS


@dataclass(frozen=True, slots=True)
class NextAppointment:
    """A patient's next open appointment, and the route of the clinic it is at."""

    id: int
    patient_id: int
    starts_at: dt.datetime
    needs_staff_attention: bool
    clinic: ClinicRoute


_APPOINTMENT_COLUMNS = ("id", "patient_id", "starts_at", "needs_staff_attention")


@compiled_per_vendor
def _next_appointment_select(vendor: str) -> Statement:
    """The next open appointment of the patient `patient_phone` at the clinic holding
    `twilio_number`, starting at or after `now`, with that clinic's route."""
    clinic_fields = [f"clinic__{name}" for name in _ROUTE_FIELDS]
    queryset = Appointment.objects.filter(
        clinic__twilio_number=Param("twilio_number", _field(Clinic, "twilio_number")),
        patient__phone=Param("patient_phone", _field(Patient, "phone")),
        patient__clinic_id=F("clinic_id"),
        starts_at__gte=Param("now", _field(Appointment, "starts_at")),
        status__in=OPEN_STATUSES,
    ).order_by("starts_at", "id")
    queryset = _with_step_flags(queryset, "clinic_id").values_list(*_APPOINTMENT_COLUMNS, *clinic_fields, *_STEP_FLAGS)
    return _select(queryset[:1], columns=(*_APPOINTMENT_COLUMNS, *clinic_fields, *_STEP_FLAGS))


def sms_next_appointment(*, to_number: str, from_number: str) -> NextAppointment | None:
    """The patient's next open appointment at the clinic owning `to_number`, with that
    clinic's route, in one query; None if there is none."""
    row = _next_appointment_select().fetch_one(twilio_number=to_number, patient_phone=from_number, now=timezone.now())
    if row is None:
        return None
    appointment_id, patient_id, starts_at, needs_staff_attention = row[: len(_APPOINTMENT_COLUMNS)]
    clinic = ClinicRoute(*row[len(_APPOINTMENT_COLUMNS) :])
    return NextAppointment(appointment_id, patient_id, starts_at, needs_staff_attention, clinic)


def message_log_insert(values: Mapping[str, object]) -> bool:
    """Log a message (MessageLog values by attname, missing ones defaulted); False if its
    MessageSid was logged already. A failure is logged, counted and raised."""
    return _log_row_insert(MessageLog, MESSAGE_LOG, values)


_APPOINTMENT_UPDATE = ("status", "needs_staff_attention", "updated_at")


def _appointment_update_query(*conditions: Any) -> UpdateQuery:
    """UPDATE one appointment's status fields WHERE id = `appointment_pk`; each field's
    Param is named `appointment_<field>`, apart from the log row's attnames."""
    query = UpdateQuery(Appointment)
    query.add_update_values(
        {name: Param(f"appointment_{name}", _field(Appointment, name), for_save=True) for name in _APPOINTMENT_UPDATE}
    )
    query.add_q(Q(*conditions, pk=Param("appointment_pk", _field(Appointment, "id"))))
    return query


@compiled_per_vendor
def _appointment_update(vendor: str) -> Statement:
    """The appointment's status fields, on its own."""
    return Statement(*_appointment_update_query().get_compiler(connection=connection).as_sql())


@compiled_per_vendor
def _message_log_insert_then_appointment_update(vendor: str) -> Statement:
    """PostgreSQL: the message log insert and, only if it inserted, the appointment
    update, in one statement (a data-modifying WITH)."""
    insert, insert_params = _insert_or_ignore(MessageLog)
    inserted = RawSQL("EXISTS (SELECT 1 FROM inserted)", (), output_field=BooleanField())
    update, update_params = _appointment_update_query(inserted).get_compiler(connection=connection).as_sql()
    return Statement(f"WITH inserted AS ({insert} RETURNING 1) {update}", (*insert_params, *update_params))


def message_log_insert_then_appointment_update(
    values: Mapping[str, object], *, appointment_id: int, status: str, needs_staff_attention: bool
) -> bool:
    """Atomically: log the message (as message_log_insert) and, only if its MessageSid
    was new, set the appointment's status and staff flag. False if it was a repeat.

    On PostgreSQL one statement (no BEGIN/COMMIT round trips); elsewhere the two in a
    transaction.
    """
    change = {
        "appointment_pk": appointment_id,
        "appointment_status": status,
        "appointment_needs_staff_attention": needs_staff_attention,
        "appointment_updated_at": timezone.now(),  # auto_now, as save() would set it
    }
    if connection.vendor == "postgresql":
        with _log_write(MESSAGE_LOG, str(values["message_sid"])):
            return _message_log_insert_then_appointment_update().execute(**values, **change) == 1
    with _log_write(MESSAGE_LOG, str(values["message_sid"]), atomic=True):
        if _log_insert(MessageLog).execute(**values) != 1:
            return False
        _appointment_update().execute(**change)
    return True


def message_reply_earlier(*, message_sid: str) -> str:
    """The reply given the first time this MessageSid came ('' if none)."""
    return MessageLog.objects.filter(message_sid=message_sid).values_list("reply", flat=True).first() or ""


def patient_id_get(*, clinic_id: int, phone: str) -> int | None:
    """The id of the clinic's patient with this phone, or None."""
    return Patient.objects.filter(clinic_id=clinic_id, phone=phone).values_list("id", flat=True).first()


def patient_id_get_or_create(*, clinic_id: int, phone: str) -> int:
    """The id of the clinic's patient with this phone, created (unnamed) if new."""
    patient, _ = Patient.objects.get_or_create(clinic_id=clinic_id, phone=phone)
    return patient.pk


def patient_sms_opt_set(*, patient_id: int, opted_out: bool) -> None:
    """Record that the patient opted out of texts (now) or back in."""
    Patient.objects.filter(pk=patient_id).update(sms_opted_out=opted_out, sms_opted_out_at=timezone.now() if opted_out else None)


def checklist_step_tick(*, clinic_id: int, step: str, note: str) -> None:
    """Tick a checklist step done by the system (once: a ticked step stays as it was)."""
    # Callers tick only when the route's step flag says "not yet" (once per clinic): the
    # service keeps the list counter and writes the history event.
    clinic_checklist_tick(clinic_id=clinic_id, step=step, note=note)


# ----------------------------------------------------------------- signing accounts


def account_token_sealed_get(*, account_sid: str) -> str | None:
    """The sealed auth token of a clinic's open subaccount (clinics.sealed), or None if no
    clinic has that subaccount open: one indexed query, which the signature check caches."""
    return (
        Clinic.objects.filter(twilio_account_sid=account_sid)
        .exclude(twilio_account_token_sealed="")
        .exclude(twilio_account_status="closed")
        .values_list("twilio_account_token_sealed", flat=True)
        .first()
    )
