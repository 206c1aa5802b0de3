"""Operations: Twilio work sent to the task queue that no clinic's number state tracks
(webhook resets, orphan releases, adoptions, moves), kept until its task says how it ended.

A clinic's purchase and release need no such record: the clinic's own state
(provisioning, releasing) says that work is owed, and the re-drive reads it there. The
rest is recorded here in the same transaction as the request (telephony.queue sends it
on commit), so that beat's re-drive (telephony.numbers.redrive.stuck_work_resend) can send
it again until its task finishes it (telephony.tasks records the outcome).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from telephony.models import Operation, RedriveTick


def operation_record(
    *,
    task_name: str,
    args: Sequence[Any],
    clinic_id: int | None = None,
    phone_sid: str = "",
    phone_number: str = "",
    actor: User | None = None,
) -> Operation:
    """Record the work (call inside the request's transaction, before the send); the same
    work still waiting (same task, same arguments) is reused, so repeated clicks make one."""
    waiting = Operation.objects.filter(status=Operation.Status.PENDING, task_name=task_name, args=list(args)).first()
    if waiting is not None:
        return waiting
    return Operation.objects.create(
        task_name=task_name, args=list(args), clinic_id=clinic_id, phone_sid=phone_sid, phone_number=phone_number, actor=actor
    )


def operation_send_failed(*, operation_id: int) -> None:
    """Record that the operation's send failed (task queue down or hung): re-sent at beat's next tick."""
    Operation.objects.filter(pk=operation_id, status=Operation.Status.PENDING).update(send_failed_at=timezone.now())


def operations_due_claim(*, older_than_seconds: float | None = None) -> list[Operation]:
    """Claim the operations to send again, for the periodic re-drive: those whose send failed
    (at once) and those sent more than `older_than_seconds` (NUMBER_STUCK_AFTER_SECONDS)
    ago whose task never said it was done (lost on the way). Each is marked sent now, so
    it is claimed once per delay."""
    now = timezone.now()
    seconds = settings.NUMBER_STUCK_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    lost = Q(sent_at__lt=now - timedelta(seconds=seconds))
    with transaction.atomic():
        due = list(
            Operation.objects.select_for_update(skip_locked=True).filter(
                Q(send_failed_at__isnull=False) | lost, status=Operation.Status.PENDING
            )
        )
        Operation.objects.filter(pk__in=[op.pk for op in due]).update(sent_at=now, send_failed_at=None, resends=F("resends") + 1)
    return due


def redrive_tick_last() -> datetime | None:
    """When the re-drive last ran to its end (None before its first run)."""
    return RedriveTick.objects.values_list("ran_at", flat=True).first()


def redrive_tick_save(*, ran_at: datetime) -> None:
    """Record that the re-drive ran to its end at `ran_at`."""
    RedriveTick.objects.update_or_create(pk=1, defaults={"ran_at": ran_at})


def operation_finish(*, task_name: str, args: Iterable[Any], result: dict[str, Any]) -> int:
    """Record how the work ended (`result` is the task's answer) on the operations waiting
    for it; how many (none for work that was not recorded)."""
    ok = bool(result.get("success"))
    outcome = str(result.get("error") or result.get("message") or "")
    return Operation.objects.filter(status=Operation.Status.PENDING, task_name=task_name, args=list(args)).update(
        status=Operation.Status.DONE if ok else Operation.Status.FAILED, finished_at=timezone.now(), outcome=outcome
    )


def operation_queued(*, task_name: str, clinic_id: int) -> bool:
    """Whether the clinic's `task_name` work waits for the task queue, which did not take it."""
    return Operation.objects.filter(
        status=Operation.Status.PENDING, task_name=task_name, clinic_id=clinic_id, send_failed_at__isnull=False
    ).exists()


def operations_reread(operations: Sequence[Operation]) -> list[Operation]:
    """The operations as they stand now (after the send on commit, or the eager run), in order."""
    fresh = Operation.objects.in_bulk([op.pk for op in operations])
    return [fresh[op.pk] for op in operations]
