"""Every database read and write of Twilio's webhooks, as named, typed functions.

Twilio waits for each webhook (a caller hears silence meanwhile), and building and
compiling a queryset costs more CPU than running its SQL (figures in bench/README.md).
So each statement below is an ORM queryset compiled once per database vendor and run
with new values (telephony/webhooks/statements.py, which documents the mechanism and the
private Django API it relies on). A duplicate or out-of-order delivery must change
nothing, without a savepoint: `ON CONFLICT (<sid>) DO NOTHING`, and for status callbacks
Django's `DO UPDATE SET` plus a `WHERE` (the status is newer, and the row is the
signer's: telephony/tenants.py), appended with quoted names; PostgreSQL and SQLite both
accept them.

A patient's text and our reply are sealed at rest (MessageLog.body/reply are
clinics.sealed.SealedTextField): a compiled INSERT prepares each value through its field,
so each is sealed once as it is bound, with no query and no code here.

The webhooks read a clinic as a frozen `ClinicRoute`, never as a half-loaded Clinic.
A log write that fails is logged at ERROR with its Call/Message SID and counted in
`LogWriteFailure`, which `manage.py telephony_doctor` reports. Off the steady path
(first SMS of a patient, opt-outs, repeats) the functions here use the ORM as usual.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, Exists, F, Model, OuterRef, Q, QuerySet
from django.db.models.constants import OnConflict
from django.db.models.expressions import RawSQL
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from clinics.models import (
    PATHS_FORWARDING,
    Appointment,
    AppointmentStatus,
    ChecklistItem,
    Clinic,
    NumberState,
    OnboardingPath,
    OnboardingStep,
    Patient,
)
from clinics.sealed import Unopenable
from clinics.services import clinic_checklist_tick, clinic_forwarded_call_record
from telephony.models import CallLog, LogWriteFailure, MessageLog
from telephony.webhooks.statements import (
    Param,
    Slot,
    Statement,
    compiled_per_vendor,
    insert_or_ignore_sql,
    insert_or_ignore_when_sql,
    insert_sql,
    model_field,
    select_statement,
)

logger = logging.getLogger(__name__)

OPEN_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.CONFIRMED, AppointmentStatus.RESCHEDULE_REQUESTED)
CALL_LOG, MESSAGE_LOG = "call_log", "message_log"


def _signer_slot() -> Slot:
    """The request's signer (telephony.tenants: "" for the main account), as a parameter."""
    return Slot("signer", model_field(Clinic, "twilio_account_sid"), for_save=False, default=False)


def _sid_field(model: type[Model]) -> str:
    return {CallLog: "call_sid", MessageLog: "message_sid"}[model]


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
    onboarding_path: str  # clinics.models.OnboardingPath
    published_number: str  # the clinic's published line (E.164), "" when its path keeps none
    call_tested: bool  # "test inbound call" is ticked
    sms_tested: bool  # "test inbound SMS" is ticked
    campaign_approved: bool = False  # A2P "campaign approved and number in the Messaging Service" is ticked
    forward_reached: bool = False  # "calls to the published number reach the agent" is ticked

    @property
    def active(self) -> bool:
        """The number is live (an AI agent may answer)."""
        return self.number_state == NumberState.ACTIVE

    def texts_reach(self, to_number: str) -> bool:
        """Whether a text to `to_number` tests the clinic's texting: on the text-enable path only
        one to the published number (hosted at Twilio), not one to the number it forwards calls to."""
        return self.onboarding_path != OnboardingPath.TEXT_ENABLE or to_number == self.published_number

    @property
    def forwarded_line(self) -> str:
        """The published line that forwards its calls to this number ("" when none does):
        ringing it from a fallback would send a no-answer call straight back here."""
        return self.published_number if self.onboarding_path in PATHS_FORWARDING else ""


_ROUTE_FIELDS = (
    "id",
    "name",
    "office_phone",
    "twilio_number",
    "number_state",
    "twilio_account_sid",
    "onboarding_path",
    "published_number",
)
_ROUTE_COLUMNS = tuple(f.name for f in fields(ClinicRoute))
_STEP_FLAGS = _ROUTE_COLUMNS[len(_ROUTE_FIELDS) :]


def _step_ticked(step: str, clinic: str) -> Exists:
    return Exists(ChecklistItem.objects.filter(clinic_id=OuterRef(clinic), step=step))


def _with_step_flags(queryset: QuerySet, clinic: str) -> QuerySet:
    return queryset.annotate(
        call_tested=_step_ticked(OnboardingStep.TEST_INBOUND_CALL, clinic),
        sms_tested=_step_ticked(OnboardingStep.TEST_INBOUND_SMS, clinic),
        campaign_approved=_step_ticked(OnboardingStep.A2P_CAMPAIGN_APPROVED, clinic),
        forward_reached=_step_ticked(OnboardingStep.PUBLISHED_LINE, clinic),
    )


@compiled_per_vendor
def _route_select(vendor: str) -> Statement:
    """The clinic holding the number `twilio_number` (unique) as its number or, text-enabled,
    as its voice number (Clinic.voice_number, also unique), with its step flags."""
    number = model_field(Clinic, "twilio_number")
    queryset = Clinic.objects.filter(
        Q(twilio_number=Param("twilio_number", number)) | Q(voice_number=Param("twilio_number", number))
    ).order_by()
    return select_statement(_with_step_flags(queryset, "pk").values_list(*_ROUTE_COLUMNS), columns=_ROUTE_COLUMNS)


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
    return Statement(*insert_or_ignore_sql(model, _sid_field(model)))


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
    signer = (_signer_slot(), _signer_slot())
    insert, insert_params = insert_or_ignore_when_sql(CallLog, "call_sid", mine, signer, clinic_id=clinic_id)
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
    sql, params = insert_sql(model, on_conflict=OnConflict.UPDATE, conflict=_sid_field(model), update=update)
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
        clinic__twilio_number=Param("twilio_number", model_field(Clinic, "twilio_number")),
        patient__phone=Param("patient_phone", model_field(Patient, "phone")),
        patient__clinic_id=F("clinic_id"),
        starts_at__gte=Param("now", model_field(Appointment, "starts_at")),
        status__in=OPEN_STATUSES,
    ).order_by("starts_at", "id")
    queryset = _with_step_flags(queryset, "clinic_id").values_list(*_APPOINTMENT_COLUMNS, *clinic_fields, *_STEP_FLAGS)
    return select_statement(queryset[:1], columns=(*_APPOINTMENT_COLUMNS, *clinic_fields, *_STEP_FLAGS))


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
        {name: Param(f"appointment_{name}", model_field(Appointment, name), for_save=True) for name in _APPOINTMENT_UPDATE}
    )
    query.add_q(Q(*conditions, pk=Param("appointment_pk", model_field(Appointment, "id"))))
    return query


@compiled_per_vendor
def _appointment_update(vendor: str) -> Statement:
    """The appointment's status fields, on its own."""
    return Statement(*_appointment_update_query().get_compiler(connection=connection).as_sql())


@compiled_per_vendor
def _message_log_insert_then_appointment_update(vendor: str) -> Statement:
    """PostgreSQL: the message log insert and, only if it inserted, the appointment
    update, in one statement (a data-modifying WITH)."""
    insert, insert_params = insert_or_ignore_sql(MessageLog, "message_sid")
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
    """The reply given the first time this MessageSid came ('' if none, or if it was sealed
    under a key since dropped: the patient had it the first time)."""
    reply = MessageLog.objects.filter(message_sid=message_sid).values_list("reply", flat=True).first() or ""
    return "" if isinstance(reply, Unopenable) else reply


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


def forwarded_call_record(*, clinic_id: int, forwarded_from: str) -> bool:
    """A call came forwarded from the clinic's published line (Twilio's ForwardedFrom, E.164):
    the forward path's evidence step. Called only while the route's flag says "not yet"."""
    return clinic_forwarded_call_record(clinic_id=clinic_id, forwarded_from=forwarded_from)


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
