"""Admin for A2P 10DLC registration: the business profile form, Start registration,
Edit and resubmit, and the pipeline (state and date per step, next action).

Registered from clinics/admin/__init__.py. The registration history is shown inside the pipeline
(an inline would add a formset to the clinic form's POST). The EIN is write-only here: the form never renders it
back (a blank field keeps the saved one) and pages show only its last four digits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from dentsignal.admin_tools import ReadOnlyAdminMixin, permission_require
from telephony import twilio
from telephony.a2p import polling as a2p_polling
from telephony.a2p import registration as registration_workflows
from telephony.a2p import rules as a2p_rules
from telephony.a2p import sandbox_review

from ..dates import datetime_for_people
from ..forms import PhoneNumberField
from ..models import Clinic
from ..models_a2p import EIN_FORMAT, REJECTED, A2PEvent, A2PRegistration, A2PStep, BusinessProfile
from ..phone import phone_format_national
from ..services import ClinicInputError

START_PERMISSION = "clinics.start_a2p_registration"
HISTORY_SHOWN = 30  # latest registration events on the clinic page
# Twilio, "A2P 10DLC Campaign Vetting FAQ": each campaign is charged a campaign verification
# (vetting) fee when it is vetted, and a campaign denied in vetting may be charged again on resubmission.
VETTING_FEE_WARNING = "Resubmitting sends the campaign to carriers' vetting again: Twilio charges the campaign vetting fee again."
# What each registration button does: the workflow and what staff are told once it ran.
REGISTRATION_BUTTONS = {
    "start": (registration_workflows.registration_start, "Registration started"),
    "resubmit": (registration_workflows.registration_resubmit, "Resubmitted"),
    "check": (a2p_polling.registration_poll_now, "Checked"),
}


def _button(clinic: Clinic, what: str, label: str, back: str, step: str = "") -> SafeString:
    """A button of the page's own form (so no form inside a form) that posts to a registration URL."""
    url = reverse("admin:clinics_businessprofile_registration", args=[clinic.pk, what])
    return format_html(
        '<button type="submit" class="button a2p-{}" formaction="{}{}" formmethod="post" formnovalidate'
        ' name="_back" value="{}" style="margin:2px 4px 2px 0">{}</button>',
        what,
        url,
        f"?step={step}" if step else "",
        back,
        label,
    )


def a2p_buttons_html(clinic: Clinic, registration: A2PRegistration | None, *, has_profile: bool, back: str) -> str:
    """The registration's buttons where "Next:" is read, for a user who may press them
    (`clinic.can_register`, set by the page's admin): Start, Edit and resubmit (with the
    vetting fee warning when the campaign was rejected), Check now; in sandbox mode also
    Approve and Reject for each step under review, as the sandbox's reviewer would."""
    if not getattr(clinic, "can_register", False) or a2p_rules.registration_disabled_reason():
        return ""
    if not has_profile:
        add = reverse("admin:clinics_businessprofile_add") + f"?clinic={clinic.pk}"
        return format_html('<p><a class="button" href="{}" id="a2p-profile-add">Fill in the business profile</a></p>', add)
    buttons, warning = [], ""
    if registration is None:
        buttons.append(_button(clinic, "start", "Start registration", back))
    elif registration.error or registration.rejected:
        buttons.append(_button(clinic, "resubmit", "Edit and resubmit", back))
        if registration.campaign_status in REJECTED or registration.error_step == A2PStep.CAMPAIGN:
            warning = VETTING_FEE_WARNING
    if registration is not None and not registration.campaign_ready:
        buttons.append(_button(clinic, "check", "Check now", back))
    for step in sandbox_review.sandbox_reviewable_steps(registration):
        label = A2PStep(step).label.lower()
        buttons.append(_button(clinic, "approve", f"Approve the {label} (sandbox)", back, step))
        buttons.append(_button(clinic, "reject", f"Reject the {label} (sandbox)", back, step))
    return format_html(
        '<div class="a2p-buttons">{}{}</div>',
        format_html("<p class='warning' id='a2p-vetting-fee'>{}</p>", warning) if warning else "",
        format_html_join("", "{}", ((button,) for button in buttons)),
    )


def a2p_pipeline_html(clinic: Clinic, *, back: str = "clinic") -> str:
    """The clinic's registration pipeline: each step's state and date, the error, the next
    action and its buttons (which come `back` to the clinic's page or its profile's)."""
    if clinic.pk is None:
        return "—"
    disabled = a2p_rules.registration_disabled_reason()
    registration = A2PRegistration.objects.filter(clinic=clinic).first()
    has_profile = BusinessProfile.objects.filter(clinic=clinic).exists()
    rows = []
    for step in A2PStep:
        status = registration.step_status(step) if registration else ""
        at = getattr(registration, f"{step.value}_at") if registration else None
        done = registration is not None and registration.step_approved(step)
        if step == A2PStep.NUMBER and registration is not None:
            done = done and registration.number_sid == clinic.twilio_number_sid
        mark = "✔" if done else ("✖" if status in REJECTED else "☐")
        rows.append((mark, step.label, a2p_rules.status_words(status), datetime_for_people(at, clinic.time_zone) if at else ""))
    blocked = registration.messaging_blocked_reason if registration else ""
    history = [
        (datetime_for_people(event.created_at, clinic.time_zone), event.step or "registration", event.status, event.detail)
        for event in A2PEvent.objects.filter(clinic=clinic).order_by("-created_at", "-id")[:HISTORY_SHOWN]
    ]
    return format_html(
        "{}<ul class='a2p-pipeline'>{}</ul>{}{}<p><strong>Next:</strong> {}</p>{}{}",
        format_html("<p class='errornote'>{}</p>", disabled) if disabled else "",
        format_html_join("", "<li>{} {}: {} <small>{}</small></li>", rows),
        format_html("<p class='a2p-service-number'>{}</p>", service_number_sentence(clinic, registration))
        if registration
        else "",
        format_html("<p class='errornote'>Texting blocked: {}</p>", blocked) if blocked else "",
        registration_workflows.registration_next_action(registration, profile=has_profile),
        a2p_buttons_html(clinic, registration, has_profile=has_profile, back=back),
        format_html(
            "<details><summary>History</summary><ul>{}</ul></details>",
            format_html_join("", "<li><small>{}</small> {} <code>{}</code> {}</li>", history),
        )
        if history
        else "",
    )


def service_number_sentence(clinic: Clinic, registration: A2PRegistration) -> str:
    """Which number is in the clinic's Messaging Service, and whether it is the clinic's number today."""
    in_service = phone_format_national(registration.number_phone_number) if registration.number_phone_number else ""
    current = phone_format_national(clinic.twilio_number) if clinic.twilio_number else ""
    if not registration.messaging_service_sid:
        return "No Messaging Service yet: the clinic's number joins it once it exists."
    if registration.step_approved(A2PStep.NUMBER) and registration.number_sid == clinic.twilio_number_sid:
        return f"Texts go out from {in_service or current}, the clinic's number, in its Messaging Service."
    if not current:
        gone = f" ({in_service} was released)" if in_service else ""
        return f"No number in the Messaging Service: the clinic has no number{gone}. A new number joins it by itself."
    was = f" It replaces {in_service}." if in_service and in_service != current else ""
    return f"The clinic's number {current} is not in the Messaging Service yet: it joins by itself.{was}"


class BusinessProfileForm(forms.ModelForm):
    """The business profile, accepting what people type: a state in any case ("tx"), an EIN
    with spaces, a phone number in national format (saved as TX, 12-3456789, +1...).

    The EIN is asked for but never shown back from the database; on a page sent back with
    an error, what this person just typed is kept in the field (it is theirs, not the saved one).
    """

    ein = forms.CharField(label="EIN", required=False, max_length=20, widget=forms.PasswordInput(render_value=False))
    website = forms.URLField(assume_scheme="https", help_text="The clinic's public website (carriers check it).")
    rep_phone = PhoneNumberField(label="Representative phone")

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
        # Bound (a POST sent back with an error): the field shows what was typed, never the saved EIN.
        self.fields["ein"].widget.render_value = self.is_bound
        self.fields["region"].help_text = "Two letters, e.g. TX."
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
        compact = "".join(value.split())  # "12 3456789", "12-345 6789"
        EIN_FORMAT(compact)
        digits = compact.replace("-", "")
        return f"{digits[:2]}-{digits[2:]}"

    def clean_region(self) -> str:
        return (self.cleaned_data.get("region") or "").strip().upper()


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
        return a2p_pipeline_html(profile.clinic, back="profile") if profile.pk else "Save the profile, then Start registration."

    def has_start_a2p_registration_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(START_PERMISSION)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> BusinessProfile | None:
        profile = super().get_object(request, object_id, from_field)
        if profile is not None:
            # Read by a2p_buttons_html (which sees only the clinic); the view refuses the others anyway.
            profile.clinic.can_register = self.has_start_a2p_registration_permission(request)
        return profile

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(functools.partial(registration_view, self))
        return [
            path("registration/<int:clinic_id>/<str:what>/", view, name="clinics_businessprofile_registration"),
            *super().get_urls(),
        ]

    @admin.action(description="Start registration (A2P 10DLC)", permissions=["start_a2p_registration"])
    def start_registration(self, request: HttpRequest, queryset: QuerySet[BusinessProfile]) -> None:
        self._each(request, queryset, registration_workflows.registration_start, "Registration started")

    @admin.action(
        description="Edit and resubmit (after a rejection; a resubmitted campaign's vetting fee is charged again)",
        permissions=["start_a2p_registration"],
    )
    def resubmit_registration(self, request: HttpRequest, queryset: QuerySet[BusinessProfile]) -> None:
        self._each(request, queryset, registration_workflows.registration_resubmit, "Resubmitted")

    @admin.action(description="Check Twilio's reviews now", permissions=["start_a2p_registration"])
    def check_reviews(self, request: HttpRequest, queryset: QuerySet[BusinessProfile]) -> None:
        self._each(request, queryset, a2p_polling.registration_poll_now, "Checked")

    def _each(self, request: HttpRequest, queryset: QuerySet[BusinessProfile], workflow, done: str) -> None:
        for profile in queryset.select_related("clinic"):
            registration_run(self, request, profile.clinic, workflow, done)


def registration_run(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic: Clinic, workflow, done: str) -> None:
    """Run one registration workflow for `clinic` and tell staff how it went (a list action or a button)."""
    try:
        workflow(clinic_id=clinic.pk, actor=request.user)
    except (a2p_rules.RegistrationDisabled, ClinicInputError, twilio.TwilioError, sandbox_review.SandboxOnly) as exc:
        modeladmin.message_user(request, f"{clinic.name}: {exc}", messages.ERROR)
        return
    modeladmin.message_user(request, f"{clinic.name}: {done}; Twilio's reviews take days, the page shows each step.")


def registration_view(modeladmin: admin.ModelAdmin, request: HttpRequest, clinic_id: int, what: str) -> HttpResponse:
    """A registration button of the clinic or profile page (POST): run it, then back to that page."""
    permission_require(request, START_PERMISSION)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    clinic = Clinic.objects.filter(pk=clinic_id).first()
    if clinic is None:
        raise Http404("No such clinic.")
    if what in sandbox_review.OUTCOMES:
        if not settings.TWILIO_SANDBOX:
            raise Http404("Deciding a review by hand exists only with the sandbox Twilio.")
        step = request.GET.get("step", "")
        workflow: Callable[..., object] = functools.partial(sandbox_review.sandbox_review_decide, step=step, outcome=what)
        done = "Approved in the sandbox" if what == "approve" else "Rejected in the sandbox"
        registration_run(modeladmin, request, clinic, workflow, done)
    elif what in REGISTRATION_BUTTONS:
        workflow, done = REGISTRATION_BUTTONS[what]
        registration_run(modeladmin, request, clinic, workflow, done)
    else:
        raise Http404("No such registration button.")
    profile = BusinessProfile.objects.filter(clinic=clinic).first()
    if request.POST.get("_back") == "profile" and profile is not None:
        return redirect("admin:clinics_businessprofile_change", profile.pk)
    return redirect("admin:clinics_clinic_change", clinic.pk)


class A2PRegistrationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("clinic", "customer_profile_status", "brand_status", "campaign_status", "number_status", "error")
    readonly_fields = ("pipeline",)
    fields = ("clinic", "pipeline")

    @admin.display(description="Pipeline")
    def pipeline(self, registration: A2PRegistration) -> str:
        return a2p_pipeline_html(registration.clinic)
