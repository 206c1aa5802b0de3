"""Django admin for clinics: actions hand the work to the workflows (telephony.numbers.provisioning),
which change the clinic's state and send the tasks; the admin never sends tasks itself."""

from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from dentsignal.admin_tools import SafeSelectionMixin, permission_require, request_actor
from telephony.a2p import texting as messaging
from telephony.models import CallAnswer, CallLog
from telephony.numbers import buying, provisioning, simulated_traffic, usage
from telephony.numbers import search as number_search
from telephony.twilio import client as twilio_client
from telephony.webhooks import calls

from .. import services
from ..dates import datetime_for_people, time_zone_for_number
from ..forms import ClinicAdminForm, PatientAdminForm, ProvisionNumberForm, UntickStepForm
from ..models import Appointment, Clinic, ClinicUsage, NumberEvent, NumberState, OnboardingStep, Patient
from ..phone import phone_format_national, phone_search_term
from ..selectors import CHECKLIST_TOTAL, clinic_checklist, clinic_list_with_progress, clinic_next_step
from .a2p import a2p_pipeline_html


class PhoneSearchMixin(admin.ModelAdmin):
    """The list search also finds a phone number typed in any common format.

    "(512) 555-0103", "512-555-0103", "5125550103" and "+15125550103" are all looked up
    as +15125550103 (exactly, so an index serves it) in `phone_search_fields`, besides
    Django's usual search.
    """

    phone_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        e164 = phone_search_term(search_term)
        if e164 is None:
            return found, may_have_duplicates
        by_number = Q()
        for field in self.phone_search_fields:
            by_number |= Q(**{field: e164})
        return found | queryset.filter(by_number), may_have_duplicates


class ClinicPagesMedia:
    """The small stylesheet that keeps clinic pages readable from 390 px to 1366 px wide."""

    css = {"all": ("clinics/admin-layout.css",)}


class NumberEventInline(admin.TabularInline):
    model = NumberEvent
    fk_name = "clinic"
    verbose_name_plural = "Number history"
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

    @admin.display(description="When")
    def when(self, event: NumberEvent) -> str:
        return datetime_for_people(event.created_at, event.clinic.time_zone if event.clinic else "")


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


@admin.register(Clinic)
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
        "state_since",
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
        "a2p_pipeline_display",
        "usage_display",
        "created_on",
        "updated_on",
    )
    fieldsets = (
        (None, {"fields": ("name", "office_phone", "time_zone")}),
        ("Onboarding", {"fields": ("next_step", "checklist_display", "test_call_display")}),
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
                    "number_error",
                    "number_error_code",
                    "requested_area_code",
                    "pending_number",
                )
            },
        ),
        ("Texting registration (A2P 10DLC)", {"fields": ("a2p_pipeline_display",)}),
        ("Record", {"fields": ("created_on", "updated_on"), "classes": ("collapse",)}),
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
        step = clinic_next_step(clinic=clinic, retry_helps=number_search.provision_retry_helps(clinic.number_error_code))
        return format_html("<strong>{}</strong> {}", step.lead, step.text) if step.lead else step.text

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

    @admin.display(description="Steps")
    def checklist_display(self, clinic: Clinic) -> str:
        if clinic.pk is None:
            return "—"
        steps = clinic_checklist(clinic=clinic)
        rows = []
        for step in steps:
            if step["done"]:
                status = f"done {datetime_for_people(step['done_at'], clinic.time_zone)} by {step['done_by']}"
                untick = reverse("admin:clinics_clinic_untick", args=[clinic.pk, step["step"]])
                action: str = (
                    format_html(' <a href="{}" class="untick-link" data-step="{}">Untick…</a>', untick, step["step"])
                    if getattr(clinic, "can_untick", False)
                    else ""
                )
            elif step["waiting_for"]:
                status = f"to do, after: {', '.join(step['waiting_for'])}"
                action = ""
            else:
                status = "to do (tick it with the button above)" if step["manual"] else "to do"
                action = ""
            rows.append(("✔" if step["done"] else "☐", step["step"], step["label"], status, action))
        return format_html(
            "<p><strong>{}/{}</strong> done · run {} since {}</p><ol class='checklist'>{}</ol>"
            "<p><small>Earlier runs' ticks and unticks stay in the number history (History button).</small></p>",
            sum(1 for step in steps if step["done"]),
            CHECKLIST_TOTAL,
            clinic.checklist_run,
            datetime_for_people(clinic.checklist_run_started_at, clinic.time_zone),
            format_html_join("", "<li data-step='{1}'>{0} {2} <small>({3})</small>{4}</li>", rows),
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

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Clinic | None:
        clinic = super().get_object(request, object_id, from_field)
        if clinic is not None:
            # Read by checklist_display (which sees only the clinic): the Untick links are
            # offered only to a user who holds the power (the view refuses the others anyway).
            clinic.can_untick = request.user.has_perm("clinics.untick_checklist_step")
        return clinic

    def save_model(self, request: HttpRequest, obj: Clinic, form: object, change: bool) -> None:
        # A blank zone is guessed from the clinic's own line until it has a Twilio number
        # (clinics.services guesses again from that number); staff can always overwrite it.
        if not obj.time_zone:
            obj.time_zone = time_zone_for_number(obj.twilio_number or obj.office_phone)
        super().save_model(request, obj, form, change)

    # ------------------------------------------------------------------ actions

    @admin.action(description="Provision number", permissions=["provision_number"])
    def provision_number(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> HttpResponse | None:
        clinics = list(queryset)
        return self._provision_page(request, clinics, action="provision_number")

    def _provision_page(self, request: HttpRequest, clinics: list[Clinic], *, action: str = "") -> HttpResponse | None:
        """Search numbers for sale (with the monthly price), confirm one, then buy ('apply').

        Nothing is changed before the Buy on the confirm page; when nothing is for sale
        the page says so, offers no Buy, and the clinics stay as they were.
        """
        step = next((name for name in ("apply", "confirm", "search") if name in request.POST), "")
        form = ProvisionNumberForm(request.POST if step else None, buying=step in ("apply", "confirm"))
        context: dict = {"step": step}
        single = len(clinics) == 1
        if step and form.is_valid():
            # A picked number only makes sense for one clinic.
            number = form.cleaned_data["phone_number"] if single else ""
            area_code = form.cleaned_data["area_code"]
            try:
                if step == "search":
                    search = number_search.NumberSearch(**form.search_criteria())
                    context["for_sale"] = number_search.numbers_for_sale(search)
                elif step == "confirm":
                    context.update(
                        confirm_number=number,
                        confirm_number_national=phone_format_national(number),
                        confirm_area_code=area_code,
                        price=number_search.local_number_price(),
                    )
                else:
                    return self._provision_buy(request, clinics, form=form, number=number)
            except number_search.NothingForSale as exc:
                context["nothing_for_sale"] = str(exc)
            except number_search.TwilioError as exc:
                context["twilio_error"], context["retryable"] = str(exc), exc.retryable
        return TemplateResponse(
            request,
            "admin/clinics/clinic/provision_number.html",
            {
                **self.admin_site.each_context(request),
                **context,
                "title": "Confirm the number to buy" if "confirm_area_code" in context else "Find a number to buy",
                "clinics": clinics,
                "single": single,
                "form": form,
                "opts": self.model._meta,
                "action": action,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def _provision_buy(
        self, request: HttpRequest, clinics: list[Clinic], *, form: ProvisionNumberForm, number: str
    ) -> HttpResponse | None:
        """Request each purchase through the workflow (which first checks something is for sale,
        else NothingForSale and nothing changed) and report each clinic."""
        requested = buying.number_buy_request(
            clinic_ids=[clinic.id for clinic in clinics],
            area_code=form.cleaned_data["area_code"],
            friendly_name=form.cleaned_data["friendly_name"],
            phone_number=number,
            actor=request_actor(request),
        )
        for outcome in requested:
            if outcome.refused is not None:
                self.message_user(request, f"Skipped: {outcome.refused}", messages.WARNING)
            else:
                self._report_outcome(request, outcome.clinic_id, started="Provisioning started")
        if len(clinics) == 1:
            return redirect("admin:clinics_clinic_change", clinics[0].pk)
        return None

    @admin.action(description="Retry failed provisioning (same area code)", permissions=["provision_number"])
    def retry_provisioning(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        failed = []
        for clinic in queryset:
            if clinic.number_state != NumberState.FAILED or clinic.twilio_number or not clinic.requested_area_code:
                self.message_user(request, f"Skipped {clinic.name}: only a failed provisioning can be retried.", messages.WARNING)
            elif not number_search.provision_retry_helps(clinic.number_error_code):
                self.message_user(
                    request,
                    f"Skipped {clinic.name}: retrying cannot help ({clinic.number_error}) Use Provision number to search "
                    "another area code, city or ZIP.",
                    messages.WARNING,
                )
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
    # Suspend / reactivate / close the clinic's Twilio subaccount (telephony.numbers.provisioning
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
            path("<int:clinic_id>/checklist/<str:step>/untick/", view(self.untick_view), name="clinics_clinic_untick"),
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
            return
        try:
            ticked = services.clinic_checklist_tick(
                clinic_id=clinic.id, step=OnboardingStep.UPDATE_LISTING, actor=request_actor(request)
            )
        except services.ClinicInputError as exc:
            self.message_user(request, f"Skipped {clinic.name}: {exc}", messages.WARNING)
            return
        if ticked:
            self.message_user(request, f"{clinic.name}: listing step ticked.")
        else:
            self.message_user(request, f"{clinic.name}: listing step was already done.", messages.INFO)

    def untick_view(self, request: HttpRequest, clinic_id: int, step: str) -> HttpResponse:
        """A small form: the reason for unticking a step; the untick is a history event."""
        clinic = self._clinic_for(request, clinic_id, "clinics.untick_checklist_step")
        if step not in OnboardingStep.values:
            raise Http404("No such checklist step.")
        form = UntickStepForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            if services.clinic_checklist_untick(
                clinic_id=clinic.id, step=step, actor=request_actor(request), reason=form.cleaned_data["reason"]
            ):
                self.message_user(
                    request, f"{clinic.name}: “{OnboardingStep(step).label}” unticked; the reason is in the history."
                )
            else:
                self.message_user(
                    request, f"{clinic.name}: “{OnboardingStep(step).label}” was not ticked; nothing changed.", messages.INFO
                )
            return redirect("admin:clinics_clinic_change", clinic.pk)
        return TemplateResponse(
            request,
            "admin/clinics/clinic/untick_step.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Untick “{OnboardingStep(step).label}”",
                "clinic": clinic,
                "step_label": OnboardingStep(step).label,
                "form": form,
                "opts": self.model._meta,
            },
        )

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
            # Each button only for a user who holds its power (the view refuses the others anyway).
            extra.update(
                can_provision=self.has_provision_number_permission(request) and services.clinic_number_requestable(clinic),
                can_release=self.has_release_number_permission(request)
                and bool(clinic.twilio_number_sid)
                and clinic.number_state != NumberState.RELEASING,
                listing_due=self.has_change_permission(request, clinic)
                and bool(clinic.twilio_number)
                and any(
                    step["step"] == OnboardingStep.UPDATE_LISTING and not step["done"] and not step["waiting_for"]
                    for step in clinic_checklist(clinic=clinic)
                ),
                in_flight=clinic.number_state in (NumberState.PROVISIONING, NumberState.RELEASING),
                can_simulate=self.has_simulate_test_traffic_permission(request) and bool(clinic.twilio_number),
                can_refresh_usage=self.has_change_permission(request, clinic) and bool(clinic.twilio_account_sid),
            )
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def get_deleted_objects(self, objs, request: HttpRequest) -> tuple[list, dict, set, list]:
        """Django's summary of a delete (one clinic or "delete selected"), with every clinic
        that holds a number or an open subaccount listed as protected: Django then refuses
        the whole delete.

        The pre_delete guard (clinics.signals) refuses it below the admin too; here staff
        get the reason and a link to what to do first (release the number, or close the
        subaccount from the clinic list showing this clinic), and its history is kept.
        """
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        for clinic in objs:
            reason = clinic.delete_block_reason()
            if not reason:
                continue
            if not clinic.number_hold_reason():  # only its open subaccount is left
                link = (f"{reverse('admin:clinics_clinic_changelist')}?id={clinic.pk}", "Close Twilio subaccount")
            elif clinic.number_state in (NumberState.PROVISIONING, NumberState.RELEASING) or not clinic.twilio_number_sid:
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
class PatientAdmin(PhoneSearchMixin, SafeSelectionMixin, admin.ModelAdmin):
    form = PatientAdminForm
    phone_search_fields = ("phone",)
    empty_value_display = "—"
    list_display = ("name", "phone", "clinic", "sms_opted_out")
    list_filter = ("sms_opted_out", "clinic")
    search_fields = ("name", "phone")
    readonly_fields = ("sms_opted_out_at", "created_at")


@admin.register(Appointment)
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
