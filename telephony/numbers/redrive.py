"""Beat's re-drive: re-send the work whose send failed or that has been under way too
long (a clinic in provisioning or releasing, or an Operation), and after missed ticks
the work that was in flight before them.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from clinics import services as clinic_services
from clinics.models import NumberState
from telephony import operations, task_names
from telephony.queue import task_send


def stuck_work_resend() -> int:
    """Re-send the work whose send failed or that is stuck; how many were re-sent.

    That is a clinic's purchase or release (its state says the work is owed) and every
    Operation not finished (webhook resets, orphan releases, adoptions, moves). Work
    whose send failed is re-sent at once (beat's next tick); work merely unfinished after
    NUMBER_STUCK_AFTER_SECONDS (a task lost after the send, or dropped by the broker).

    A tick that finds the last one more than 1.5 REDRIVE_PERIOD_SECONDS back knows that
    the task queue, the database or the workers were away in between: it also re-sends
    the work in flight since before that last tick. Redis gives a message it held for a
    worker (waiting out a retry countdown, or prefetched) back only after its visibility
    timeout, and loses its queue when restarted without its data; the tasks' own retries
    (telephony.tasks) cover only the database. The tasks are idempotent, so re-sending
    one that is merely slow buys nothing twice.
    """
    now = timezone.now()
    stuck_after = float(settings.NUMBER_STUCK_AFTER_SECONDS)
    last = operations.redrive_tick_last()
    if last is not None and (now - last).total_seconds() > 1.5 * settings.REDRIVE_PERIOD_SECONDS:
        stuck_after = min(stuck_after, (now - last).total_seconds())
    count = 0
    for clinic in clinic_services.clinics_stuck_claim(older_than_seconds=stuck_after):
        if clinic.number_state == NumberState.PROVISIONING:
            task_send(
                task_names.PROVISION_NUMBER,
                (clinic.id, clinic.requested_area_code, clinic.requested_friendly_name or None),
                clinic_id=clinic.id,
            )
        elif clinic.twilio_number_sid:
            task_send(task_names.RELEASE_CLINIC_NUMBER, (clinic.id, clinic.twilio_number_sid), clinic_id=clinic.id)
        count += 1
    for operation in operations.operations_due_claim(older_than_seconds=stuck_after):
        task_send(operation.task_name, tuple(operation.args), operation_id=operation.pk)
        count += 1
    operations.redrive_tick_save(ran_at=now)
    return count
