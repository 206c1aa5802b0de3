"""Inbound calls: which clinic answers, the call log, and call status updates."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.utils import timezone

from clinics.models import OnboardingStep

from . import hot_path
from .hot_path import ClinicRoute
from .statuses import call_status_rank

logger = logging.getLogger(__name__)


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


def call_route_and_log(*, call_sid: str, from_number: str, to_number: str, status: str) -> ClinicRoute | None:
    """The clinic holding `to_number` (None if none), and the call logged with it (a
    repeated CallSid changes nothing).

    On PostgreSQL both in one statement; if that fails, or elsewhere, the read and the
    log are two statements. A failed log write never stops the caller being answered:
    it is logged at ERROR with the CallSid and counted (telephony_doctor reports it).
    A failed read raises DatabaseError.
    """
    call = _inbound_log(call_sid=call_sid, from_number=from_number, to_number=to_number, status=status)
    if to_number and hot_path.route_and_log_in_one_statement():
        try:
            return hot_path.call_route_and_log(to_number=to_number, call=call)
        except DatabaseError:
            logger.exception("Could not route and log inbound call %s in one statement; trying apart", call_sid)
    route = hot_path.clinic_route_get(to_number=to_number)
    call["clinic_id"] = route.id if route else None
    try:
        hot_path.call_log_insert(call)  # a duplicate CallSid (Twilio retried) is ignored
    except DatabaseError:
        pass  # logged at ERROR and counted by hot_path; the caller is answered anyway
    return route


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
    update = ["status", "status_rank", "updated_at", "sequence_number"]
    if duration is not None:
        update.append("duration_seconds")
    hot_path.call_status_upsert(call, update=update)


def call_checklist_tick(*, clinic_id: int, call_sid: str) -> None:
    """Tick "test inbound call" on the clinic's first real call (only then: no cost after)."""
    try:
        hot_path.checklist_step_tick(clinic_id=clinic_id, step=OnboardingStep.TEST_INBOUND_CALL, note=f"first call {call_sid}")
    except DatabaseError:
        logger.exception("Could not tick the inbound-call step for clinic %s", clinic_id)
