"""Admin for patients and their appointments (reminders are sent by telephony.a2p.texting)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from dentsignal.admin_tools import SafeSelectionMixin, clinic_date
from telephony.a2p import texting as messaging

from ..dates import time_zone_of
from ..forms import PatientAdminForm
from ..models import Appointment
from .phone_search import PhoneSearchMixin


class PatientAdmin(PhoneSearchMixin, SafeSelectionMixin, admin.ModelAdmin):
    form = PatientAdminForm
    phone_search_fields = ("phone",)
    empty_value_display = "—"
    list_display = ("name", "phone", "clinic", "sms_opted_out")
    list_filter = ("sms_opted_out", "clinic")
    search_fields = ("name", "phone")
    readonly_fields = ("opted_out", "created")
    opted_out = clinic_date("sms_opted_out_at", "Opted out of texts")
    created = clinic_date("created_at", "Created")


class AppointmentAdmin(SafeSelectionMixin, admin.ModelAdmin):
    empty_value_display = "—"
    list_display = ("patient", "clinic", "starts", "status", "needs_staff_attention", "reminder_sent")
    list_select_related = ("patient", "clinic")
    list_filter = ("status", "needs_staff_attention", "clinic")
    search_fields = ("patient__name", "patient__phone")
    date_hierarchy = "starts_at"
    readonly_fields = ("reminder_sent", "last_changed")
    starts = clinic_date("starts_at", "Starts")
    reminder_sent = clinic_date("reminder_sent_at", "Reminder sent")
    last_changed = clinic_date("updated_at", "Last changed")

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """The appointment's form reads and writes its time in the clinic's zone (the one staff
        and patients mean), not the server's."""
        appointment = self.get_object(request, object_id) if object_id else None
        zone = time_zone_of(appointment.clinic.time_zone) if appointment is not None else None
        if zone is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with timezone.override(zone):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if isinstance(response, TemplateResponse):
                response.render()  # now, while the zone is the clinic's: it renders lazily otherwise
            return response

    actions = ["send_reminders", "mark_handled"]

    def has_send_appointment_reminder_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.send_appointment_reminder")

    @admin.action(description="Send reminder SMS", permissions=["send_appointment_reminder"])
    def send_reminders(self, request: HttpRequest, queryset: QuerySet[Appointment]) -> None:
        for appointment in queryset.select_related("patient"):
            if appointment.patient.sms_opted_out:
                self.message_user(request, f"Skipped {appointment}: the patient opted out of texts.", messages.WARNING)
                continue
            messaging.reminder_request(appointment_id=appointment.id)
            self.message_user(request, f"Reminder queued for {appointment}.")

    @admin.action(description="Mark handled by staff", permissions=["change"])
    def mark_handled(self, request: HttpRequest, queryset: QuerySet[Appointment]) -> None:
        count = queryset.update(needs_staff_attention=False)
        self.message_user(request, f"{count} appointment(s) marked handled.")
