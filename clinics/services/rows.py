"""The two rows every state change of a clinic works on: the clinic row, locked, and its
history row (NumberEvent). Used by the modules of this package only."""

from __future__ import annotations

from django.contrib.auth.models import User

from ..models import Clinic, NumberEvent
from .errors import ClinicNotFound


def clinic_lock(clinic_id: object) -> Clinic:
    """Load and lock the clinic row (call inside transaction.atomic)."""
    if isinstance(clinic_id, bool) or not isinstance(clinic_id, int) or not 0 < clinic_id < 2**63:
        raise ClinicNotFound(f"No clinic with id {str(clinic_id)[:40]!r}.")
    clinic = Clinic.objects.select_for_update().filter(pk=clinic_id).first()
    if clinic is None:
        raise ClinicNotFound(f"No clinic with id {clinic_id}.")
    return clinic


def number_event_write(
    clinic: Clinic | None, kind: str, *, number: str | None = "", sid: str = "", detail: str = "", actor: User | None = None
) -> None:
    """Write the history row of a change; `clinic` None for a number no clinic holds."""
    NumberEvent.objects.create(
        clinic=clinic,
        clinic_name=clinic.name if clinic else "",
        kind=kind,
        phone_number=number or "",
        phone_sid=sid or "",
        detail=detail,
        actor=actor,
    )
