"""Reads of clinics that several places need, and the onboarding policy read from them."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max, Q, QuerySet

from .models import (
    MANUAL_STEPS,
    PATHS_FORWARDING,
    STEP_REQUIRES,
    Appointment,
    ChecklistItem,
    Clinic,
    NumberEvent,
    NumberState,
    OnboardingPath,
    OnboardingStep,
    ReminderOutcome,
    path_steps,
)
from .models_a2p import APPROVED, A2PRegistration, A2PStep
from .models_porting import NumberPortIn, PortInState
from .phone import phone_format_national

# Every path has as many steps (clinics.models.path_steps): the list compares its counter with one total.
CHECKLIST_TOTAL = len(path_steps(OnboardingPath.NEW_NUMBER))


def clinics_by_numbers(*, phone_numbers: Iterable[str], phone_sids: Iterable[str]) -> list[Clinic]:
    """Every clinic holding one of these numbers or SIDs, in one query."""
    return list(Clinic.objects.filter(Q(twilio_number__in=list(phone_numbers)) | Q(twilio_number_sid__in=list(phone_sids))))


def clinic_list_with_progress() -> QuerySet[Clinic]:
    """Clinics for the list: `checklist_done` is a column kept by the services, so filtering
    and sorting on it costs an index lookup at any size (no COUNT over the items)."""
    return Clinic.objects.all()


def clinic_checklist(*, clinic: Clinic) -> list[dict]:
    """The steps of the clinic's current run on its onboarding path, in their natural order,
    each with done_at / done_by (None when not done), what it requires and which of those
    are still to do."""
    done = {item.step: item for item in ChecklistItem.objects.filter(clinic=clinic).select_related("done_by")}
    steps = []
    for value in path_steps(clinic.onboarding_path):
        label = OnboardingStep(value).label
        item = done.get(value)
        waiting_for = [OnboardingStep(required).label for required in STEP_REQUIRES.get(value, ()) if required not in done]
        steps.append(
            {
                "step": value,
                "label": label,
                "done": item is not None,
                "done_at": item.done_at if item else None,
                "done_by": (item.done_by.get_username() if item.done_by else "system") if item else None,
                "note": item.note if item else "",
                "manual": value in MANUAL_STEPS,
                "waiting_for": waiting_for,
            }
        )
    return steps


def clinics_hipaa_unconfirmed() -> QuerySet[Clinic]:
    """Clinics with a number (so patients' calls and texts reach Twilio) whose checklist has no
    staff confirmation that their Twilio account is HIPAA-enabled, by name."""
    confirmed = ChecklistItem.objects.filter(step=OnboardingStep.HIPAA_CONFIRMED).values("clinic_id")
    return Clinic.objects.filter(twilio_number__gt="").exclude(pk__in=confirmed).order_by("name")


def clinic_account_sid_for_number(*, phone_sid: str) -> str:
    """The Twilio account holding this number: its clinic's subaccount, or "" (the main account).
    A temporary number kept after a port-in is still in the subaccount of the clinic that had it."""
    held = (
        Clinic.objects.filter(Q(twilio_number_sid=phone_sid) | Q(voice_number_sid=phone_sid))
        .values_list("twilio_account_sid", flat=True)
        .first()
    )
    if held is None:
        kept = NumberPortIn.objects.filter(temporary_number_sid=phone_sid).values_list("clinic__twilio_account_sid", flat=True)
        held = kept.first()
    return held or ""


def clinic_account_sid(*, clinic_id: int) -> str:
    """The clinic's own Twilio subaccount, or "" (its numbers are on the main account)."""
    return Clinic.objects.filter(pk=clinic_id).values_list("twilio_account_sid", flat=True).first() or ""


@dataclass(frozen=True)
class NextStep:
    """A clinic's next human step: what to do, after a `lead` ("Fix:", "Search again:") that
    pages emphasise, when there is one."""

    text: str
    lead: str = ""


def clinic_next_step(*, clinic: Clinic, retry_helps: bool) -> NextStep:
    """What a person does next for the clinic: wait while its number is bought or released,
    fix or search again after a failure, provision a number, or the first checklist step of
    the current run still to do, with how to do it. Live when every step is done.

    `retry_helps` says whether retrying the last failure with the same area code may succeed
    (which of Twilio's errors a retry cannot fix is telephony's knowledge, not the domain's).
    """
    if clinic.pk is None:
        return NextStep("Save the clinic, then provision its number.")
    state = clinic.number_state
    if state == NumberState.PROVISIONING:
        return NextStep("A number is being bought; this page refreshes until it is there.")
    if state == NumberState.RELEASING:
        return NextStep("The number is being released; this page refreshes until it is done.")
    if state == NumberState.FAILED and not retry_helps:
        return NextStep(
            f"{clinic.number_error or 'nothing was for sale'} Use Provision number (button above).", lead="Search again:"
        )
    if state == NumberState.FAILED:
        # The failure's sentence already says what to do, and it is true to the state left.
        return NextStep(clinic.number_error or "The last operation failed; retry it.", lead="Failed:")
    porting = clinic_port_in_next_step(clinic=clinic) if clinic.onboarding_path == OnboardingPath.PORT_IN else None
    if porting is not None:
        return porting
    forwarding = clinic.onboarding_path in PATHS_FORWARDING
    if not clinic.forward_target and forwarding and not clinic.twilio_number:
        published = phone_format_national(clinic.published_number)
        return NextStep(f"Provision a number (button above): the number {published} will forward its calls to.")
    if not clinic.twilio_number:
        return NextStep("Provision a number (button above).")
    todo = next((step for step in clinic_checklist(clinic=clinic) if not step["done"]), None)
    if todo is None:
        return NextStep("Live: every onboarding step is done.")
    number = phone_format_national(clinic.twilio_number)
    calls_to = phone_format_national(clinic.forward_target or clinic.twilio_number)
    # The sandbox Twilio's numbers cannot be dialled or texted from a phone: its button drives the test.
    simulate = "press Simulate test call / SMS (button above): the sandbox's numbers cannot be reached from a phone"
    hints = {
        OnboardingStep.TEST_INBOUND_CALL: simulate if settings.TWILIO_SANDBOX else f"call {calls_to} from any phone",
        OnboardingStep.TEST_INBOUND_SMS: simulate if settings.TWILIO_SANDBOX else f"text anything to {number}",
        OnboardingStep.A2P_PROFILE_APPROVED: "fill in the business profile and Start registration (US carriers "
        "block texts from unregistered numbers, so the SMS test waits for it)",
        OnboardingStep.A2P_BRAND_REGISTERED: "Twilio reviews the brand after the profile (days)",
        OnboardingStep.A2P_CAMPAIGN_APPROVED: "Twilio reviews the campaign after the brand (days)",
        OnboardingStep.UPDATE_LISTING: "put the number on Google and the clinic's website, then tick it (button above)",
        OnboardingStep.HIPAA_CONFIRMED: "check in Twilio's Console that the clinic's account is HIPAA-enabled (a signed "
        "BAA, the account flagged HIPAA), then press HIPAA account confirmed (button above)",
    }
    if todo["step"] == OnboardingStep.TEST_INBOUND_SMS and clinic.onboarding_path == OnboardingPath.TEXT_ENABLE:
        if not clinic.texting_hosted:
            hints[OnboardingStep.TEST_INBOUND_SMS] = (
                f"when the texting order completes, text {phone_format_national(clinic.published_number)}"
            )
    if todo["step"] == OnboardingStep.PUBLISHED_LINE and not todo["waiting_for"]:
        published = phone_format_national(clinic.published_number)
        return NextStep(
            f"at the carrier of {published}, forward its calls to {calls_to} (instructions under Onboarding path), then "
            f"call {published}: the step ticks when Twilio reports the forwarded call, or press Forwarding works ✔.",
            lead="Set the forwarding:",
        )
    hint = hints.get(todo["step"], "")
    if todo["waiting_for"]:
        hint = f"after {', '.join(todo['waiting_for'])}"
    return NextStep(f"{todo['label']}{': ' + hint if hint else ''}.")


def clinic_port_in_current(*, clinic: Clinic) -> NumberPortIn | None:
    """The clinic's latest port-in request (a replaced one excepted), or None."""
    return NumberPortIn.objects.filter(clinic=clinic).exclude(state=PortInState.REPLACED).first()


def clinic_port_in_next_step(*, clinic: Clinic) -> NextStep | None:
    """Where the clinic's port stands and the next human action; None once it is completed
    (the checklist then goes on as for any number)."""
    port = clinic_port_in_current(clinic=clinic)
    published = phone_format_national(clinic.published_number)
    if port is None or port.state in (PortInState.REFUSED, PortInState.CANCELED, PortInState.EXPIRED):
        ended = f"the last request was {port.get_state_display().lower()}; " if port is not None else ""
        return NextStep(
            f"{ended}press Port the number in… (button above) to check that {published} can be ported and enter its "
            "carrier's customer service record.",
            lead="Start the port:",
        )
    if port.state == PortInState.COMPLETED:
        return None
    signer = port.losing_carrier.get("authorized_representative") or "the authorized person"
    due = f"{port.target_date:%B %-d, %Y}"
    steps = {
        PortInState.REQUESTING: ("", "the port-in request is being sent to Twilio; reload the page in a minute."),
        PortInState.IN_REVIEW: ("", f"Twilio is reviewing the port of {published}; the authorization to sign comes next."),
        PortInState.WAITING_FOR_SIGNATURE: (
            "Sign the LOA:",
            f"send the signing link (under Onboarding path) to {signer}, who signs the letter of authorization for {published}.",
        ),
        PortInState.IN_PROGRESS: ("", f"the current carrier is releasing {published} for {due}; nothing to do until then."),
        PortInState.ACTION_REQUIRED: (
            "Fix the request:",
            f"the carrier rejected the port of {published}; correct the account number, PIN, name or address as on the "
            "carrier's bill and submit it again (Port the number in…).",
        ),
    }
    lead, text = steps[PortInState(port.state)]
    return NextStep(text[0].upper() + text[1:] if not lead else text, lead=lead)


def clinic_ids_texting_from_their_number(*, clinics: Iterable[Clinic]) -> set[int]:
    """The ids of `clinics` whose current number is their registered texting sender: the number
    in the clinic's A2P Messaging Service (releasing it stops the clinic's texts)."""
    sids = {clinic.pk: clinic.twilio_number_sid for clinic in clinics if clinic.twilio_number_sid}
    rows = A2PRegistration.objects.filter(clinic_id__in=sids, number_status=APPROVED[A2PStep.NUMBER])
    return {clinic_id for clinic_id, number_sid in rows.values_list("clinic_id", "number_sid") if sids[clinic_id] == number_sid}


def clinic_reminders_not_sent(*, clinic: Clinic, limit: int = 10) -> list[Appointment]:
    """The clinic's latest appointments whose last reminder was skipped or refused (newest first)."""
    outcomes = (ReminderOutcome.SKIPPED, ReminderOutcome.REFUSED)
    found = Appointment.objects.filter(clinic=clinic, reminder_outcome__in=outcomes).select_related("patient")
    return list(found.order_by("-reminder_outcome_at")[:limit])


def clinic_departed_at(*, clinic: Clinic) -> datetime.datetime | None:
    """When `clinic` left DentSignal; None while it has not.

    A clinic has left once it holds no number (none being bought or given back) and its own
    Twilio subaccount is closed (closing is irreversible): then, when the later of the two
    happened, as its history records it. A clinic on the main account, or one whose history
    lacks either event, has not left as far as this can tell: its patient data is never purged.
    """
    if (
        clinic.twilio_account_status != "closed"
        or clinic.twilio_number_sid
        or clinic.pending_number
        or clinic.number_state in (NumberState.PROVISIONING, NumberState.RELEASING)
    ):
        return None
    closed = clinic.number_events.filter(kind=NumberEvent.Kind.SUBACCOUNT_CLOSED).aggregate(at=Max("created_at"))["at"]
    if closed is None:
        return None
    released = clinic.number_events.filter(kind=NumberEvent.Kind.RELEASED).aggregate(at=Max("created_at"))["at"]
    return max(closed, released) if released else closed


def clinic_patient_data_purged_at(*, clinic: Clinic) -> datetime.datetime | None:
    """When `clinic`'s patient data was last purged; None if never."""
    return clinic.number_events.filter(kind=NumberEvent.Kind.PATIENT_DATA_PURGED).aggregate(at=Max("created_at"))["at"]
