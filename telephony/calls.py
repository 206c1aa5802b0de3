"""Inbound calls: which clinic answers, the call log, and call status updates."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from clinics.models import ChecklistItem, Clinic, NumberState, OnboardingStep
from clinics.selectors import CLINIC_BY_TWILIO_NUMBER_SQL, clinic_from_row, clinic_get_by_twilio_number
from dentsignal.sql import insert_fields, row_insert_or_ignore, row_insert_params, sql_fetch_one

from .db import status_write_forward_only
from .models import CallLog
from .statuses import call_status_rank

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallTarget:
    """What an inbound call reaches: the clinic (if any) and whether it is live."""

    clinic: Clinic | None
    active: bool
    call_tested: bool


def _target(clinic: Clinic | None) -> CallTarget:
    if clinic is None:
        return CallTarget(clinic=None, active=False, call_tested=True)
    return CallTarget(clinic=clinic, active=clinic.number_state == NumberState.ACTIVE, call_tested=clinic.step_done)


def call_target_for(*, to_number: str) -> CallTarget:
    """The clinic holding `to_number`, with its checklist flag, in one indexed query."""
    return _target(clinic_get_by_twilio_number(phone_number=to_number, step_done=OnboardingStep.TEST_INBOUND_CALL))


# PostgreSQL: find the clinic and log the call in one statement (a data-modifying WITH);
# the log row takes the clinic's id from the lookup.
_ROUTE_AND_LOG_SQL = (
    f"WITH c AS ({CLINIC_BY_TWILIO_NUMBER_SQL}), logged AS ("  # noqa: S608 - names from the models; values are parameters
    f"INSERT INTO {CallLog._meta.db_table} ({', '.join(f.column for f in insert_fields(CallLog))})"
    f" SELECT {', '.join('(SELECT c.id FROM c)' if f.attname == 'clinic_id' else '%s' for f in insert_fields(CallLog))}"
    f" ON CONFLICT (call_sid) DO NOTHING) SELECT * FROM c"
)


def _inbound_log(*, call_sid: str, from_number: str, to_number: str, status: str) -> dict:
    """The new CallLog row's values, by attname."""
    now = timezone.now()
    return {
        "call_sid": call_sid,
        "from_number": from_number[:32],
        "to_number": to_number[:32],
        "direction": "inbound",
        "status": status[:20],
        "status_rank": call_status_rank(status),
        "created_at": now,
        "updated_at": now,
    }


def call_route_and_log(*, call_sid: str, from_number: str, to_number: str, status: str) -> CallTarget:
    """The clinic holding `to_number` (as call_target_for), and the call logged with it
    (a repeated CallSid changes nothing).

    On PostgreSQL both in one statement. If that fails, or elsewhere, the lookup and the
    log are two statements, and a failed log write is logged and swallowed: the caller
    must be answered anyway. A failed lookup raises DatabaseError.
    """
    call = _inbound_log(call_sid=call_sid, from_number=from_number, to_number=to_number, status=status)
    if connection.vendor == "postgresql" and to_number:
        params = row_insert_params(CallLog, call, exclude={"clinic_id"})
        try:
            with _savepoint_in_transaction():
                row = sql_fetch_one(_ROUTE_AND_LOG_SQL, [OnboardingStep.TEST_INBOUND_CALL, to_number, *params])
            return _target(clinic_from_row(row))
        except DatabaseError:
            logger.exception("Could not route and log inbound call %s in one statement; trying apart", call_sid)
    target = call_target_for(to_number=to_number)
    call["clinic_id"] = target.clinic.id if target.clinic else None
    try:
        with _savepoint_in_transaction():
            # A duplicate CallSid (Twilio retried) hits the unique index and is ignored.
            row_insert_or_ignore(CallLog, call, conflict="call_sid")
    except DatabaseError:
        logger.exception("Could not log inbound call %s; the caller was answered anyway", call_sid)
    return target


def _savepoint_in_transaction():
    """Inside a caller's transaction a failed statement must not spoil it: a savepoint.
    In autocommit (every webhook in production) nothing: no extra round trips."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def call_status_record(*, call_sid: str, status: str, duration: int | None, sequence: int | None) -> None:
    """Apply a call status callback: forward-only, duplicate-safe, unknown SIDs kept.

    One statement: an UPDATE when the call is known (the usual case), an INSERT when not.
    """
    now = timezone.now()
    call = {
        "call_sid": call_sid,
        "status": status[:20],
        "status_rank": call_status_rank(status),
        "sequence_number": sequence,
        "duration_seconds": duration,
        "created_at": now,
        "updated_at": now,
    }
    fields = ["status", "status_rank", "updated_at", "sequence_number"]
    if duration is not None:
        fields.append("duration_seconds")
    status_write_forward_only(CallLog, call, sid_field="call_sid", fields=fields, by_sequence=True)


def call_checklist_tick(*, clinic_id: int, call_sid: str) -> None:
    """Tick "test inbound call" on the clinic's first real call (only then: no cost after)."""
    try:
        ChecklistItem.objects.get_or_create(
            clinic_id=clinic_id, step=OnboardingStep.TEST_INBOUND_CALL, defaults={"note": f"first call {call_sid}"}
        )
    except DatabaseError:
        logger.exception("Could not tick the inbound-call step for clinic %s", clinic_id)
