"""What became of an appointment's reminder, as staff see it on the appointment and the clinic."""

from __future__ import annotations

from django.utils import timezone

from ..models import Appointment, ReminderOutcome


def appointment_reminder_outcome_record(*, appointment_id: int, outcome: str, detail: str) -> bool:
    """Record the last reminder's outcome (sent, skipped or refused) and why; False when no such appointment.

    `detail` is a sentence staff can act on: no SIDs, no setting names, no status tokens.
    """
    if outcome not in ReminderOutcome.values:
        raise ValueError(f"Unknown reminder outcome {outcome!r}.")
    return bool(
        Appointment.objects.filter(pk=appointment_id).update(
            reminder_outcome=outcome, reminder_outcome_detail=detail[:1000], reminder_outcome_at=timezone.now()
        )
    )
