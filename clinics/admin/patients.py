"""Admin for patients and their appointments (reminders are sent by telephony.a2p.texting)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from dentsignal.admin_tools import SafeSelectionMixin
from telephony.a2p import texting as messaging

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
    readonly_fields = ("sms_opted_out_at", "created_at")


class AppointmentAdmin(SafeSelectionMixin, admin.ModelAdmin):
    empty_value_display = "—"
    list_display = ("patient", "clinic", "starts_at", "status", "needs_staff_attention", "reminder_sent_at")
    list_filter = ("status", "needs_staff_attention", "clinic")
    search_fields = ("patient__name", "patient__phone")
    date_hierarchy = "starts_at"
    readonly_fields = ("reminder_sent_at", "updated_at")
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
