"""The clinic domain: clinics, their number's state and history, the onboarding checklist."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .dates import datetime_for_people, time_zone_validate
from .phone import phone_validate_e164
from .validators import text_validate_printable


class NumberState(models.TextChoices):
    """Where a clinic's Twilio number is in its life; changed only by clinics.services."""

    NONE = "none", "No number"
    PROVISIONING = "provisioning", "Provisioning"
    ACTIVE = "active", "Active"
    RELEASING = "releasing", "Releasing"
    RELEASED = "released", "Released"
    FAILED = "failed", "Failed"


class OnboardingPath(models.TextChoices):
    """How a clinic's published number comes to reach the AI agent (docs/onboarding-paths.md).

    Chosen on the clinic's page (clinics.services.clinic_onboarding_path_set), changeable
    until the path's point of no return. New number, forward and port-in are built;
    text-enable is in the model so the choice exists, and refuses with PATH_NOT_YET.
    """

    NEW_NUMBER = "new_number", "New number"
    FORWARD = "forward", "Forward the existing line"
    PORT_IN = "port_in", "Port the number in"
    TEXT_ENABLE = "text_enable", "Text-enable the existing line"


# The paths a clinic can take today. Text-enable is available only where
# TWILIO_HOSTED_SMS_ENABLED is on (path_available); off, it refuses with the sentence here.
PATHS_AVAILABLE: frozenset[str] = frozenset({OnboardingPath.NEW_NUMBER, OnboardingPath.FORWARD, OnboardingPath.PORT_IN})
PATH_NOT_YET: dict[str, str] = {
    OnboardingPath.TEXT_ENABLE: "Text-enabling the existing line is not available yet",
}
# The paths that keep the clinic's published number (and so need it typed in).
PATHS_KEEPING_NUMBER: frozenset[str] = frozenset({OnboardingPath.FORWARD, OnboardingPath.PORT_IN, OnboardingPath.TEXT_ENABLE})
# The paths whose calls to the published number reach the agent (forwarded or ported): they
# prove it instead of updating a listing (the listing keeps the published number).
PATHS_CALLING_PUBLISHED_LINE: frozenset[str] = frozenset(
    {OnboardingPath.FORWARD, OnboardingPath.PORT_IN, OnboardingPath.TEXT_ENABLE}
)
# The paths whose published line forwards its calls to a Twilio number of the clinic's: text-
# enabling hosts only the line's texts, so its calls are forwarded as on the forward path.
PATHS_FORWARDING: frozenset[str] = frozenset({OnboardingPath.FORWARD, OnboardingPath.TEXT_ENABLE})


def path_available(path: str) -> bool:
    """Whether a clinic can choose `path` in this deployment: text-enabling only with hosted
    SMS switched on (Twilio keeps its Hosted Numbers API from new customers until GA)."""
    if path == OnboardingPath.TEXT_ENABLE:
        return bool(settings.TWILIO_HOSTED_SMS_ENABLED)
    return path in PATHS_AVAILABLE


class Clinic(models.Model):
    """A dental clinic and its Twilio number (table `clients`, read by existing tooling)."""

    name = models.CharField(max_length=200, validators=[text_validate_printable])
    office_phone = models.CharField(
        max_length=16,
        blank=True,
        validators=[phone_validate_e164],
        help_text="The clinic's own line in E.164 (+15125551234); calls fall back to it.",
    )
    # The onboarding path (OnboardingPath) and, for the paths that keep it, the clinic's
    # published number (website, Google listing, signage): changed only by clinics.services.
    onboarding_path = models.CharField(
        max_length=16, choices=OnboardingPath.choices, default=OnboardingPath.NEW_NUMBER, editable=False
    )
    published_number = models.CharField(max_length=16, blank=True, validators=[phone_validate_e164], editable=False)
    # NULL (not "") when there is no number, so that "unique when set" is a plain UNIQUE.
    twilio_number = models.CharField(max_length=16, null=True, blank=True, unique=True, validators=[phone_validate_e164])
    twilio_number_sid = models.CharField(max_length=34, null=True, blank=True, unique=True)
    # On the text-enable path, once the published number is hosted for SMS (it is then
    # `twilio_number`): the Twilio number bought before as the forwarding target, to which the
    # published line forwards its calls. Routed, audited and released with the clinic.
    voice_number = models.CharField(max_length=16, null=True, blank=True, unique=True, validators=[phone_validate_e164])
    voice_number_sid = models.CharField(max_length=34, null=True, blank=True, unique=True)
    # The Twilio account holding the clinic's number: its own subaccount (AC...), or ""
    # for the main account (TWILIO_SUBACCOUNT_PER_CLINIC=false, or clinics provisioned
    # before subaccounts). Number operations run under /Accounts/{this}/ with the main
    # credentials; webhooks from it are signed with its auth token, kept sealed below.
    twilio_account_sid = models.CharField(max_length=34, blank=True, default="", db_index=True)
    # The subaccount's auth token, encrypted with FIELD_ENCRYPTION_KEY (clinics.sealed);
    # not editable, so never in admin forms. Read only by the webhook signature check.
    twilio_account_token_sealed = models.TextField(blank=True, default="", editable=False)
    # When the subaccount's creation was last asked of Twilio, committed before the call:
    # a retry then looks the subaccount up by friendly name before creating another.
    twilio_account_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The subaccount's Status as Twilio last answered it (active, suspended, closed), set
    # by the Suspend / Reactivate / Close admin actions and the audit; "" = not asked yet.
    twilio_account_status = models.CharField(max_length=16, blank=True, default="", editable=False)
    # "Move to its own subaccount" for a clinic whose number is on the main account
    # (telephony.numbers.provisioning "move"): requested -> transferred -> done, or failed (with the
    # sentence in number_move_error); a retry resumes from what Twilio shows.
    number_move_step = models.CharField(max_length=16, blank=True, default="", editable=False)
    number_move_error = models.TextField(blank=True, default="", editable=False)
    # The run (its task id) doing the move, until when: a second run (a second click, a
    # re-sent task) leaves the number alone meanwhile. Cleared when the move ends.
    number_move_claimed_by = models.CharField(max_length=64, blank=True, default="", editable=False)
    number_move_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    number_state = models.CharField(max_length=16, choices=NumberState.choices, default=NumberState.NONE, db_index=True)
    number_state_changed_at = models.DateTimeField(default=timezone.now)
    # What a person can act on when the last operation failed, and Twilio's code if any.
    number_error = models.TextField(blank=True)
    number_error_code = models.IntegerField(null=True, blank=True)
    # The request being worked on: kept so a retried or re-driven task has what it needs.
    requested_area_code = models.CharField(max_length=3, blank=True)
    requested_friendly_name = models.CharField(max_length=64, blank=True, validators=[text_validate_printable])
    # The exact number about to be bought, committed before the purchase call so that a
    # retried task buys this same number (or adopts it) rather than a second one.
    pending_number = models.CharField(max_length=16, blank=True)
    # When the periodic job last re-sent this clinic's stuck work (at most once per
    # NUMBER_STUCK_AFTER_SECONDS, so a long outage does not flood the queue).
    last_redriven_at = models.DateTimeField(null=True, blank=True)
    # When sending this clinic's work to the task queue failed (broker down or hung):
    # beat's next tick re-sends it, without waiting NUMBER_STUCK_AFTER_SECONDS.
    send_failed_at = models.DateTimeField(null=True, blank=True)
    # Webhooks as Twilio last confirmed them for this clinic's number.
    twilio_webhooks = models.JSONField(default=dict, blank=True)
    # The clinic's IANA time zone: every date on its pages is shown in it (clinics.dates).
    # Guessed from the number's area code when first known (clinics.phone), editable.
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[time_zone_validate],
        help_text="IANA name, e.g. America/Chicago; blank: guessed from the clinic's number.",
    )
    # The onboarding checklist restarts with every number: run 1 for the first number, +1 per
    # release. Older runs' ticks stay in the number history (NumberEvent kinds checklist_*).
    checklist_run = models.PositiveIntegerField(default=1)
    checklist_run_started_at = models.DateTimeField(default=timezone.now)
    # Steps done in the current run, kept by clinics.services next to the ChecklistItem rows
    # so that the clinic list filters and sorts on an indexed column, not a COUNT over
    # every clinic's items (bench/README.md "Admin list").
    checklist_done = models.PositiveSmallIntegerField(default=0, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "clients"
        ordering = ["name", "id"]
        # The admin list's default order, read page by page from the index at any size.
        indexes = [models.Index(fields=["name", "id"], name="clinic_name_id")]
        constraints = [
            # Two clinics never reserve the same number: concurrent provisioning in one
            # area code sees the same search results.
            models.UniqueConstraint(
                fields=["pending_number"], condition=~models.Q(pending_number=""), name="clinic_pending_number_unique"
            ),
        ]
        # The staff powers over a clinic's number (checked by the admin, its custom views and
        # the admin API); the "Onboarding staff" group holds them (migration telephony 0004_onboarding_staff_group).
        permissions = [
            ("provision_number", "Can provision (buy) a clinic's Twilio number"),
            ("release_number", "Can release a clinic's Twilio number"),
            ("update_number_webhooks", "Can reset the webhooks of a clinic's Twilio number"),
            # Sandbox Twilio only: signed test traffic through our own webhooks (clinics.admin).
            ("simulate_test_traffic", "Can simulate a test call and SMS to a clinic's number (sandbox Twilio)"),
            ("untick_checklist_step", "Can untick a clinic's onboarding checklist step"),
            # The clinic's Twilio subaccount (telephony.numbers.provisioning "subaccount status"):
            # suspend is reversible, close is not (Twilio releases its numbers, may delete it).
            ("suspend_subaccount", "Can suspend or reactivate a clinic's Twilio subaccount"),
            ("close_subaccount", "Can close a clinic's Twilio subaccount (irreversible)"),
            ("move_to_subaccount", "Can move a clinic's number into its own Twilio subaccount"),
            # Keeping the clinic's own number (issue 23): a port-in request and a hosted SMS
            # order are signed for the clinic (a letter of authorization): they commit it legally.
            ("keep_existing_number", "Can start a port-in or hosted SMS order for a clinic's own number"),
            # A departed clinic's patients, appointments, texts and calls in one file: protected health information.
            ("export_patient_data", "Can download the patient data of a clinic that left"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def forward_target(self) -> str:
        """The Twilio number the published line forwards its calls to, on a path that forwards
        (forward, text-enable): the voice number of a text-enabled clinic, else its number
        unless that is the published number itself (hosted for texts only). "" when none."""
        if self.onboarding_path not in PATHS_FORWARDING:
            return ""
        if self.voice_number:
            return self.voice_number
        return self.twilio_number if self.twilio_number and self.twilio_number != self.published_number else ""

    @property
    def texting_hosted(self) -> bool:
        """Text-enabled: the published number is the clinic's (texting) number, hosted at Twilio."""
        return (
            self.onboarding_path == OnboardingPath.TEXT_ENABLE
            and bool(self.published_number)
            and (self.twilio_number == self.published_number)
        )

    def number_hold_reason(self) -> str:
        """Why this clinic may not be deleted now, as a sentence; "" when it may.

        A clinic that holds a number, or is getting or giving one back, must not vanish:
        the number would stay bought (and billed) at Twilio with no clinic to answer for it.
        """
        if self.number_state == NumberState.PROVISIONING:
            return f"{self.name} is getting a number right now; once it has one, release it, then delete the clinic."
        if self.number_state == NumberState.RELEASING:
            return f"{self.name} is releasing its number {self.twilio_number}; delete the clinic once the release is done."
        if self.twilio_number or self.twilio_number_sid:
            return (
                f"{self.name} holds the number {self.twilio_number or 'it was sold'}, "
                "still bought and billed at Twilio; release it first."
            )
        if self.pending_number:
            # Kept after a failed attempt because the purchase may have gone through unseen.
            return (
                f"{self.name}'s last provisioning may have bought {self.pending_number}; "
                "retry provisioning (or adopt it from the Number audit), release it, then delete the clinic."
            )
        return ""

    def delete_block_reason(self) -> str:
        """Why this clinic may not be deleted now, as a sentence; "" when it may.

        Its number first (number_hold_reason), then its own Twilio subaccount: until that
        is closed (the recorded Close Twilio subaccount step), Twilio keeps it usable and
        billable with its credentials, and a deleted clinic would leave nobody here to see it.
        """
        hold = self.number_hold_reason()
        if hold or not self.twilio_account_sid or self.twilio_account_status == "closed":
            return hold
        return (
            f"{self.name}'s Twilio subaccount is not closed, and Twilio keeps an open subaccount usable and "
            "billable: close it first (Close Twilio subaccount on the clinic's page), then delete the clinic."
        )


class ClinicHoldsNumberError(models.ProtectedError):
    """A delete refused because a clinic holds a Twilio number or an open subaccount
    (see Clinic.delete_block_reason)."""


class OnboardingStep(models.TextChoices):
    """The steps of the setup guide, in order (the A2P 10DLC ones before texting can be tested)."""

    BUY_NUMBER = "buy_number", "Buy a Twilio number"
    SAVE_NUMBER = "save_number", "Save the number to the clinic"
    SAVE_SID = "save_sid", "Save the number's SID to the clinic"
    TEST_INBOUND_CALL = "test_inbound_call", "Test an inbound call"
    # A2P 10DLC registration (ticked by telephony/a2p/steps.py): US carriers block SMS
    # from a local number outside an approved campaign, so the SMS test waits for them.
    A2P_PROFILE_APPROVED = "a2p_profile_approved", "Business profile approved"
    A2P_BRAND_REGISTERED = "a2p_brand_registered", "Brand registered"
    A2P_CAMPAIGN_APPROVED = "a2p_campaign_approved", "Campaign approved and number in the Messaging Service"
    TEST_INBOUND_SMS = "test_inbound_sms", "Test an inbound SMS"
    # Twilio's HIPAA eligibility (a signed BAA, the clinic's account flagged HIPAA, HTTP
    # authentication on media URLs) is set in Twilio's Console, not through the API: a staff
    # member checks it there and ticks this before going live, recorded with who and when (TWILIO_HIPAA_URL).
    HIPAA_CONFIRMED = "hipaa_account_confirmed", "HIPAA account confirmed"
    UPDATE_LISTING = "update_listing", "Update the Google/website listing"
    # The forward path's last step, in place of the listing's (a forwarded line keeps its
    # listing): ticked by a call Twilio reports as forwarded from the published number
    # (ForwardedFrom), or by a staff confirmation recorded with who and when. On the port-in
    # path, ticked by the completed port (the published number is then the clinic's number).
    PUBLISHED_LINE = "published_line_reaches_agent", "Calls to the published number reach the agent"


# Twilio's page on HIPAA accounts (BAA, HIPAA-flagged accounts), linked from the checklist step.
TWILIO_HIPAA_URL = "https://www.twilio.com/docs/iam/twilio-editions/hippa"


# The ONE place that says in which order the steps are offered and what each waits for
# (a step is offered for ticking only once every step it requires is done). New steps
# (e.g. A2P registration) join OnboardingStep and this mapping; the checklist page, the
# tick service and the "Next step" hint all read it.
STEP_REQUIRES: dict[str, tuple[str, ...]] = {
    OnboardingStep.BUY_NUMBER: (),
    OnboardingStep.SAVE_NUMBER: (OnboardingStep.BUY_NUMBER,),
    OnboardingStep.SAVE_SID: (OnboardingStep.BUY_NUMBER,),
    OnboardingStep.TEST_INBOUND_CALL: (OnboardingStep.SAVE_NUMBER,),
    # A2P 10DLC: the brand needs the approved business profile; the campaign, the brand
    # and the number (which joins the clinic's Messaging Service); texting waits for it.
    OnboardingStep.A2P_PROFILE_APPROVED: (),
    OnboardingStep.A2P_BRAND_REGISTERED: (OnboardingStep.A2P_PROFILE_APPROVED,),
    OnboardingStep.A2P_CAMPAIGN_APPROVED: (OnboardingStep.A2P_BRAND_REGISTERED, OnboardingStep.SAVE_NUMBER),
    OnboardingStep.TEST_INBOUND_SMS: (OnboardingStep.SAVE_NUMBER, OnboardingStep.A2P_CAMPAIGN_APPROVED),
    OnboardingStep.UPDATE_LISTING: (OnboardingStep.TEST_INBOUND_CALL, OnboardingStep.TEST_INBOUND_SMS),
    # Forwarding needs the number to forward to.
    OnboardingStep.PUBLISHED_LINE: (OnboardingStep.SAVE_NUMBER,),
    # Checked in Twilio's Console whenever staff can: before the number, or after.
    OnboardingStep.HIPAA_CONFIRMED: (),
}
# Steps a person ticks by hand (the others are ticked by the system: provisioning, first call/SMS).
MANUAL_STEPS: frozenset[str] = frozenset(
    {OnboardingStep.UPDATE_LISTING, OnboardingStep.PUBLISHED_LINE, OnboardingStep.HIPAA_CONFIRMED}
)
# Steps that follow a state: the number's (bought, saved) and the texting registration's
# (Twilio's reviews). The system ticks them when the state says so and only the state takes
# them back (a release starts a new run), so nobody unticks them by hand: the run could
# then never be complete again. The other steps record what a person checked (a test call,
# a test SMS, the listing); a person may untick those, with the steps that depend on them.
STATE_STEPS: frozenset[str] = frozenset(
    {
        OnboardingStep.BUY_NUMBER,
        OnboardingStep.SAVE_NUMBER,
        OnboardingStep.SAVE_SID,
        OnboardingStep.A2P_PROFILE_APPROVED,
        OnboardingStep.A2P_BRAND_REGISTERED,
        OnboardingStep.A2P_CAMPAIGN_APPROVED,
    }
)
TEXTING_STEPS = (OnboardingStep.A2P_PROFILE_APPROVED, OnboardingStep.A2P_BRAND_REGISTERED, OnboardingStep.A2P_CAMPAIGN_APPROVED)


def path_steps(path: str) -> tuple[str, ...]:
    """The checklist steps of an onboarding path, in order. The paths whose published line calls
    the agent (forward, port-in) end with proving it instead of a listing update (the listing
    keeps the published number); every path has as many steps, so the list's counter compares
    with one total."""
    other = OnboardingStep.UPDATE_LISTING if path in PATHS_CALLING_PUBLISHED_LINE else OnboardingStep.PUBLISHED_LINE
    return tuple(value for value in OnboardingStep.values if value != other)


def step_state_sentence(step: str) -> str:
    """Why a state step cannot be unticked by hand, as a sentence staff can act on."""
    label = OnboardingStep(step).label
    if step in TEXTING_STEPS:
        return f"“{label}” follows the texting registration: Twilio's review ticks it, and it cannot be unticked by hand."
    return (
        f"“{label}” follows the clinic's number: it is ticked when the number is bought and cleared when the number "
        "is released (a new checklist run), and it cannot be unticked by hand."
    )


def step_dependents(step: str) -> list[str]:
    """Every step that requires `step`, directly or through another (STEP_REQUIRES), in the
    checklist's order: unticking `step` unticks them too."""
    found: set[str] = set()
    frontier = [step]
    while frontier:
        current = frontier.pop()
        for candidate, required in STEP_REQUIRES.items():
            if current in required and candidate not in found:
                found.add(candidate)
                frontier.append(candidate)
    return [value for value in OnboardingStep.values if value in found]


class ChecklistItem(models.Model):
    """One done step of a clinic's onboarding checklist (a missing row is a step to do)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="checklist_items")
    step = models.CharField(max_length=32, choices=OnboardingStep.choices)
    done_at = models.DateTimeField(default=timezone.now)
    # Null means the system ticked it (provisioning, the first real call or SMS).
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "step"], name="checklist_step_once")]
        ordering = ["clinic", "done_at"]

    def __str__(self) -> str:
        return f"{self.clinic_id}: {self.get_step_display()}"


class NumberEvent(models.Model):
    """Audit history of clinics' numbers: which clinic had which number, when, and why."""

    class Kind(models.TextChoices):
        PROVISION_REQUESTED = "provision_requested", "Provisioning requested"
        RESERVED = "reserved", "Number chosen"
        PURCHASED = "purchased", "Number bought"
        ADOPTED = "adopted", "Number adopted"
        FAILED = "failed", "Failed"
        WEBHOOKS_UPDATED = "webhooks_updated", "Webhooks updated"
        RELEASE_REQUESTED = "release_requested", "Release requested"
        RELEASED = "released", "Number released"
        REDRIVEN = "redriven", "Stuck work re-sent"
        SUBACCOUNT_SET = "subaccount_set", "Twilio subaccount set"
        CHECKLIST_TICKED = "checklist_ticked", "Checklist step ticked"
        CHECKLIST_UNTICKED = "checklist_unticked", "Checklist step unticked"
        CHECKLIST_RUN_STARTED = "checklist_run_started", "New checklist run"
        # A reserved number let go before buying it (taken by someone else, area code
        # changed): nothing failed and nothing was bought; was recorded as "Failed" before.
        RESERVATION_CANCELLED = "reservation_cancelled", "Reservation cancelled"
        SUBACCOUNT_SUSPENDED = "subaccount_suspended", "Twilio subaccount suspended"
        SUBACCOUNT_REACTIVATED = "subaccount_reactivated", "Twilio subaccount reactivated"
        SUBACCOUNT_CLOSED = "subaccount_closed", "Twilio subaccount closed"
        MOVE_REQUESTED = "move_requested", "Move to own subaccount requested"
        MOVE_TRANSFERRED = "move_transferred", "Number transferred to own subaccount"
        MOVED = "moved", "Number moved to own subaccount"
        MOVE_FAILED = "move_failed", "Move to own subaccount failed"
        # The clinic row is gone; its history stays (clinic_name), under Number history.
        CLINIC_DELETED = "clinic_deleted", "Clinic deleted"
        ONBOARDING_PATH_SET = "onboarding_path_set", "Onboarding path chosen"
        HOSTED_ORDER = "hosted_order", "Hosted SMS order"
        PORT_IN_REQUESTED = "port_in_requested", "Port-in requested"
        PORT_IN_CHANGED = "port_in_changed", "Port-in status changed"
        PORTED_IN = "ported_in", "Number ported in"
        # A clinic that left: its patients' data downloaded, then purged after the retention period.
        PATIENT_DATA_EXPORTED = "patient_data_exported", "Patient data downloaded"
        PATIENT_DATA_PURGED = "patient_data_purged", "Patient data purged"

    # History outlives the clinic row: keep the name, drop the link.
    clinic = models.ForeignKey(Clinic, null=True, blank=True, on_delete=models.SET_NULL, related_name="number_events")
    clinic_name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    phone_number = models.CharField(max_length=16, blank=True)
    phone_sid = models.CharField(max_length=34, blank=True)
    detail = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["phone_sid"]), models.Index(fields=["phone_number"])]
        verbose_name = "number history event"
        verbose_name_plural = "number history"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.phone_number}".strip()


class ClinicUsage(models.Model):
    """This month's Twilio usage of a clinic's subaccount, as last fetched by a task
    (telephony.numbers.usage) from Usage/Records/ThisMonth: the clinic page reads it and never
    waits on Twilio. A failed fetch keeps the last figures and says why."""

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, primary_key=True, related_name="usage")
    account_sid = models.CharField(max_length=34)
    month = models.CharField(max_length=7, blank=True)  # YYYY-MM the figures are for
    calls = models.PositiveIntegerField(default=0)
    sms = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    currency = models.CharField(max_length=8, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.clinic_id} {self.month}: {self.calls} calls, {self.sms} SMS, {self.cost} {self.currency}"


class Patient(models.Model):
    """A clinic's patient, as reminders and replies know them (one per clinic and phone)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="patients")
    name = models.CharField(max_length=200, blank=True, validators=[text_validate_printable])
    phone = models.CharField(max_length=16, validators=[phone_validate_e164], help_text="E.164, e.g. +15125551234")
    sms_opted_out = models.BooleanField(default=False)
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "phone"], name="patient_phone_per_clinic")]
        ordering = ["clinic", "name"]

    def __str__(self) -> str:
        return self.name or self.phone


class AppointmentStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CONFIRMED = "confirmed", "Confirmed"
    RESCHEDULE_REQUESTED = "reschedule_requested", "Reschedule requested"
    CANCELLED = "cancelled", "Cancelled"


class ReminderOutcome(models.TextChoices):
    """What became of an appointment's last reminder."""

    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Not sent"
    REFUSED = "refused", "Refused by Twilio"


class Appointment(models.Model):
    """A patient's appointment at a clinic; SMS replies confirm it or ask to reschedule."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="appointments")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="appointments")
    starts_at = models.DateTimeField()
    status = models.CharField(max_length=24, choices=AppointmentStatus.choices, default=AppointmentStatus.SCHEDULED)
    # Set when the patient asked for something only a person can do (reschedule).
    needs_staff_attention = models.BooleanField(default=False)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    # The last reminder's outcome as staff see it: sent (Twilio accepted it), skipped (nothing
    # was sent, and why) or refused (Twilio refused it, and why).
    reminder_outcome = models.CharField(max_length=8, choices=ReminderOutcome.choices, blank=True)
    reminder_outcome_detail = models.TextField(blank=True)
    reminder_outcome_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["patient", "starts_at"])]
        # Sending a reminder spends money at Twilio: its own power, not plain "change".
        permissions = [("send_appointment_reminder", "Can send appointment reminder SMS")]

    def __str__(self) -> str:
        return f"{self.patient} at {datetime_for_people(self.starts_at, self.clinic.time_zone)}"


# A2P 10DLC registration models live in their own module (registered with this app here).
from .models_a2p import A2PEvent, A2PRegistration, BusinessProfile  # noqa: E402,F401
from .models_access import AccessRecord  # noqa: E402,F401
from .models_hosted import HostedOrder  # noqa: E402,F401
from .models_porting import NumberPortIn  # noqa: E402,F401
