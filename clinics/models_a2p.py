"""A2P 10DLC registration of a clinic (US carriers' rule for SMS from local numbers).

Registered with the app by the import at the end of clinics/models.py (so this module
names Clinic by string, not by import).

A clinic's business profile (what staff enter) and its registration record (what Twilio
holds for it, step by step), plus the history of every step's transitions. The workflows
live in telephony/a2p/; the state changes in clinics/services/a2p.py.

Pipeline, each step persisted with its Twilio SID, status and date:

    customer_profile (Trust Hub secondary profile, reviewed)  ->  trust_product (A2P profile, reviewed)
      -> brand (TCR, reviewed)  ->  messaging_service  ->  campaign (reviewed)  ->  number (in the service)

A step's status is "creating" from the moment its create call is decided (committed
before the call) until its SID is saved: a retry then looks the object up by its
friendly name instead of creating a second one.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from .phone import phone_validate_e164
from .sealed import SealedTextField, Unopenable, sealed_plain
from .validators import text_validate_printable

# [0-9], not \d: Python's \d matches every script's digits (Arabic-Indic, fullwidth...), which no IRS or USPS record holds.
EIN_FORMAT = RegexValidator(r"^[0-9]{2}-?[0-9]{7}$", "Enter the EIN as 9 digits (0-9), e.g. 12-3456789.", code="ein")
ZIP_FORMAT = RegexValidator(r"^[0-9]{5}(-[0-9]{4})?$", "Enter a US ZIP code of digits 0-9, e.g. 78701.", code="zip")


class BusinessType(models.TextChoices):
    """Twilio's business_type values for a secondary customer profile, labelled as Twilio's
    Console lists them (each label is the value itself: without one Django would derive
    "Llc" from the member's name)."""

    SOLE_PROPRIETORSHIP = "Sole Proprietorship", "Sole Proprietorship"
    PARTNERSHIP = "Partnership", "Partnership"
    LLC = "Limited Liability Corporation", "Limited Liability Corporation"
    COOPERATIVE = "Co-operative", "Co-operative"
    NON_PROFIT = "Non-profit Corporation", "Non-profit Corporation"
    CORPORATION = "Corporation", "Corporation"


class JobPosition(models.TextChoices):
    """Twilio's job_position values for the authorized representative, labelled as the
    Console lists them ("GM", "CEO", not Django's "Gm", "Ceo")."""

    DIRECTOR = "Director", "Director"
    GM = "GM", "GM"
    VP = "VP", "VP"
    CEO = "CEO", "CEO"
    CFO = "CFO", "CFO"
    GENERAL_COUNSEL = "General Counsel", "General Counsel"
    OTHER = "Other", "Other"


class CampaignUseCase(models.TextChoices):
    """US A2P use cases a dental clinic fits (Twilio's us_app_to_person_usecase)."""

    LOW_VOLUME = "LOW_VOLUME", "Low volume mixed (reminders and replies)"
    ACCOUNT_NOTIFICATION = "ACCOUNT_NOTIFICATION", "Account notifications (appointment reminders)"
    CUSTOMER_CARE = "CUSTOMER_CARE", "Customer care (replies to patients)"


class BusinessProfile(models.Model):
    """What a clinic's A2P registration says about the business, entered by staff.

    The EIN is write-only for people: forms and pages show `ein_masked`, and it is
    never logged (see clinics/services/a2p.py); in the database it is sealed
    (SealedTextField), readable only with FIELD_ENCRYPTION_KEYS.
    """

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.CASCADE, related_name="business_profile")
    legal_name = models.CharField(
        max_length=200, validators=[text_validate_printable], help_text="Exactly as on the IRS EIN record (CP-575)."
    )
    # Sealed at rest with FIELD_ENCRYPTION_KEYS (clinics.sealed): the column holds a Fernet token.
    ein = SealedTextField("EIN", validators=[EIN_FORMAT])
    # No default: staff choose the type on the IRS record (a silent LLC registered clinics wrongly).
    business_type = models.CharField(max_length=40, choices=BusinessType.choices)
    industry = models.CharField(max_length=40, default="HEALTHCARE", editable=False)
    street = models.CharField(max_length=200, validators=[text_validate_printable])
    city = models.CharField(max_length=100, validators=[text_validate_printable])
    region = models.CharField("State", max_length=2, validators=[RegexValidator(r"^[A-Z]{2}$", "Two capital letters, e.g. TX.")])
    postal_code = models.CharField(max_length=10, validators=[ZIP_FORMAT])
    website = models.URLField(help_text="The clinic's public website (carriers check it).")
    rep_first_name = models.CharField("Representative first name", max_length=100, validators=[text_validate_printable])
    rep_last_name = models.CharField("Representative last name", max_length=100, validators=[text_validate_printable])
    rep_title = models.CharField("Representative title", max_length=100, validators=[text_validate_printable])
    rep_position = models.CharField("Representative position", max_length=20, choices=JobPosition.choices)
    rep_email = models.EmailField("Representative email")
    rep_phone = models.CharField("Representative phone", max_length=16, validators=[phone_validate_e164])
    use_case = models.CharField(max_length=32, choices=CampaignUseCase.choices, default=CampaignUseCase.LOW_VOLUME)
    sample_message_1 = models.CharField(max_length=320, validators=[text_validate_printable])
    sample_message_2 = models.CharField(max_length=320, validators=[text_validate_printable])
    opt_in_description = models.TextField(
        "How patients opt in", help_text="Where and how patients give their number and agree to texts (carriers read it)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("start_a2p_registration", "Can start or resubmit a clinic's A2P 10DLC registration"),
        ]

    def __str__(self) -> str:
        return f"Business profile of {self.legal_name}"

    @property
    def ein_masked(self) -> str:
        """The EIN as people may see it: only its last four digits (or, when no key opens
        it, the sentence saying so)."""
        if isinstance(self.ein, Unopenable):
            return self.ein
        digits = "".join(ch for ch in self.ein if ch.isdigit())
        return f"••-•••{digits[-4:]}" if digits else ""

    @property
    def registered_industry(self) -> str:
        """The business_industry Twilio is given: a non-profit registers as NOT_FOR_PROFIT
        (Twilio, "A2P 10DLC - Registration for Government and Nonprofit Agencies", ISV section)."""
        return "NOT_FOR_PROFIT" if self.business_type == BusinessType.NON_PROFIT else self.industry

    @property
    def company_type(self) -> str:
        """The A2P messaging profile's company_type: non_profit for a non-profit (same page), else
        private. Never public: a listed company would need Authentication+ (README, A2P)."""
        return "non_profit" if self.business_type == BusinessType.NON_PROFIT else "private"

    @property
    def ein_digits(self) -> str:
        """The EIN as Twilio wants it (xx-xxxxxxx); SealError when no key opens it."""
        digits = "".join(ch for ch in sealed_plain(self.ein) if ch.isdigit())
        return f"{digits[:2]}-{digits[2:]}"

    def clean(self) -> None:
        """Samples must name the clinic and say how to opt out, as carriers require."""
        errors = {}
        for field in ("sample_message_1", "sample_message_2"):
            if len(getattr(self, field) or "") < 20:
                errors[field] = "Write a real example of at least 20 characters, as a patient would receive it."
        if len(self.opt_in_description or "") < 40:
            errors["opt_in_description"] = (
                "Describe in a sentence or two where patients give their number and agree to texts (40 characters or more)."
            )
        if errors:
            raise ValidationError(errors)


class A2PStep(models.TextChoices):
    """The registration's steps, in order."""

    CUSTOMER_PROFILE = "customer_profile", "Business profile (Trust Hub)"
    TRUST_PRODUCT = "trust_product", "A2P messaging profile"
    BRAND = "brand", "Brand"
    MESSAGING_SERVICE = "messaging_service", "Messaging Service"
    CAMPAIGN = "campaign", "Campaign"
    NUMBER = "number", "Number in the Messaging Service"


# Statuses that mean "decided by Twilio, for good" per step.
APPROVED = {
    A2PStep.CUSTOMER_PROFILE: "twilio-approved",
    A2PStep.TRUST_PRODUCT: "twilio-approved",
    A2PStep.BRAND: "APPROVED",
    A2PStep.MESSAGING_SERVICE: "created",
    A2PStep.CAMPAIGN: "VERIFIED",
    A2PStep.NUMBER: "added",
}
REJECTED = {"twilio-rejected", "FAILED", "SUSPENDED"}
CREATING = "creating"
# The number step after the clinic's number changed (bought, adopted, moved, released):
# the number step runs again and puts the clinic's current number in the service.
NUMBER_CHANGED = "number-changed"


class A2PRegistration(models.Model):
    """One clinic's registration: per step its Twilio SID, status, date; the last error."""

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.CASCADE, related_name="a2p_registration")
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    customer_profile_sid = models.CharField(max_length=34, blank=True)
    customer_profile_status = models.CharField(max_length=20, blank=True)
    customer_profile_at = models.DateTimeField(null=True, blank=True)
    trust_product_sid = models.CharField(max_length=34, blank=True)
    trust_product_status = models.CharField(max_length=20, blank=True)
    trust_product_at = models.DateTimeField(null=True, blank=True)
    brand_sid = models.CharField(max_length=34, blank=True)
    brand_status = models.CharField(max_length=20, blank=True)
    brand_at = models.DateTimeField(null=True, blank=True)
    messaging_service_sid = models.CharField(max_length=34, blank=True)
    messaging_service_status = models.CharField(max_length=20, blank=True)
    messaging_service_at = models.DateTimeField(null=True, blank=True)
    campaign_sid = models.CharField(max_length=34, blank=True)
    campaign_status = models.CharField(max_length=20, blank=True)
    campaign_at = models.DateTimeField(null=True, blank=True)
    number_sid = models.CharField(max_length=34, blank=True)
    number_status = models.CharField(max_length=20, blank=True)
    number_at = models.DateTimeField(null=True, blank=True)
    # The phone number (E.164) of `number_sid`, for the pipeline: which number is in the service.
    number_phone_number = models.CharField(max_length=16, blank=True)
    # The last failure or rejection, as a sentence staff can act on.
    error_step = models.CharField(max_length=20, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_at = models.DateTimeField(null=True, blank=True)
    # Carriers refused a message (30034/30035/30032/21712): texting is blocked until fixed.
    messaging_blocked_code = models.IntegerField(null=True, blank=True)
    messaging_blocked_reason = models.TextField(blank=True)
    messaging_blocked_at = models.DateTimeField(null=True, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"A2P registration of clinic {self.clinic_id}"

    def step_sid(self, step: str) -> str:
        """The Twilio SID saved for `step` ("" before it is created)."""
        return str(getattr(self, f"{step}_sid"))

    def step_status(self, step: str) -> str:
        """The step's last known status ("" before it starts)."""
        return str(getattr(self, f"{step}_status"))

    def step_approved(self, step: str) -> bool:
        """Twilio approved (or, for service/number, completed) the step."""
        return self.step_status(step) == APPROVED[A2PStep(step)]

    @property
    def campaign_ready(self) -> bool:
        """Texts may go out through the clinic's Messaging Service."""
        return bool(self.step_approved(A2PStep.CAMPAIGN) and self.step_approved(A2PStep.NUMBER) and self.messaging_service_sid)

    @property
    def rejected(self) -> bool:
        """Some step was rejected by Twilio: staff must edit and resubmit."""
        return any(self.step_status(step) in REJECTED for step in A2PStep.values)


class A2PEvent(models.Model):
    """History of a clinic's registration: one row per step transition, failure or staff action."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.CASCADE, related_name="a2p_events")
    step = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, blank=True)
    detail = models.TextField(blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.step} {self.status}".strip()
