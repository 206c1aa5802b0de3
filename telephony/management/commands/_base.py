"""Shared bits of the telephony management commands."""

from django.core.management.base import CommandError

from clinics.models import Clinic


def clinic_or_error(clinic_id: int) -> Clinic:
    """The clinic with this id, or a CommandError that says there is none."""
    clinic = Clinic.objects.filter(pk=clinic_id).first() if 0 < clinic_id < 2**63 else None
    if clinic is None:
        raise CommandError(f"No clinic with id {clinic_id}.")
    return clinic


def outcome_or_error(clinic: Clinic, *, done_state: str) -> str:
    """A line describing the clinic's number after an operation; CommandError if it failed."""
    clinic.refresh_from_db()
    if clinic.number_state == "failed":
        raise CommandError(f"{clinic.name}: {clinic.number_error}")
    if clinic.number_state == done_state:
        return f"{clinic.name}: {clinic.get_number_state_display().lower()}"
    return f"{clinic.name}: {clinic.get_number_state_display().lower()} (a worker is doing it)"
