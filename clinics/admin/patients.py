"""Admin for patients and their appointments (reminders are sent by telephony.a2p.texting).

Patients' data: every page of both writes an access record (AccessLoggedAdminMixin)."""

from datetime import datetime

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from dentsignal.admin_tools import AccessLoggedAdminMixin, SafeSelectionMixin, clinic_date
from telephony.a2p import texting as messaging

from ..dates import time_zone_of
from ..forms import PatientAdminForm
from ..models import Appointment, ReminderOutcome
from .phone_search import PhoneSearchMixin


class PatientAdmin(AccessLoggedAdminMixin, PhoneSearchMixin, SafeSelectionMixin, admin.ModelAdmin):
    form = PatientAdminForm
    phone_search_fields = ("phone",)
    empty_value_display = "—"
    list_display = ("name", "phone", "clinic", "sms_opted_out")
    list_filter = ("sms_opted_out", "clinic")
    search_fields = ("name", "phone")
    readonly_fields = ("opted_out", "created")
    opted_out = clinic_date("sms_opted_out_at", "Opted out of texts")
    created = clinic_date("created_at", "Created")


class AppointmentAdmin(AccessLoggedAdminMixin, SafeSelectionMixin, admin.ModelAdmin):
    empty_value_display = "—"
    list_display = ("patient", "clinic", "starts", "status", "needs_staff_attention", "reminder_sent", "reminder_display")
    list_select_related = ("patient", "clinic")
    list_filter = ("status", "needs_staff_attention", "clinic")
    search_fields = ("patient__name", "patient__phone")
    date_hierarchy = "starts_at"
    # The patient by id (with its name), not a select of every clinic's patients: the page
    # shows one patient, the one its access record names; picking another opens the
    # patients' list, recorded in turn.
    raw_id_fields = ("patient",)
    readonly_fields = ("reminder_sent", "reminder_display", "reminder_outcome_when", "last_changed")
    exclude = ("reminder_sent_at", "reminder_outcome", "reminder_outcome_detail", "reminder_outcome_at")
    starts = clinic_date("starts_at", "Starts")
    reminder_sent = clinic_date("reminder_sent_at", "Reminder sent")
    reminder_outcome_when = clinic_date("reminder_outcome_at", "Reminder outcome at")
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

    @admin.display(description="Reminder")
    def reminder_display(self, appointment: Appointment) -> str:
        """The last reminder's outcome and why (a skipped or refused one says so)."""
        if not appointment.reminder_outcome:
            return "—"
        label = ReminderOutcome(appointment.reminder_outcome).label
        if appointment.reminder_outcome == ReminderOutcome.SENT:
            return label
        return format_html("<strong>{}</strong>: {}", label, appointment.reminder_outcome_detail)

    @admin.action(description="Send reminder SMS", permissions=["send_appointment_reminder"])
    def send_reminders(self, request: HttpRequest, queryset: QuerySet[Appointment]) -> None:
        for appointment in queryset.select_related("patient"):
            if appointment.patient.sms_opted_out:
                self.message_user(request, f"Skipped {appointment}: the patient opted out of texts.", messages.WARNING)
                continue
            asked_at = timezone.now()
            messaging.reminder_request(appointment_id=appointment.id)
            self._report(request, appointment, asked_at)

    def _report(self, request: HttpRequest, appointment: Appointment, asked_at: datetime) -> None:
        """Say what became of the reminder when it already ran (eager tasks), else that it is queued."""
        done = Appointment.objects.filter(pk=appointment.pk, reminder_outcome_at__gte=asked_at).first()
        if done is None:
            self.message_user(
                request,
                f"Reminder for {appointment} handed to the task queue: the appointment's Reminder column shows whether "
                "it was sent.",
                messages.INFO,
            )
        elif done.reminder_outcome == ReminderOutcome.SENT:
            self.message_user(request, f"Reminder sent for {appointment}.", messages.SUCCESS)
        elif done.reminder_outcome == ReminderOutcome.SKIPPED:
            self.message_user(request, f"Reminder not sent for {appointment}: {done.reminder_outcome_detail}", messages.WARNING)
        else:
            self.message_user(request, f"Reminder for {appointment} refused: {done.reminder_outcome_detail}", messages.ERROR)

    @admin.action(description="Mark handled by staff", permissions=["change"])
    def mark_handled(self, request: HttpRequest, queryset: QuerySet[Appointment]) -> None:
        count = queryset.update(needs_staff_attention=False)
        self.message_user(request, f"{count} appointment(s) marked handled.", messages.SUCCESS)
