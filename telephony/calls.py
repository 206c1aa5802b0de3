"""Inbound calls: which clinic answers, the call log, and call status updates."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from clinics.models import ChecklistItem, Clinic, NumberState, OnboardingStep
from clinics.selectors import clinic_get_by_twilio_number

from .db import forward_only_write, insert_or_ignore
from .models import CallLog
from .statuses import call_status_rank

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallTarget:
    """What an inbound call reaches: the clinic (if any) and whether it is live."""

    clinic: Clinic | None
    active: bool
    call_tested: bool


def call_target_for(*, to_number: str) -> CallTarget:
    """The clinic holding `to_number`, with its checklist flag, in one indexed query."""
    clinic = clinic_get_by_twilio_number(phone_number=to_number, step_done=OnboardingStep.TEST_INBOUND_CALL)
    if clinic is None:
        return CallTarget(clinic=None, active=False, call_tested=True)
    return CallTarget(clinic=clinic, active=clinic.number_state == NumberState.ACTIVE, call_tested=clinic.step_done)


def call_log_inbound(*, call_sid: str, clinic: Clinic | None, from_number: str, to_number: str, status: str) -> None:
    """Record an inbound call in one INSERT; a repeated CallSid changes nothing.

    A database error is logged and swallowed: the caller must be answered anyway.
    """
    now = timezone.now()
    try:
        # A duplicate CallSid (Twilio retried) hits the unique index and is ignored.
        insert_or_ignore(
            lambda: CallLog.objects.create(
                call_sid=call_sid,
                clinic=clinic,
                from_number=from_number[:32],
                to_number=to_number[:32],
                direction="inbound",
                status=status[:20],
                status_rank=call_status_rank(status),
                created_at=now,
                updated_at=now,
            )
        )
    except DatabaseError:
        logger.exception("Could not log inbound call %s; the caller was answered anyway", call_sid)


def call_status_record(*, call_sid: str, status: str, duration: int | None, sequence: int | None) -> None:
    """Apply a call status callback: forward-only, duplicate-safe, unknown SIDs kept.

    One UPDATE when the call is known (the usual case); an INSERT when it is not.
    """
    now = timezone.now()
    rank = call_status_rank(status)
    update = {"status": status[:20], "status_rank": rank, "updated_at": now, "sequence_number": sequence}
    if duration is not None:
        update["duration_seconds"] = duration
    newer = Q(status_rank__lt=rank) | Q(status="")
    if sequence is not None:
        # Same rank (e.g. two in-progress callbacks): the higher SequenceNumber wins.
        newer |= Q(status_rank=rank) & (Q(sequence_number__lt=sequence) | Q(sequence_number__isnull=True))
    forward_only_write(
        CallLog.objects.filter(Q(call_sid=call_sid) & newer),
        update=update,
        create=lambda: CallLog.objects.create(call_sid=call_sid, created_at=now, **update),
    )


def call_checklist_tick(*, clinic_id: int, call_sid: str) -> None:
    """Tick "test inbound call" on the clinic's first real call (only then: no cost after)."""
    try:
        ChecklistItem.objects.get_or_create(
            clinic_id=clinic_id, step=OnboardingStep.TEST_INBOUND_CALL, defaults={"note": f"first call {call_sid}"}
        )
    except DatabaseError:
        logger.exception("Could not tick the inbound-call step for clinic %s", clinic_id)
