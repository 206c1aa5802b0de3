"""A clinic that left: its patients' data downloaded (permission-checked, recorded), then purged
only once MESSAGE_RETENTION_DAYS have passed since it left, never sooner."""

from __future__ import annotations

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from clinics import services as clinic_services
from clinics.models import Appointment, NumberEvent, Patient
from clinics.models_access import AccessRecord, AccessView
from telephony.models import CallLog, MessageLog
from telephony.retention.departures import clinic_patient_data_purge
from telephony.retention.redaction import retention_run
from tests.factories import ClinicFactory

pytestmark = [pytest.mark.django_db, pytest.mark.no_sandbox]


def departed_clinic(*, left_at: datetime.datetime):
    clinic = ClinicFactory(twilio_account_sid="AC" + "1" * 32, twilio_account_status="closed")
    NumberEvent.objects.create(
        clinic=clinic, clinic_name=clinic.name, kind=NumberEvent.Kind.SUBACCOUNT_CLOSED, created_at=left_at
    )
    patient = Patient.objects.create(clinic=clinic, name="Ada", phone="+15125554567")
    Appointment.objects.create(clinic=clinic, patient=patient, starts_at=left_at)
    MessageLog.objects.create(
        message_sid="SM" + "e" * 32, clinic=clinic, patient=patient, body="Is it Tuesday?", created_at=left_at
    )
    CallLog.objects.create(call_sid="CA" + "f" * 32, clinic=clinic, from_number="+15125554567", created_at=left_at)
    return clinic


def held(clinic) -> tuple[int, int, int, int]:
    return (
        Patient.objects.filter(clinic=clinic).count(),
        Appointment.objects.filter(clinic=clinic).count(),
        MessageLog.objects.filter(clinic=clinic).count(),
        CallLog.objects.filter(clinic=clinic).count(),
    )


def test_purge_never_before_the_retention_period_since_leaving_then_recorded(settings):
    settings.MESSAGE_RETENTION_DAYS = 90
    left = timezone.now() - datetime.timedelta(days=200)
    clinic = departed_clinic(left_at=left)
    due = left + datetime.timedelta(days=90)

    with pytest.raises(clinic_services.ClinicInputError, match="kept 90 days after that"):
        clinic_patient_data_purge(clinic_id=clinic.pk, now=due - datetime.timedelta(seconds=1))
    assert retention_run(now=due - datetime.timedelta(seconds=1)).clinics_purged == 0
    assert held(clinic) == (1, 1, 1, 1)

    assert retention_run(now=due).clinics_purged == 1

    assert held(clinic) == (0, 0, 0, 0)
    event = clinic.number_events.get(kind=NumberEvent.Kind.PATIENT_DATA_PURGED)
    assert event.detail == "Purged: 1 patient(s), 1 appointment(s), 1 text(s), 1 call(s)."
    assert retention_run(now=due).clinics_purged == 0  # idempotent: nothing left to purge


def test_a_clinic_that_has_not_left_is_never_purged(settings):
    clinic = departed_clinic(left_at=timezone.now() - datetime.timedelta(days=900))
    clinic.twilio_account_status = "active"  # subaccount open again: not left
    clinic.save(update_fields=["twilio_account_status"])

    with pytest.raises(clinic_services.ClinicInputError, match="has not left"):
        clinic_patient_data_purge(clinic_id=clinic.pk)
    assert retention_run().clinics_purged == 0
    assert held(clinic) == (1, 1, 1, 1)


def test_download_is_permission_checked_post_only_and_recorded(admin_client, client, staff_user):
    clinic = departed_clinic(left_at=timezone.now() - datetime.timedelta(days=3))
    url = reverse("admin:clinics_clinic_patient_data_export", args=[clinic.pk])
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()
    assert "Download patient data" in page

    client.force_login(staff_user)  # Onboarding staff: no permission on patient data
    assert client.post(url).status_code == 403
    assert admin_client.get(url).status_code == 405
    assert not clinic.number_events.filter(kind=NumberEvent.Kind.PATIENT_DATA_EXPORTED).exists()

    response = admin_client.post(url)

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="patient-data-clinic-')
    data = json.loads(response.content)
    assert [p["phone"] for p in data["patients"]] == ["+15125554567"]
    assert len(data["appointments"]) == 1 and len(data["calls"]) == 1
    assert data["messages"][0]["body"] == "Is it Tuesday?"
    event = clinic.number_events.get(kind=NumberEvent.Kind.PATIENT_DATA_EXPORTED)
    assert event.detail == "Downloaded: 1 patient(s), 1 appointment(s), 1 text(s), 1 call(s)."
    # The download is a look at every row it holds: one access record per kind of row.
    records = {r.model: r for r in AccessRecord.objects.filter(view=AccessView.EXPORT)}
    assert set(records) == {"clinics.patient", "clinics.appointment", "telephony.messagelog", "telephony.calllog"}
    assert records["clinics.patient"].object_ids == [str(p["id"]) for p in data["patients"]]
    assert "body" in records["telephony.messagelog"].fields and records["telephony.messagelog"].path == url


def test_download_of_a_clinic_that_has_not_left_gets_a_sentence_and_writes_nothing(admin_client):
    clinic = ClinicFactory()
    url = reverse("admin:clinics_clinic_patient_data_export", args=[clinic.pk])

    response = admin_client.post(url, follow=True)

    assert "has not left: its patient data can be downloaded once its number is released" in response.content.decode()
    assert not clinic.number_events.exists()
