"""The clinics whose number work must be sent to the task queue again: a send the broker
refused (marked at once), or a task lost after the send (too long in its state). The
periodic re-drive (telephony.numbers.provisioning) claims them here and sends them again."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Clinic, NumberEvent, NumberState

# States whose work is done by a task (and so can be stuck when the task is lost).
STUCKABLE_STATES = (NumberState.PROVISIONING, NumberState.RELEASING)


def clinic_send_failed_mark(*, clinic_id: int) -> None:
    """Record that the clinic's work could not be sent to the task queue (re-sent at beat's next tick)."""
    Clinic.objects.filter(pk=clinic_id, number_state__in=STUCKABLE_STATES).update(send_failed_at=timezone.now())


def clinics_stuck_claim(*, older_than_seconds: float | None = None) -> list[Clinic]:
    """Claim the clinics whose work must be sent again, for the periodic re-drive.

    That is a clinic in provisioning/releasing whose send failed (`send_failed_at`,
    claimed at once), or that has been in that state longer than `older_than_seconds`
    (NUMBER_STUCK_AFTER_SECONDS) and was not re-driven within that time (a task lost
    after the send). Each claimed clinic gets `last_redriven_at`, its send mark
    cleared, and a history event.
    """
    seconds = settings.NUMBER_STUCK_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - timedelta(seconds=seconds)
    stuck = Q(number_state_changed_at__lt=cutoff) & (Q(last_redriven_at__isnull=True) | Q(last_redriven_at__lt=cutoff))
    with transaction.atomic():
        clinics = list(
            Clinic.objects.select_for_update(skip_locked=True).filter(
                Q(send_failed_at__isnull=False) | stuck,
                number_state__in=STUCKABLE_STATES,
            )
        )
        Clinic.objects.filter(pk__in=[c.pk for c in clinics]).update(last_redriven_at=timezone.now(), send_failed_at=None)
        NumberEvent.objects.bulk_create(
            [
                NumberEvent(
                    clinic=c,
                    clinic_name=c.name,
                    kind=NumberEvent.Kind.REDRIVEN,
                    phone_number=c.twilio_number or c.pending_number,
                    phone_sid=c.twilio_number_sid or "",
                    detail=(
                        "the task queue could not take it; re-sent"
                        if c.send_failed_at
                        else f"{c.get_number_state_display()} since {c.number_state_changed_at:%Y-%m-%d %H:%M} UTC; re-sent"
                    ),
                )
                for c in clinics
            ]
        )
    return clinics
