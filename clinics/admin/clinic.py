"""ClinicAdmin: the clinic list (columns, filters, search) and the clinic page (its fields,
the number history, the buttons each user may press), with the permission behind each
power. Its actions are in actions.py, its buttons' views in views.py, its Onboarding
section in onboarding.py; they hand the work to the workflows (telephony.numbers).
"""

from django.conf import settings
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from dentsignal.admin_tools import NAME_SHOWN, SafeSelectionMixin, access_record, clinic_date, request_actor
from telephony import operations, task_names
from telephony.numbers import porting_in
from telephony.queue import QUEUED_FOR_RESEND
from telephony.retention.redaction import clinic_redaction_summary

from .. import services
from ..dates import datetime_for_people, time_zone_for_number
from ..forms import ClinicAdminForm
from ..models import (
    PATHS_FORWARDING,
    Appointment,
    Clinic,
    ClinicUsage,
    NumberEvent,
    NumberState,
    OnboardingPath,
    OnboardingStep,
    Patient,
    ReminderOutcome,
)
from ..models_a2p import A2PRegistration, BusinessProfile
from ..models_access import AccessView
from ..models_porting import PortInState
from ..phone import phone_format_national
from ..selectors import (
    CHECKLIST_TOTAL,
    clinic_checklist,
    clinic_list_with_progress,
    clinic_port_in_current,
    clinic_reminders_not_sent,
)
from .a2p import START_PERMISSION, a2p_pipeline_html
from .actions import (
    mark_listing_updated,
    move_to_subaccount,
    provision_number,
    reactivate_subaccount,
    release_number,
    retry_provisioning,
    suspend_subaccount,
    update_webhooks,
)
from .onboarding import checklist_html, next_step_html, onboarding_path_html, test_call_html, text_enable_buttons
from .outcomes import sentence_html
from .pages import KEEP_NUMBER_PERMISSION
from .patient_data import patient_data_exportable
from .phone_search import PhoneSearchMixin
from .sandbox_moves import sandbox_buttons
from .views import clinic_urls

# Records that exist only for their clinic and go with it (see ClinicAdmin.get_deleted_objects).
CLINIC_OWNED = (A2PRegistration, BusinessProfile)


class ClinicPagesMedia:
    """The small stylesheet that keeps clinic pages readable from 390 px to 1366 px wide."""

    css = {"all": ("clinics/admin-layout.css",)}


class NumberEventInline(admin.TabularInline):
    model = NumberEvent
    fk_name = "clinic"
    verbose_name_plural = "Number history"
    # Django's tabular inline prints each row's str() above it too: each event showed twice.
    template = "admin/clinics/clinic/number_history_inline.html"
    fields = ("when", "kind", "phone_number", "detail", "actor")
    readonly_fields = fields
    classes = ("number-history",)
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[NumberEvent]:
        return super().get_queryset(request).select_related("clinic", "actor")

    when = clinic_date("created_at", "When")


class ChecklistFilter(admin.SimpleListFilter):
    """Clinics by onboarding progress."""

    title = "checklist"
    parameter_name = "checklist"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("complete", "All steps done"), ("incomplete", "Steps to do")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> QuerySet[Clinic]:
        if self.value() == "complete":
            # The indexed counter column (clinics.services keeps it): no COUNT at 100,000 clinics.
            return queryset.filter(checklist_done__gte=CHECKLIST_TOTAL)
        if self.value() == "incomplete":
            return queryset.filter(checklist_done__lt=CHECKLIST_TOTAL)
        return queryset


# The clinic page's sections that name patients (field -> the one line shown instead to
# staff without PATIENT_DATA_PERMISSION), and what "Reminders not sent" shows of each appointment.
PATIENT_DATA_PERMISSION = "clinics.view_appointment"
PATIENT_SECTIONS = {"reminders_not_sent_display": "reminders_hidden_display"}
PATIENT_DATA_HIDDEN = "Hidden: it names patients, and only the Clinic support group may see patients' data."
REMINDERS_FIELDS = ("reminder_outcome_at", "patient", "starts_at", "reminder_outcome", "reminder_outcome_detail")


def _patients_hidden(field: object) -> object:
    """A fieldset's entry (a name, or a row of names) with each section naming patients swapped for its note."""
    return PATIENT_SECTIONS.get(field, field) if isinstance(field, str) else field


class ClinicAdmin(PhoneSearchMixin, SafeSelectionMixin, admin.ModelAdmin):
    form = ClinicAdminForm
    phone_search_fields = ("twilio_number", "office_phone")
    list_display = ("name", "number_display", "number_state", "state_age", "checklist_progress", "number_error_short")
    list_filter = ("number_state", ChecklistFilter)
    empty_value_display = "—"
    # The list pages by primary key only, never counting 100,000 rows twice for the paginator's
    # total (the filtered count is still shown): see bench/README.md "Admin list".
    show_full_result_count = False
    # 50 rows: a page that reads on a phone and renders in a fraction of the 300 ms budget.
    list_per_page = 50
    object_history_template = "admin/clinics/clinic/object_history.html"
    Media = ClinicPagesMedia
    change_form_template = "admin/clinics/clinic/change_form.html"
    # Say why a delete is refused (see get_deleted_objects) instead of Django's "protected objects".
    delete_confirmation_template = "admin/clinics/clinic/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/clinics/clinic/delete_selected_confirmation.html"
    search_fields = ("name", "twilio_number", "twilio_number_sid")
    actions = [
        provision_number,
        retry_provisioning,
        release_number,
        update_webhooks,
        mark_listing_updated,
        suspend_subaccount,
        reactivate_subaccount,
        move_to_subaccount,
    ]
    inlines = [NumberEventInline]
    # The subaccount's auth token (sealed) is a secret: never on an admin page or form.
    exclude = ("twilio_account_token_sealed",)
    readonly_fields = (
        "next_step",
        "onboarding_path_display",
        "number_for_people",
        "number_state",
        "state_since",
        "twilio_number",
        "twilio_number_sid",
        "twilio_account_sid",
        "twilio_account_status",
        "move_display",
        "number_error_display",
        "number_error_code",
        "pending_number",
        "requested_area_code",
        "webhooks_display",
        "checklist_display",
        "test_call_display",
        "a2p_pipeline_display",
        "reminders_not_sent_display",
        "reminders_hidden_display",
        "usage_display",
        "retention_display",
        "created_on",
        "updated_on",
    )
    fieldsets = (
        (None, {"fields": ("name", "office_phone", "time_zone")}),
        ("Onboarding", {"fields": ("next_step", "onboarding_path_display", "checklist_display", "test_call_display")}),
        ("Usage this month", {"fields": ("usage_display",)}),
        (
            "Twilio number",
            {
                "fields": (
                    "number_state",
                    "state_since",
                    "number_for_people",
                    "twilio_number_sid",
                    "twilio_account_sid",
                    "twilio_account_status",
                    "move_display",
                    "webhooks_display",
                    "number_error_display",
                    "number_error_code",
                    "requested_area_code",
                    "pending_number",
                )
            },
        ),
        ("Texting registration (A2P 10DLC)", {"fields": ("a2p_pipeline_display", "reminders_not_sent_display")}),
        ("Patient data", {"fields": ("retention_display",)}),
        ("Record", {"fields": ("created_on", "updated_on"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Clinic]:
        return clinic_list_with_progress()

    def get_fieldsets(self, request: HttpRequest, obj: Clinic | None = None) -> list:
        """The page's sections; those naming patients only for staff who may see patients'
        data (the Clinic support group), the others read one line saying why not."""
        if request.user.has_perm(PATIENT_DATA_PERMISSION):
            return list(super().get_fieldsets(request, obj))
        return [
            (name, {**options, "fields": tuple(_patients_hidden(field) for field in options["fields"])})
            for name, options in super().get_fieldsets(request, obj)
        ]

    # ------------------------------------------------------------------ columns

    @admin.display(description="Number", ordering="twilio_number")
    def number_display(self, clinic: Clinic) -> str:
        if not clinic.twilio_number:
            return "—"
        return format_html("{}<br><small>{}</small>", phone_format_national(clinic.twilio_number), clinic.twilio_number)

    @admin.display(description="Number")
    def number_for_people(self, clinic: Clinic) -> str:
        if not clinic.twilio_number:
            return "—"
        return format_html(
            "<strong>{}</strong> &nbsp;<code>{}</code>", phone_format_national(clinic.twilio_number), clinic.twilio_number
        )

    @admin.display(description="Next step")
    def next_step(self, clinic: Clinic) -> str:
        return next_step_html(clinic)

    @admin.display(description="In state for", ordering="number_state_changed_at")
    def state_age(self, clinic: Clinic) -> str:
        return timesince(clinic.number_state_changed_at)

    @admin.display(description="Checklist", ordering="checklist_done")
    def checklist_progress(self, clinic: Clinic) -> str:
        return f"{clinic.checklist_done}/{CHECKLIST_TOTAL}"

    @admin.display(description="In this state since")
    def state_since(self, clinic: Clinic) -> str:
        return datetime_for_people(clinic.number_state_changed_at, clinic.time_zone)

    @admin.display(description="Created")
    def created_on(self, clinic: Clinic) -> str:
        return datetime_for_people(clinic.created_at, clinic.time_zone)

    @admin.display(description="Last changed")
    def updated_on(self, clinic: Clinic) -> str:
        return datetime_for_people(clinic.updated_at, clinic.time_zone)

    @admin.display(description="Number error")
    def number_error_display(self, clinic: Clinic) -> str:
        """The last error's sentence, its Twilio link clickable."""
        return sentence_html(clinic.number_error) if clinic.number_error else "—"

    @admin.display(description="Last error")
    def number_error_short(self, clinic: Clinic) -> str:
        return (clinic.number_error[:120] + "…") if len(clinic.number_error) > 120 else clinic.number_error

    @admin.display(description="Webhooks (as Twilio confirmed them)")
    def webhooks_display(self, clinic: Clinic) -> str:
        if not clinic.twilio_webhooks:
            return "—"
        return format_html_join("", "<div><strong>{}</strong>: <code>{}</code></div>", sorted(clinic.twilio_webhooks.items()))

    @admin.display(description="Pipeline")
    def a2p_pipeline_display(self, clinic: Clinic) -> str:
        return a2p_pipeline_html(clinic)

    @admin.display(description="Reminders not sent")
    def reminders_not_sent_display(self, clinic: Clinic) -> str:
        """The latest skipped or refused reminders, each with why."""
        if clinic.pk is None:
            return "—"
        rows = [
            (
                datetime_for_people(a.reminder_outcome_at, clinic.time_zone),
                str(a),
                ReminderOutcome(a.reminder_outcome).label,
                a.reminder_outcome_detail,
            )
            for a in clinic_reminders_not_sent(clinic=clinic)
        ]
        if not rows:
            return "None: every reminder asked for was sent."
        return format_html(
            "<ul class='reminders-not-sent'>{}</ul>",
            format_html_join("", "<li><small>{}</small> {}: <strong>{}</strong>: {}</li>", rows),
        )

    @admin.display(description="Reminders not sent")
    def reminders_hidden_display(self, clinic: Clinic) -> str:
        return PATIENT_DATA_HIDDEN

    @admin.display(description="Steps")
    def checklist_display(self, clinic: Clinic) -> str:
        return checklist_html(clinic)

    @admin.display(description="Onboarding path")
    def onboarding_path_display(self, clinic: Clinic) -> str:
        return onboarding_path_html(clinic)

    @admin.display(description="Test call")
    def test_call_display(self, clinic: Clinic) -> str:
        return test_call_html(clinic)

    @admin.display(description="Move to own subaccount")
    def move_display(self, clinic: Clinic) -> str:
        """Where a "Move to its own subaccount" stands, in words staff can act on."""
        step = clinic.number_move_step
        if step == services.MOVE_DONE:
            return "Moved into its own Twilio subaccount."
        if step == services.MOVE_FAILED:
            return f"Move not finished: {clinic.number_move_error}"
        if step == services.MOVE_REQUESTED and operations.operation_queued(
            task_name=task_names.MOVE_NUMBER_TO_SUBACCOUNT, clinic_id=clinic.pk
        ):
            return f"Move requested: {QUEUED_FOR_RESEND}."
        if step == services.MOVE_REQUESTED:
            return "Move requested: creating the subaccount and transferring the number…"
        if step == services.MOVE_TRANSFERRED:
            return f"Number transferred to {clinic.twilio_account_sid}; setting its webhooks there…"
        if clinic.twilio_number_sid and not clinic.twilio_account_sid:
            return 'On the main account (provisioned before subaccounts): use "Move to its own subaccount".'
        return "-"

    @admin.display(description="Calls, SMS and cost")
    def usage_display(self, clinic: Clinic) -> str:
        """This month's usage as last fetched (never asks Twilio while the page loads)."""
        if not clinic.twilio_account_sid and not clinic.twilio_number_sid:
            return "No usage yet: it is counted once the clinic has its number."
        if not clinic.twilio_account_sid:
            return "On the main Twilio account: usage is not kept per clinic (move it to its own subaccount)."
        figures = ClinicUsage.objects.filter(clinic_id=clinic.pk).first()
        if figures is None or figures.fetched_at is None:
            shown = 'Not fetched yet: use "Refresh usage" (also fetched daily).'
        else:
            fetched = datetime_for_people(figures.fetched_at, clinic.time_zone)
            shown = (
                f"{figures.month}: {figures.calls} call(s), {figures.sms} SMS, {figures.cost:.2f} {figures.currency} "
                f"(fetched at {fetched})"
            )
        if figures is not None and figures.error:
            shown += f" Last fetch failed: {figures.error}"
        return shown

    @admin.display(description="Redacted")
    def retention_display(self, clinic: Clinic) -> str:
        """What of the clinic's texts and calls was redacted, here and at Twilio, in one line."""
        return clinic_redaction_summary(clinic=clinic) if clinic.pk else "—"

    # ------------------------------------------------------------------ permissions
    # Each number power is its own permission (clinics.Clinic.Meta.permissions); an action
    # declares it with @admin.action(permissions=[name]) and Django calls
    # has_<name>_permission (Django docs: "Setting permissions for actions").

    def has_provision_number_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.provision_number")

    def has_release_number_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.release_number")

    def has_update_number_webhooks_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.update_number_webhooks")

    def has_simulate_test_traffic_permission(self, request: HttpRequest) -> bool:
        """Simulated test traffic: the sandbox Twilio only, and the permission."""
        return settings.TWILIO_SANDBOX and request.user.has_perm("clinics.simulate_test_traffic")

    def has_suspend_subaccount_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.suspend_subaccount")

    def has_close_subaccount_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.close_subaccount")

    def has_move_to_subaccount_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.move_to_subaccount")

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Clinic | None:
        clinic = super().get_object(request, object_id, from_field)
        if clinic is not None:
            # Read by onboarding.checklist_html (which sees only the clinic): the Untick links are
            # offered only to a user who holds the power (the view refuses the others anyway).
            clinic.can_untick = request.user.has_perm("clinics.untick_checklist_step")
            # Read by a2p.a2p_buttons_html: the registration's buttons for a user who may press them.
            clinic.can_register = request.user.has_perm(START_PERMISSION)
        return clinic

    def save_model(self, request: HttpRequest, obj: Clinic, form: object, change: bool) -> None:
        # A blank zone is guessed from the clinic's own line until it has a Twilio number
        # (clinics.services guesses again from that number); staff can always overwrite it.
        if not obj.time_zone:
            obj.time_zone = time_zone_for_number(obj.twilio_number or obj.office_phone)
        super().save_model(request, obj, form, change)

    # ------------------------------------------------------------------ the clinic page

    def get_urls(self):
        return [*clinic_urls(self), *super().get_urls()]

    @staticmethod
    def _clinic_of_url(object_id: str) -> Clinic | None:
        """The clinic a change or history URL names, or None (Django's own view then says it is missing)."""
        # isascii too: str.isdigit() is also true for "²", which the integer pk refuses (a 500).
        object_id = str(object_id)
        return Clinic.objects.filter(pk=object_id).first() if object_id.isascii() and object_id.isdigit() else None

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        """Django's History page, with the clinic's number history (provisioning, release,
        checklist ticks and unticks with who and why) above the admin's edit log.

        Overriding the view, rather than copying each event into a LogEntry, keeps one record:
        the workflows (Celery tasks, webhooks) write NumberEvents with no admin request at hand.
        """
        clinic = self._clinic_of_url(object_id)
        events = []
        if clinic is not None and self.has_view_or_change_permission(request, clinic):
            events = [
                (datetime_for_people(event.created_at, clinic.time_zone), event)
                for event in clinic.number_events.select_related("actor").order_by("-created_at", "-id")[:500]
            ]
        return super().history_view(request, object_id, {"number_events": events, **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        clinic = self._clinic_of_url(object_id)
        extra: dict[str, object] = {"clinic": clinic}
        if clinic is not None:
            todo = {step["step"]: step for step in clinic_checklist(clinic=clinic) if not step["done"]}
            can_change = self.has_change_permission(request, clinic)
            port = clinic_port_in_current(clinic=clinic) if clinic.onboarding_path == OnboardingPath.PORT_IN else None
            can_port = request.user.has_perm(KEEP_NUMBER_PERMISSION) and clinic.onboarding_path == OnboardingPath.PORT_IN
            # Each button only for a user who holds its power (the view refuses the others anyway).
            extra.update(
                can_choose_path=can_change,
                forwarding_due=can_change
                and clinic.onboarding_path in PATHS_FORWARDING
                and bool(clinic.forward_target)
                and OnboardingStep.PUBLISHED_LINE in todo
                and not todo[OnboardingStep.PUBLISHED_LINE]["waiting_for"],
                can_provision=self.has_provision_number_permission(request) and services.clinic_number_requestable(clinic),
                **text_enable_buttons(request, clinic, can_change=can_change),
                can_release=self.has_release_number_permission(request)
                and bool(clinic.twilio_number_sid)
                and clinic.number_state != NumberState.RELEASING,
                listing_due=can_change
                and bool(clinic.twilio_number)
                and OnboardingStep.UPDATE_LISTING in todo
                and not todo[OnboardingStep.UPDATE_LISTING]["waiting_for"],
                hipaa_due=can_change and OnboardingStep.HIPAA_CONFIRMED in todo,
                port_in_startable=can_port and (port is None or not port.is_open or port.state == PortInState.ACTION_REQUIRED),
                port_in_cancellable=can_port and port is not None and port.state in porting_in.CANCELLABLE,
                port_in_checkable=can_change and port is not None and port.is_open and bool(port.request_sid),
                port_in_temporary=self.has_release_number_permission(request)
                and port is not None
                and bool(port.temporary_number_sid),
                in_flight=clinic.number_state in (NumberState.PROVISIONING, NumberState.RELEASING),
                can_simulate=self.has_simulate_test_traffic_permission(request) and bool(clinic.twilio_number),
                **sandbox_buttons(request, clinic, port),
                can_refresh_usage=self.has_change_permission(request, clinic) and bool(clinic.twilio_account_sid),
                # Irreversible, so here (one clinic, a confirmation page), never in the list's actions.
                can_export_patient_data=patient_data_exportable(request, clinic),
                can_close_subaccount=self.has_close_subaccount_permission(request)
                and bool(clinic.twilio_account_sid)
                and clinic.twilio_account_status != "closed",
            )
        response = super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})
        if clinic is not None and response.status_code == 200 and request.user.has_perm(PATIENT_DATA_PERMISSION):
            shown = clinic_reminders_not_sent(clinic=clinic)
            if shown:
                access_record(
                    request, model=Appointment, object_ids=[a.pk for a in shown], fields=REMINDERS_FIELDS, view=AccessView.SECTION
                )
        return response

    def get_deleted_objects(self, objs, request: HttpRequest) -> tuple[list, dict, set, list]:
        """Django's summary of a delete (one clinic or "delete selected"), with every clinic
        that holds a number or an open subaccount listed as protected: Django then refuses
        the whole delete.

        The pre_delete guard (clinics.signals) refuses it below the admin too; here staff
        get the reason and a link to what to do first (release the number, or close the
        subaccount from the clinic list showing this clinic), and its history is kept.
        """
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        if "post" not in request.POST:  # the confirmation page, which names the patients and appointments
            clinic_ids = [clinic.pk for clinic in objs]
            for model in (Patient, Appointment):
                ids = list(model.objects.filter(clinic_id__in=clinic_ids).values_list("pk", flat=True))
                if ids:
                    access_record(request, model=model, object_ids=ids, fields=[NAME_SHOWN], view=AccessView.SECTION)
        # A clinic's texting registration and business profile exist only for it: the power
        # to delete the clinic covers them (the registration's own admin deletes nothing,
        # which made Django ask every user, the superuser too, for a power nobody holds).
        perms_needed = perms_needed - {model._meta.verbose_name for model in CLINIC_OWNED}
        for clinic in objs:
            reason = clinic.delete_block_reason()
            if not reason:
                continue
            if not clinic.number_hold_reason():  # only its open subaccount is left
                link = (reverse("admin:clinics_clinic_close_subaccount", args=[clinic.pk]), "Close Twilio subaccount")
            elif clinic.number_state in (NumberState.PROVISIONING, NumberState.RELEASING) or not clinic.twilio_number_sid:
                link = (reverse("admin:clinics_clinic_change", args=[clinic.pk]), "Open the clinic")
            else:
                link = (reverse("admin:clinics_clinic_release", args=[clinic.pk]), "Release the number")
            protected.append(format_html('{} <a href="{}" class="release-link">{}</a>', reason, *link))
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Clinic) -> None:
        services.clinic_delete(clinic_id=obj.pk, actor=request_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        """Delete selected: all or none (one transaction), each clinic with its history event."""
        with transaction.atomic():
            for clinic_id in queryset.values_list("pk", flat=True):
                services.clinic_delete(clinic_id=clinic_id, actor=request_actor(request))
