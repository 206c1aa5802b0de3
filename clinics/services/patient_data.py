"""A departed clinic's patient data: the download staff asked for, and the purge once the
retention period has passed since the clinic left (clinics.selectors.clinic_departed_at).

Both write the clinic's history. The purge checks the period itself, on the locked clinic
row, so that no caller can purge sooner by accident: it raises instead of acting.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.models import User

from ..dates import datetime_for_people
from ..models import Clinic, NumberEvent
from ..selectors import clinic_departed_at, clinic_patient_data_purged_at
from .errors import ClinicInputError
from .rows import clinic_lock, number_event_write


def clinic_patient_data_exportable(*, clinic: Clinic) -> datetime.datetime:
    """When `clinic` left, if its patient data can be downloaded (it left, and has not been
    purged since); ClinicInputError with a sentence otherwise."""
    departed = clinic_departed_at(clinic=clinic)
    if departed is None:
        raise ClinicInputError(
            f"{clinic.name} has not left: its patient data can be downloaded once its number is released and its "
            "Twilio subaccount is closed."
        )
    purged = clinic_patient_data_purged_at(clinic=clinic)
    if purged is not None and purged >= departed:
        raise ClinicInputError(
            f"{clinic.name}'s patient data was purged on {datetime_for_people(purged, clinic.time_zone)}: "
            "there is nothing left to download."
        )
    return departed


def clinic_patient_data_exported(*, clinic: Clinic, counts: str, actor: User | None) -> None:
    """Record in `clinic`'s history that `actor` downloaded its patient data (`counts` says what)."""
    number_event_write(clinic, NumberEvent.Kind.PATIENT_DATA_EXPORTED, detail=f"Downloaded: {counts}.", actor=actor)


def clinic_patient_data_purge_lock(*, clinic_id: int, now: datetime.datetime, retention_days: int) -> Clinic:
    """The clinic row, locked, if its patient data may be purged at `now`: it left at least
    `retention_days` days before. ClinicInputError with a sentence otherwise. Call inside
    transaction.atomic(), then clinic_patient_data_purge in the same transaction."""
    clinic = clinic_lock(clinic_id)
    departed = clinic_departed_at(clinic=clinic)
    if departed is None:
        raise ClinicInputError(f"{clinic.name} has not left: its patient data is kept.")
    due = departed + datetime.timedelta(days=retention_days)
    if now < due:
        raise ClinicInputError(
            f"{clinic.name} left on {datetime_for_people(departed, clinic.time_zone)}: its patient data is kept "
            f"{retention_days} days after that, until {datetime_for_people(due, clinic.time_zone)}."
        )
    return clinic


def clinic_patient_data_purge(*, clinic: Clinic, logs: str, actor: User | None = None) -> tuple[int, int]:
    """Delete the patients and appointments of `clinic` (locked by clinic_patient_data_purge_lock)
    and record the purge in its history, with `logs` (what the caller purged besides).
    Returns (patients, appointments) deleted."""
    appointments = clinic.appointments.count()
    clinic.appointments.all().delete()
    patients = clinic.patients.count()
    clinic.patients.all().delete()
    number_event_write(
        clinic,
        NumberEvent.Kind.PATIENT_DATA_PURGED,
        detail=f"Purged: {patients} patient(s), {appointments} appointment(s), {logs}.",
        actor=actor,
    )
    return patients, appointments
