"""The clinic page's patient data: the retention line, and a departed clinic's download.

The download is one JSON file of the clinic's patients, appointments, texts and calls
(telephony.retention.departures), for staff holding clinics.export_patient_data, by POST
(it writes the clinic's history); a clinic that has not left, or whose data was purged,
gets a sentence and nothing is written.
"""

import json

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils import timezone

from dentsignal.admin_tools import access_record, request_actor
from telephony.models import CallLog, MessageLog
from telephony.retention import departures

from .. import services
from ..models import Appointment, Clinic, Patient
from ..models_access import AccessView
from .pages import clinic_for

EXPORT_PERMISSION = "clinics.export_patient_data"


def patient_data_exportable(request: HttpRequest, clinic: Clinic) -> bool:
    """Whether the clinic page offers the download to this user."""
    if not request.user.has_perm(EXPORT_PERMISSION):
        return False
    try:
        services.clinic_patient_data_exportable(clinic=clinic)
    except services.ClinicInputError:
        return False
    return True


def patient_data_export_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int) -> HttpResponse:
    clinic = clinic_for(request, clinic_id, EXPORT_PERMISSION)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        data = departures.clinic_patient_data_export(clinic_id=clinic.pk, actor=request_actor(request))
    except services.ClinicInputError as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return redirect("admin:clinics_clinic_change", clinic.pk)
    for model, key in ((Patient, "patients"), (Appointment, "appointments"), (MessageLog, "messages"), (CallLog, "calls")):
        rows = data[key]
        if rows:  # the download shows every row it holds: one access record per kind of row
            fields = list(rows[0])
            access_record(request, model=model, object_ids=[row["id"] for row in rows], fields=fields, view=AccessView.EXPORT)
    response = HttpResponse(json.dumps(data, indent=2), content_type="application/json")
    name = f"patient-data-clinic-{clinic.pk}-{timezone.now():%Y%m%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
