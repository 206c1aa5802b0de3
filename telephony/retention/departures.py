"""A clinic that left (number released, own Twilio subaccount closed: clinics.selectors.
clinic_departed_at): its patients' data downloaded on request, then purged once
MESSAGE_RETENTION_DAYS have passed since it left, never sooner.

The download is one JSON file (patients, appointments, texts, calls), for staff holding
clinics.export_patient_data; each download is recorded in the clinic's history. The purge
deletes the clinic's patients, appointments, texts and calls in one transaction, after the
clinics service has checked the period on the locked clinic row, and records it there too.
Beat's retention run purges the clinics that are due (telephony.retention.redaction).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from clinics import services as clinic_services
from clinics.models import Clinic
from clinics.selectors import clinic_departed_at
from telephony.models import CallLog, MessageLog

# Departed clinics purged per run at most: each is one transaction over all its rows.
PURGES_PER_RUN = 5


def _when(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def clinic_patient_data_export(*, clinic_id: int, actor: User | None) -> dict[str, Any]:
    """Everything kept about the patients of departed clinic `clinic_id`, as one JSON-ready dict,
    and the download recorded in its history. ClinicInputError (a sentence) when the clinic has
    not left or its data was purged; ClinicNotFound for no such clinic."""
    clinic = Clinic.objects.filter(pk=clinic_id).first()
    if clinic is None:
        raise clinic_services.ClinicNotFound(f"No clinic with id {clinic_id}.")
    departed = clinic_services.clinic_patient_data_exportable(clinic=clinic)
    patients = [
        {"id": p.id, "name": p.name, "phone": p.phone, "sms_opted_out": p.sms_opted_out, "created_at": _when(p.created_at)}
        for p in clinic.patients.order_by("id")
    ]
    appointments = [
        {"id": a.id, "patient_id": a.patient_id, "starts_at": _when(a.starts_at), "status": a.status}
        for a in clinic.appointments.order_by("id")
    ]
    messages = [
        {
            "id": m.id,
            "message_sid": m.message_sid,
            "direction": m.direction,
            "from": m.from_number,
            "to": m.to_number,
            "body": m.body,
            "reply": m.reply,
            "patient_id": m.patient_id,
            "created_at": _when(m.created_at),
            "redacted_at": _when(m.redacted_at),
        }
        for m in MessageLog.objects.filter(clinic_id=clinic.pk).order_by("created_at", "id")
    ]
    calls = [
        {
            "id": c.id,
            "call_sid": c.call_sid,
            "direction": c.direction,
            "from": c.from_number,
            "to": c.to_number,
            "status": c.status,
            "duration_seconds": c.duration_seconds,
            "created_at": _when(c.created_at),
            "redacted_at": _when(c.redacted_at),
        }
        for c in CallLog.objects.filter(clinic_id=clinic.pk).order_by("created_at", "id")
    ]
    counts = f"{len(patients)} patient(s), {len(appointments)} appointment(s), {len(messages)} text(s), {len(calls)} call(s)"
    clinic_services.clinic_patient_data_exported(clinic=clinic, counts=counts, actor=actor)
    return {
        "clinic": {"id": clinic.pk, "name": clinic.name, "left_at": _when(departed)},
        "exported_at": _when(timezone.now()),
        "retention_days": settings.MESSAGE_RETENTION_DAYS,
        "patients": patients,
        "appointments": appointments,
        "messages": messages,
        "calls": calls,
    }


def clinic_patient_data_purge(*, clinic_id: int, now: datetime.datetime | None = None, actor: User | None = None) -> str:
    """Purge the patients, appointments, texts and calls of departed clinic `clinic_id` if the
    retention period has passed since it left; a sentence saying what was purged.
    ClinicInputError (a sentence, nothing changed) when it is too soon or the clinic has not left."""
    now = now or timezone.now()
    with transaction.atomic():
        clinic = clinic_services.clinic_patient_data_purge_lock(
            clinic_id=clinic_id, now=now, retention_days=settings.MESSAGE_RETENTION_DAYS
        )
        messages, _ = MessageLog.objects.filter(clinic_id=clinic.pk).delete()
        calls, _ = CallLog.objects.filter(clinic_id=clinic.pk).delete()
        logs = f"{messages} text(s), {calls} call(s)"
        patients, appointments = clinic_services.clinic_patient_data_purge(clinic=clinic, logs=logs, actor=actor)
    return f"{clinic.name}: purged {patients} patient(s), {appointments} appointment(s), {logs}."


def _has_patient_data(clinic: Clinic) -> bool:
    return (
        clinic.patients.exists()
        or MessageLog.objects.filter(clinic_id=clinic.pk).exists()
        or CallLog.objects.filter(clinic_id=clinic.pk).exists()
    )


def departed_clinics_due(*, now: datetime.datetime) -> list[int]:
    """The departed clinics whose retention period had passed by `now` and that still hold patient data."""
    due = []
    cutoff = now - datetime.timedelta(days=settings.MESSAGE_RETENTION_DAYS)
    for clinic in Clinic.objects.filter(twilio_account_status="closed", twilio_number_sid__isnull=True).order_by("id"):
        departed = clinic_departed_at(clinic=clinic)
        if departed is not None and departed <= cutoff and _has_patient_data(clinic):
            due.append(clinic.pk)
    return due


def departed_clinics_purge(*, now: datetime.datetime) -> int:
    """Purge up to PURGES_PER_RUN departed clinics that are due at `now`; how many were purged."""
    purged = 0
    for clinic_id in departed_clinics_due(now=now)[:PURGES_PER_RUN]:
        try:
            clinic_patient_data_purge(clinic_id=clinic_id, now=now)
        except clinic_services.ClinicNumberError:
            continue  # changed since it was listed (it came back, or another run purged it)
        purged += 1
    return purged
