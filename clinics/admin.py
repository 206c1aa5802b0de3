"""Django admin for clinics: actions hand the work to the workflows (telephony.provisioning),
which change the clinic's state and send the tasks; the admin never sends tasks itself."""

from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from dentsignal.admin_tools import SafeSelectionMixin, permission_require, request_actor
from telephony import calls, messaging, provisioning, simulated_traffic, twilio_client, twilio_service, usage
from telephony.models import CallAnswer, CallLog

from . import services
from .forms import ProvisionNumberForm
from .models import Appointment, Clinic, ClinicUsage, NumberEvent, NumberState, OnboardingStep, Patient
from .phone import phone_format_national
from .selectors import CHECKLIST_TOTAL, clinic_checklist, clinic_list_with_progress


class NumberEventInline(admin.TabularInline):
    model = NumberEvent
    fk_name = "clinic"
    verbose_name_plural = "Number history"
    fields = ("created_at", "kind", "phone_number", "phone_sid", "detail", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ChecklistFilter(admin.SimpleListFilter):
    """Clinics by onboarding progress."""

    title = "checklist"
    parameter_name = "checklist"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("complete", "All steps done"), ("incomplete", "Steps to do")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> QuerySet[Clinic]:
        if self.value() == "complete":
            # checklist_done is the annotation of clinic_list_with_progress(), which
            # django-stubs cannot see through get_queryset(): hence the two ignores.
            return queryset.filter(checklist_done=CHECKLIST_TOTAL)  # type: ignore[misc]
        if self.value() == "incomplete":
            return queryset.filter(checklist_done__lt=CHECKLIST_TOTAL)  # type: ignore[misc]
        return queryset


@admin.register(Clinic)
class ClinicAdmin(SafeSelectionMixin, admin.ModelAdmin):
    list_display = ("name", "number_display", "number_state", "state_age", "checklist_progress", "number_error_short")
    list_filter = ("number_state", ChecklistFilter)
    change_form_template = "admin/clinics/clinic/change_form.html"
    # Say why a delete is refused (see get_deleted_objects) instead of Django's "protected objects".
    delete_confirmation_template = "admin/clinics/clinic/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/clinics/clinic/delete_selected_confirmation.html"
    search_fields = ("name", "twilio_number", "twilio_number_sid")
    actions = [
        "provision_number",
        "retry_provisioning",
        "release_number",
        "update_webhooks",
        "mark_listing_updated",
        "suspend_subaccount",
        "reactivate_subaccount",
        "close_subaccount",
        "move_to_subaccount",
    ]
    inlines = [NumberEventInline]
    # The subaccount's auth token (sealed) is a secret: never on an admin page or form.
    exclude = ("twilio_account_token_sealed",)
    readonly_fields = (
        "next_step",
        "number_for_people",
        "number_state",
        "number_state_changed_at",
        "twilio_number",
        "twilio_number_sid",
        "twilio_account_sid",
        "twilio_account_status",
        "move_display",
        "number_error",
        "number_error_code",
        "pending_number",
        "requested_area_code",
        "webhooks_display",
        "checklist_display",
        "test_call_display",
        "usage_display",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "office_phone")}),
        ("Onboarding", {"fields": ("next_step", "checklist_display", "test_call_display")}),
        ("Usage this month", {"fields": ("usage_display",)}),
        (
            "Twilio number",
            {
                "fields": (
                    "number_state",
                    "number_state_changed_at",
                    "number_for_people",
                    "twilio_number_sid",
                    "twilio_account_sid",
                    "twilio_account_status",
                    "move_display",
                    "webhooks_display",
                    "number_error",
                    "number_error_code",
                    "requested_area_code",
                    "pending_number",
                )
            },
        ),
        ("Record", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Clinic]:
        return clinic_list_with_progress()

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
        if clinic.pk is None:
            return "Save the clinic, then provision its number."
        state = clinic.number_state
        if state == NumberState.PROVISIONING:
            return "A number is being bought; this page refreshes until it is there."
        if state == NumberState.RELEASING:
            return "The number is being released; this page refreshes until it is done."
        if state == NumberState.FAILED:
            return format_html("<strong>Fix:</strong> {} — then retry.", clinic.number_error or "the last operation failed")
        if not clinic.twilio_number:
            return "Provision a number (button above)."
        todo = next((step for step in clinic_checklist(clinic=clinic) if not step["done"]), None)
        if todo is None:
            return "Live: every onboarding step is done."
        hints = {
            OnboardingStep.TEST_INBOUND_CALL: f"call {phone_format_national(clinic.twilio_number)} from any phone",
            OnboardingStep.TEST_INBOUND_SMS: f"text anything to {phone_format_national(clinic.twilio_number)}",
            OnboardingStep.UPDATE_LISTING: "put the number on Google and the clinic's website, then tick it (button above)",
        }
        hint = hints.get(todo["step"], "")
        return f"{todo['label']}{': ' + hint if hint else ''}."

    @admin.display(description="In state for", ordering="number_state_changed_at")
    def state_age(self, clinic: Clinic) -> str:
        return timesince(clinic.number_state_changed_at)

    @admin.display(description="Checklist", ordering="checklist_done")
    def checklist_progress(self, clinic: Clinic) -> str:
        # The annotation of clinic_list_with_progress() (get_queryset), unseen by django-stubs.
        return f"{clinic.checklist_done}/{CHECKLIST_TOTAL}"  # type: ignore[attr-defined]

    @admin.display(description="Last error")
    def number_error_short(self, clinic: Clinic) -> str:
        return (clinic.number_error[:120] + "…") if len(clinic.number_error) > 120 else clinic.number_error

    @admin.display(description="Webhooks (as Twilio confirmed them)")
    def webhooks_display(self, clinic: Clinic) -> str:
        if not clinic.twilio_webhooks:
            return "—"
        return format_html_join("", "<div><strong>{}</strong>: <code>{}</code></div>", sorted(clinic.twilio_webhooks.items()))

    @admin.display(description="Steps")
    def checklist_display(self, clinic: Clinic) -> str:
        if clinic.pk is None:
            return "—"
        rows = [
            (
                "✔" if step["done"] else "☐",
                step["label"],
                f"done {step['done_at']:%Y-%m-%d %H:%M} by {step['done_by']}" if step["done"] else "to do",
            )
            for step in clinic_checklist(clinic=clinic)
        ]
        done = sum(1 for row in rows if row[0] == "✔")
        return format_html(
            "<p><strong>{}/{}</strong> done</p><ul class='checklist'>{}</ul>",
            done,
            CHECKLIST_TOTAL,
            format_html_join("", "<li>{} {} <small>({})</small></li>", rows),
        )

    @admin.display(description="Test call")
    def test_call_display(self, clinic: Clinic) -> str:
        """Whether a test call reached the AI agent; if not, why, linking to that call."""
        if clinic.pk is None:
            return "—"
        if clinic.checklist_items.filter(step=OnboardingStep.TEST_INBOUND_CALL).exists():
            return "The AI agent answered a test call (its stream started)."
        call = calls.call_test_latest(clinic_id=clinic.pk)
        if call is None:
            return "No test call yet. The step is ticked when the AI agent's stream starts for a call to this number."
        return format_html(
            '<a href="{}" class="test-call-link">Last test call</a> ({}): {}',
            reverse("admin:telephony_calllog_changelist") + "?q=" + call.call_sid,
            f"{call.created_at:%Y-%m-%d %H:%M}",
            self._test_call_outcome(call),
        )

    @staticmethod
    def _test_call_outcome(call: CallLog) -> str:
        if call.answered_by != CallAnswer.AGENT:
            place = "the office line" if call.answered_by == CallAnswer.OFFICE_LINE else "a spoken message"
            return f"reached {place}, not the agent: {call.fallback_reason or 'the agent was not used'}."
        if call.stream_started_at is not None:
            return "the AI agent answered."
        if call.stream_error:
            return f"handed to the AI agent, whose stream failed: {call.stream_error}."
        return "handed to the AI agent, but Twilio has not reported its stream as started."

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

    # ------------------------------------------------------------------ actions

    @admin.action(description="Provision number", permissions=["provision_number"])
    def provision_number(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> HttpResponse | None:
        clinics = list(queryset)
        return self._provision_page(request, clinics, action="provision_number")

    def _provision_page(self, request: HttpRequest, clinics: list[Clinic], *, action: str = "") -> HttpResponse | None:
        """The area-code form (with the numbers for sale, on request); buys on 'apply'."""
        form = ProvisionNumberForm(request.POST if {"apply", "search"} & set(request.POST) else None)
        available: dict = {}
        if "apply" in request.POST and form.is_valid():
            # A picked number only makes sense for one clinic.
            number = form.cleaned_data["phone_number"] if len(clinics) == 1 else ""
            self._request_each(
                request,
                clinics,
                lambda clinic: provisioning.clinic_number_provision_request(
                    clinic_id=clinic.id,
                    area_code=form.cleaned_data["area_code"],
                    friendly_name=form.cleaned_data["friendly_name"],
                    phone_number=number,
                    actor=request_actor(request),
                ),
                started="Provisioning started",
            )
            if len(clinics) == 1:
                return redirect("admin:clinics_clinic_change", clinics[0].pk)
            return None
        if "search" in request.POST and form.is_valid():
            available = twilio_service.list_available_numbers(form.cleaned_data["area_code"])
        return TemplateResponse(
            request,
            "admin/clinics/clinic/provision_number.html",
            {
                **self.admin_site.each_context(request),
                "title": "Provision a number",
                "clinics": clinics,
                "form": form,
                "available": available,
                "opts": self.model._meta,
                "action": action,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Retry failed provisioning (same area code)", permissions=["provision_number"])
    def retry_provisioning(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        failed = []
        for clinic in queryset:
            if clinic.number_state != NumberState.FAILED or clinic.twilio_number or not clinic.requested_area_code:
                self.message_user(request, f"Skipped {clinic.name}: only a failed provisioning can be retried.", messages.WARNING)
            else:
                failed.append(clinic)
        self._request_each(
            request,
            failed,
            lambda clinic: provisioning.clinic_number_provision_request(
                clinic_id=clinic.id,
                area_code=clinic.requested_area_code,
                friendly_name=clinic.requested_friendly_name,
                actor=request_actor(request),
            ),
            started="Provisioning retried",
        )

    @admin.action(description="Release number", permissions=["release_number"])
    def release_number(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> HttpResponse | None:
        if "apply" in request.POST:
            self._request_each(
                request,
                queryset,
                lambda clinic: provisioning.clinic_number_release_request(clinic_id=clinic.id, actor=request_actor(request)),
                started="Release started",
            )
            return None
        return TemplateResponse(
            request,
            "admin/clinics/clinic/release_number.html",
            {
                **self.admin_site.each_context(request),
                "title": "Release numbers",
                "clinics": queryset,
                "with_number": [c for c in queryset if c.twilio_number_sid],
                "opts": self.model._meta,
                "action": "release_number",
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Update webhooks", permissions=["update_number_webhooks"])
    def update_webhooks(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        for clinic in queryset:
            if not clinic.twilio_number_sid or clinic.number_state != NumberState.ACTIVE:
                self.message_user(request, f"Skipped {clinic.name}: it has no active number.", messages.WARNING)
                continue
            provisioning.number_webhooks_update_request(phone_sids=[clinic.twilio_number_sid])
            self.message_user(request, f"Webhook update started for {clinic.name} ({clinic.twilio_number}).")

    @admin.action(description="Mark Google/website listing updated", permissions=["change"])
    def mark_listing_updated(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        for clinic in queryset:
            self._tick_listing(request, clinic)

    # ------------------------------------------------------------------ subaccount status
    # Suspend / reactivate / close the clinic's Twilio subaccount (telephony.provisioning
    # "subaccount status"); closing is irreversible, so it goes through a confirmation page.

    def has_suspend_subaccount_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.suspend_subaccount")

    def has_close_subaccount_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.close_subaccount")

    @admin.action(description="Suspend Twilio subaccount (reversible)", permissions=["suspend_subaccount"])
    def suspend_subaccount(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        self._subaccount_status_each(request, queryset, status="suspended")

    @admin.action(description="Reactivate Twilio subaccount", permissions=["suspend_subaccount"])
    def reactivate_subaccount(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        self._subaccount_status_each(request, queryset, status="active")

    @admin.action(description="Close Twilio subaccount (irreversible)…", permissions=["close_subaccount"])
    def close_subaccount(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> HttpResponse | None:
        if "apply" in request.POST:
            self._subaccount_status_each(request, queryset, status="closed")
            return None
        rows = []
        for clinic in queryset:
            try:
                blocker = provisioning.clinic_subaccount_close_blocker(clinic=clinic)
            except twilio_client.TwilioError as exc:
                blocker = str(exc)
            rows.append((clinic, blocker))
        return TemplateResponse(
            request,
            "admin/clinics/clinic/close_subaccount.html",
            {
                **self.admin_site.each_context(request),
                "title": "Close Twilio subaccounts",
                "clinics": list(queryset),
                "closable": [clinic for clinic, blocker in rows if not blocker],
                "refused": [(clinic, blocker) for clinic, blocker in rows if blocker],
                "opts": self.model._meta,
                "action": "close_subaccount",
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def has_move_to_subaccount_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("clinics.move_to_subaccount")

    @admin.action(description="Move to its own subaccount", permissions=["move_to_subaccount"])
    def move_to_subaccount(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        for clinic in queryset:
            try:
                provisioning.clinic_number_move_request(clinic_id=clinic.id, actor=request_actor(request))
            except (services.ClinicNumberError, provisioning.InvalidInput) as exc:
                self.message_user(request, f"Skipped: {exc}", messages.WARNING)
                continue
            moved = Clinic.objects.get(pk=clinic.id)  # with eager Celery the task has already run
            if moved.number_move_step == services.MOVE_DONE:
                self.message_user(
                    request, f"{moved.name}: {moved.twilio_number} is now in subaccount {moved.twilio_account_sid}."
                )
            elif moved.number_move_step == services.MOVE_FAILED:
                self.message_user(request, f"{moved.name}: {moved.number_move_error}", messages.ERROR)
            else:
                self.message_user(request, f"{moved.name}: move started; refresh to see the result.")

    @admin.display(description="Move to own subaccount")
    def move_display(self, clinic: Clinic) -> str:
        """Where a "Move to its own subaccount" stands, in words staff can act on."""
        step = clinic.number_move_step
        if step == services.MOVE_DONE:
            return f"Moved into its own subaccount {clinic.twilio_account_sid}."
        if step == services.MOVE_FAILED:
            return f"Move not finished: {clinic.number_move_error}"
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
        if not clinic.twilio_account_sid:
            return "On the main Twilio account: usage is not kept per clinic (move it to its own subaccount)."
        figures = ClinicUsage.objects.filter(clinic_id=clinic.pk).first()
        if figures is None or figures.fetched_at is None:
            shown = 'Not fetched yet: use "Refresh usage" (also fetched daily).'
        else:
            fetched = timezone.localtime(figures.fetched_at).strftime("%Y-%m-%d %H:%M")
            shown = (
                f"{figures.month}: {figures.calls} call(s), {figures.sms} SMS, {figures.cost:.2f} {figures.currency} "
                f"(fetched at {fetched})"
            )
        if figures is not None and figures.error:
            shown += f" Last fetch failed: {figures.error}"
        return shown

    def _subaccount_status_each(self, request: HttpRequest, queryset: Iterable[Clinic], *, status: str) -> None:
        """Set each clinic's subaccount to `status`; report each outcome or refusal as a sentence."""
        done = {"suspended": "suspended", "active": "reactivated", "closed": "closed"}[status]
        for clinic in queryset:
            try:
                updated = provisioning.clinic_subaccount_status_change(
                    clinic_id=clinic.id, status=status, actor=request_actor(request)
                )
            except (provisioning.SubaccountRefused, services.ClinicNumberError, twilio_client.TwilioError) as exc:
                self.message_user(request, f"{clinic.name}: {exc}", messages.ERROR)
                continue
            sub, now = updated.twilio_account_sid, updated.twilio_account_status
            self.message_user(request, f"{clinic.name}: Twilio subaccount {sub} is {now} ({done}).")

    # ------------------------------------------------------------------ the clinic page

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:clinic_id>/provision/", view(self.provision_view), name="clinics_clinic_provision"),
            path("<int:clinic_id>/release/", view(self.release_view), name="clinics_clinic_release"),
            path("<int:clinic_id>/listing-done/", view(self.listing_done_view), name="clinics_clinic_listing_done"),
            path("<int:clinic_id>/simulate-test-traffic/", view(self.simulate_view), name="clinics_clinic_simulate"),
            path("<int:clinic_id>/usage-refresh/", view(self.usage_refresh_view), name="clinics_clinic_usage_refresh"),
            *super().get_urls(),
        ]

    def _clinic_for(self, request: HttpRequest, clinic_id: int, permission: str) -> Clinic:
        """The clinic a custom view acts on, once the user is known to hold `permission`."""
        # The permission first: a user without it learns nothing, not even which ids exist.
        permission_require(request, permission)
        clinic = Clinic.objects.filter(pk=clinic_id).first()
        if clinic is None:
            raise Http404("No such clinic.")
        return clinic

    def provision_view(self, request: HttpRequest, clinic_id: int) -> HttpResponse:
        clinic = self._clinic_for(request, clinic_id, "clinics.provision_number")
        # One clinic: the page, or the redirect to its change page after the request.
        return self._provision_page(request, [clinic]) or redirect("admin:clinics_clinic_change", clinic.pk)

    def release_view(self, request: HttpRequest, clinic_id: int) -> HttpResponse:
        clinic = self._clinic_for(request, clinic_id, "clinics.release_number")
        if request.method == "POST":
            self._request_each(
                request,
                [clinic],
                lambda c: provisioning.clinic_number_release_request(clinic_id=c.id, actor=request_actor(request)),
                started="Release started",
            )
            return redirect("admin:clinics_clinic_change", clinic.pk)
        return TemplateResponse(
            request,
            "admin/clinics/clinic/release_number.html",
            {
                **self.admin_site.each_context(request),
                "title": "Release number",
                "clinics": [clinic],
                "with_number": [clinic] if clinic.twilio_number_sid else [],
                "opts": self.model._meta,
                "action": "",
            },
        )

    def listing_done_view(self, request: HttpRequest, clinic_id: int) -> HttpResponse:
        # Ticking a checklist step changes the clinic's record and costs nothing: "change".
        clinic = self._clinic_for(request, clinic_id, "clinics.change_clinic")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._tick_listing(request, clinic)
        return redirect("admin:clinics_clinic_change", clinic.pk)

    def simulate_view(self, request: HttpRequest, clinic_id: int) -> HttpResponse:
        """Sandbox only: a signed test call and SMS through our own webhooks, reported."""
        clinic = self._clinic_for(request, clinic_id, "clinics.simulate_test_traffic")
        if not settings.TWILIO_SANDBOX:
            raise Http404("Simulated test traffic exists only with the sandbox Twilio (TWILIO_SANDBOX=true).")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not clinic.twilio_number:
            self.message_user(request, f"{clinic.name} has no number to call yet: provision one first.", messages.ERROR)
            return redirect("admin:clinics_clinic_change", clinic.pk)
        result = simulated_traffic.traffic_simulate(twilio_number=clinic.twilio_number)
        for step in result.steps:
            self.message_user(request, step)
        return redirect("admin:clinics_clinic_change", clinic.pk)

    def usage_refresh_view(self, request: HttpRequest, clinic_id: int) -> HttpResponse:
        """Fetch this month's usage now (a task; with eager Celery it has run on return)."""
        # Reading usage changes nothing at Twilio and costs nothing: "change" on the clinic.
        clinic = self._clinic_for(request, clinic_id, "clinics.change_clinic")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if usage.clinic_usage_refresh_request(clinic_id=clinic.id):
            self.message_user(request, f"{clinic.name}: usage refresh started; the figures show when fetched.")
        else:
            self.message_user(request, f"{clinic.name} has no Twilio subaccount of its own: no usage to fetch.", messages.WARNING)
        return redirect("admin:clinics_clinic_change", clinic.pk)

    def _tick_listing(self, request: HttpRequest, clinic: Clinic) -> None:
        if not clinic.twilio_number:
            self.message_user(request, f"Skipped {clinic.name}: it has no number to list yet.", messages.WARNING)
        elif services.clinic_checklist_tick(
            clinic_id=clinic.id, step=OnboardingStep.UPDATE_LISTING, actor=request_actor(request)
        ):
            self.message_user(request, f"{clinic.name}: listing step ticked.")
        else:
            self.message_user(request, f"{clinic.name}: listing step was already done.", messages.INFO)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        clinic = Clinic.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        extra: dict[str, object] = {"clinic": clinic}
        if clinic is not None:
            # Each button only for a user who holds its power (the view refuses the others anyway).
            extra.update(
                can_provision=self.has_provision_number_permission(request)
                and clinic.number_state in services.REQUESTABLE_STATES
                and not clinic.twilio_number,
                can_release=self.has_release_number_permission(request)
                and bool(clinic.twilio_number_sid)
                and clinic.number_state != NumberState.RELEASING,
                listing_due=self.has_change_permission(request, clinic)
                and bool(clinic.twilio_number)
                and not clinic.checklist_items.filter(step=OnboardingStep.UPDATE_LISTING).exists(),
                in_flight=clinic.number_state in (NumberState.PROVISIONING, NumberState.RELEASING),
                can_simulate=self.has_simulate_test_traffic_permission(request) and bool(clinic.twilio_number),
                can_refresh_usage=self.has_change_permission(request, clinic) and bool(clinic.twilio_account_sid),
            )
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def get_deleted_objects(self, objs, request: HttpRequest) -> tuple[list, dict, set, list]:
        """Django's summary of a delete (one clinic or "delete selected"), with every clinic
        that holds a number listed as protected: Django then refuses the whole delete.

        The pre_delete guard (clinics.signals) refuses it below the admin too; here staff
        get the reason and a link to release the number first, and its history is kept.
        """
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        for clinic in objs:
            reason = clinic.number_hold_reason()
            if not reason:
                continue
            if clinic.number_state in (NumberState.PROVISIONING, NumberState.RELEASING) or not clinic.twilio_number_sid:
                link = (reverse("admin:clinics_clinic_change", args=[clinic.pk]), "Open the clinic")
            else:
                link = (reverse("admin:clinics_clinic_release", args=[clinic.pk]), "Release the number")
            protected.append(format_html('{} <a href="{}" class="release-link">{}</a>', reason, *link))
        return deleted, model_count, perms_needed, protected

    def _request_each(
        self, request: HttpRequest, queryset: Iterable[Clinic], service: Callable[[Clinic], object], *, started: str
    ) -> None:
        """Call a request service per clinic; report each outcome, or why it was skipped."""
        for clinic in queryset:
            try:
                service(clinic)
            except services.ClinicNumberError as exc:
                self.message_user(request, f"Skipped: {exc}", messages.WARNING)
                continue
            self._report_outcome(request, clinic.id, started=started)

    def _report_outcome(self, request: HttpRequest, clinic_id: int, *, started: str) -> None:
        """Say what happened; with eager Celery the task has already run."""
        clinic = Clinic.objects.get(pk=clinic_id)
        if clinic.send_failed_at:
            self.message_user(
                request,
                f"{clinic.name}: {started.lower()} and saved, but the task queue did not take it; it is queued for "
                "re-send within 2 minutes. Refresh to see the result.",
                messages.WARNING,
            )
        elif clinic.number_state == NumberState.FAILED:
            self.message_user(request, f"{clinic.name}: {clinic.number_error}", messages.ERROR)
        elif clinic.number_state == NumberState.ACTIVE:
            self.message_user(
                request, f"{clinic.name}: number {clinic.twilio_number} is active (SID {clinic.twilio_number_sid})."
            )
        elif clinic.number_state == NumberState.RELEASED:
            self.message_user(request, f"{clinic.name}: number released.")
        else:
            self.message_user(request, f"{clinic.name}: {started}; refresh to see the result.")


@admin.register(Patient)
class PatientAdmin(SafeSelectionMixin, admin.ModelAdmin):
    list_display = ("name", "phone", "clinic", "sms_opted_out")
    list_filter = ("sms_opted_out", "clinic")
    search_fields = ("name", "phone")
    readonly_fields = ("sms_opted_out_at", "created_at")


@admin.register(Appointment)
class AppointmentAdmin(SafeSelectionMixin, admin.ModelAdmin):
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
