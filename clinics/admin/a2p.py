"""Admin for A2P 10DLC registration: the business profile form, Start registration,
Edit and resubmit, and the pipeline (state and date per step, next action).

Registered from clinics/admin/__init__.py. The registration history is shown inside the pipeline
(an inline would add a formset to the clinic form's POST). The EIN is write-only here: the form never renders it
back (a blank field keeps the saved one) and pages show only its last four digits.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from telephony import twilio
from telephony.a2p import polling as a2p_polling
from telephony.a2p import registration as registration_workflows
from telephony.a2p import rules as a2p_rules

from ..models import Clinic
from ..models_a2p import EIN_FORMAT, REJECTED, A2PEvent, A2PRegistration, A2PStep, BusinessProfile
from ..services import ClinicInputError

START_PERMISSION = "clinics.start_a2p_registration"
HISTORY_SHOWN = 30  # latest registration events on the clinic page


def a2p_pipeline_html(clinic: Clinic) -> str:
    """The clinic's registration pipeline: each step's state and date, the error, the next action."""
    if clinic.pk is None:
        return "—"
    disabled = a2p_rules.registration_disabled_reason()
    registration = A2PRegistration.objects.filter(clinic=clinic).first()
    has_profile = BusinessProfile.objects.filter(clinic=clinic).exists()
    rows = []
    for step in A2PStep:
        status = registration.step_status(step) if registration else ""
        at = getattr(registration, f"{step.value}_at") if registration else None
        mark = "✔" if registration and registration.step_approved(step) else ("✖" if status in REJECTED else "☐")
        rows.append((mark, step.label, a2p_rules.status_words(status), f"{at:%Y-%m-%d %H:%M}" if at else ""))
    blocked = registration.messaging_blocked_reason if registration else ""
    history = [
        (f"{event.created_at:%Y-%m-%d %H:%M}", event.step or "registration", event.status, event.detail)
        for event in A2PEvent.objects.filter(clinic=clinic).order_by("-created_at", "-id")[:HISTORY_SHOWN]
    ]
    return format_html(
        "{}<ul class='a2p-pipeline'>{}</ul>{}<p><strong>Next:</strong> {}</p>{}",
        format_html("<p class='errornote'>{}</p>", disabled) if disabled else "",
        format_html_join("", "<li>{} {}: {} <small>{}</small></li>", rows),
        format_html("<p class='errornote'>Texting blocked: {}</p>", blocked) if blocked else "",
        registration_workflows.registration_next_action(registration, profile=has_profile),
        format_html(
            "<details><summary>History</summary><ul>{}</ul></details>",
            format_html_join("", "<li><small>{}</small> {} <code>{}</code> {}</li>", history),
        )
        if history
        else "",
    )


class BusinessProfileForm(forms.ModelForm):
    """The business profile; the EIN is asked for but never shown back."""

    ein = forms.CharField(label="EIN", required=False, max_length=10, widget=forms.PasswordInput(render_value=False))
    website = forms.URLField(assume_scheme="https", help_text="The clinic's public website (carriers check it).")

    class Meta:
        model = BusinessProfile
        fields = [
            "clinic",
            "legal_name",
            "ein",
            "business_type",
            "website",
            "street",
            "city",
            "region",
            "postal_code",
            "rep_first_name",
            "rep_last_name",
            "rep_title",
            "rep_position",
            "rep_email",
            "rep_phone",
            "use_case",
            "sample_message_1",
            "sample_message_2",
            "opt_in_description",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["ein"].help_text = f"Saved: {self.instance.ein_masked}. Leave blank to keep it."
        else:
            self.fields["ein"].help_text = "9 digits, as on the IRS letter (CP-575), e.g. 12-3456789."

    def clean_ein(self) -> str:
        value = (self.cleaned_data.get("ein") or "").strip()
        if not value and self.instance.pk:
            return self.instance.ein
        if not value:
            raise ValidationError("Enter the clinic's EIN (9 digits): carriers check it against the legal name.")
        EIN_FORMAT(value)
        return value


class BusinessProfileAdmin(admin.ModelAdmin):
    form = BusinessProfileForm
    list_display = ("clinic", "legal_name", "ein_display", "pipeline_state")
    # The clinic and its registration come with each row (pipeline_state reads both).
    list_select_related = ("clinic__a2p_registration",)
    search_fields = ("legal_name", "clinic__name")
    actions = ["start_registration", "resubmit_registration", "check_reviews"]
    readonly_fields = ("pipeline",)
    fieldsets = (
        (None, {"fields": ("clinic", "legal_name", "ein", "business_type", "website")}),
        ("Address", {"fields": ("street", "city", "region", "postal_code")}),
        (
            "Authorized representative",
            {"fields": ("rep_first_name", "rep_last_name", "rep_title", "rep_position", "rep_email", "rep_phone")},
        ),
        ("Messaging", {"fields": ("use_case", "sample_message_1", "sample_message_2", "opt_in_description")}),
        ("Registration (A2P 10DLC)", {"fields": ("pipeline",)}),
    )

    @admin.display(description="EIN")
    def ein_display(self, profile: BusinessProfile) -> str:
        return profile.ein_masked

    @admin.display(description="Registration")
    def pipeline_state(self, profile: BusinessProfile) -> str:
        # Loaded with the row (list_select_related); a clinic without one raises
        # RelatedObjectDoesNotExist, an AttributeError.
        registration = getattr(profile.clinic, "a2p_registration", None)
        return registration_workflows.registration_next_action(registration, profile=True)

    @admin.display(description="Pipeline")
    def pipeline(self, profile: BusinessProfile) -> str:
        return a2p_pipeline_html(profile.clinic) if profile.pk else "Save the profile, then Start registration."

    def has_start_a2p_registration_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(START_PERMISSION)

    @admin.action(description="Start registration (A2P 10DLC)", permissions=["start_a2p_registration"])
    def start_registration(self, request: HttpRequest, queryset: QuerySet[BusinessProfile]) -> None:
        self._each(request, queryset, registration_workflows.registration_start, "Registration started")

    @admin.action(description="Edit and resubmit (after a rejection)", permissions=["start_a2p_registration"])
    def resubmit_registration(self, request: HttpRequest, queryset: QuerySet[BusinessProfile]) -> None:
        self._each(request, queryset, registration_workflows.registration_resubmit, "Resubmitted")

    @admin.action(description="Check Twilio's reviews now", permissions=["start_a2p_registration"])
    def check_reviews(self, request: HttpRequest, queryset: QuerySet[BusinessProfile]) -> None:
        self._each(request, queryset, a2p_polling.registration_poll_now, "Checked")

    def _each(self, request: HttpRequest, queryset: QuerySet[BusinessProfile], workflow, done: str) -> None:
        for profile in queryset.select_related("clinic"):
            try:
                workflow(clinic_id=profile.clinic_id, actor=request.user)
            except (
                a2p_rules.RegistrationDisabled,
                ClinicInputError,
                twilio.TwilioError,
            ) as exc:
                self.message_user(request, f"{profile.clinic.name}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"{profile.clinic.name}: {done}; Twilio's reviews take days, the page shows each step.")


class A2PRegistrationAdmin(admin.ModelAdmin):
    list_display = ("clinic", "customer_profile_status", "brand_status", "campaign_status", "number_status", "error")
    readonly_fields = ("pipeline",)
    fields = ("clinic", "pipeline")

    @admin.display(description="Pipeline")
    def pipeline(self, registration: A2PRegistration) -> str:
        return a2p_pipeline_html(registration.clinic)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
