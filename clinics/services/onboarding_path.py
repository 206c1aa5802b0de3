"""The clinic's onboarding path (clinics.models.OnboardingPath) and the forward path's
evidence: the choice, the published number, and the step "Calls to the published number
reach the agent", ticked by a forwarded call or by a staff confirmation."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import (
    PATH_NOT_YET,
    PATHS_FORWARDING,
    PATHS_KEEPING_NUMBER,
    ChecklistItem,
    Clinic,
    HostedOrder,
    NumberEvent,
    OnboardingPath,
    OnboardingStep,
    path_available,
    path_steps,
)
from ..models_porting import PORT_IN_OPEN, NumberPortIn, PortInState
from ..phone import phone_format_national, phone_normalize
from .checklist import checklist_tick_locked, checklist_untick_locked
from .errors import ClinicInputError
from .rows import clinic_lock, number_event_write


def clinic_onboarding_path_set(*, clinic_id: int, path: str, published_number: str = "", actor: User | None) -> Clinic:
    """Choose the clinic's onboarding path (and, to forward or port it in, its published number
    typed in any common format); return the clinic as saved. The history says who chose what.

    Changeable until the path's point of no return: a new number's is its listing update
    (patients then dial the new number: untick the listing first); forwarding has none (the
    clinic switches it off at its carrier); a port-in's is its request (cancel it first), and
    a completed port is final. Steps of the old path that the new one does not
    have are unticked, with why; a new published number unticks the old one's evidence.

    Raises ClinicInputError, changing nothing, for an unknown path, a path not available yet,
    a missing or invalid published number, or a path past its point of no return.
    """
    if path not in OnboardingPath.values:
        raise ClinicInputError(f"Choose an onboarding path: {', '.join(str(label) for _, label in OnboardingPath.choices)}.")
    if not path_available(path):
        raise ClinicInputError(f"{PATH_NOT_YET[path]}: choose another path for now. Nothing was changed.")
    number = ""
    if path in PATHS_KEEPING_NUMBER:
        try:
            number = phone_normalize(published_number)
        except ValidationError as exc:
            raise ClinicInputError(f"The published number: {' '.join(exc.messages)}") from exc
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if number and number == clinic.twilio_number:
            raise ClinicInputError(
                f"{phone_format_national(number)} is the clinic's own Twilio number"
                f"{', the one forwarding goes to' if path in PATHS_FORWARDING else ''}: "
                "enter the number patients dial today (website, Google listing)."
            )
        if (clinic.onboarding_path, clinic.published_number) == (path, number):
            return clinic
        order = HostedOrder.objects.filter(clinic=clinic).exclude(status="failed").first()
        if order is not None:
            raise ClinicInputError(
                f"Texting for {phone_format_national(order.phone_number)} is ordered at Twilio (the order is "
                f"{order.status_words}): the path cannot change while the order stands."
            )
        port = NumberPortIn.objects.filter(clinic=clinic, state__in=(*PORT_IN_OPEN, PortInState.COMPLETED)).first()
        if port is not None:
            published = phone_format_national(port.phone_number)
            raise ClinicInputError(
                f"{published} was ported in: it is the clinic's number now, so the path stays Port the number in."
                if port.state == PortInState.COMPLETED
                else f"A port of {published} is under way: cancel it on the clinic's page first. Nothing was changed."
            )
        ticked = set(ChecklistItem.objects.filter(clinic=clinic).values_list("step", flat=True))
        if path != clinic.onboarding_path and OnboardingStep.UPDATE_LISTING in ticked:
            raise ClinicInputError(
                "The new number is on the clinic's listing already (its listing step is ticked): patients dial it now. "
                "To change the path, untick the listing step first, saying why."
            )
        dropped = [step for step in ticked if step not in path_steps(path)]
        if number != clinic.published_number and OnboardingStep.PUBLISHED_LINE in ticked:
            dropped.append(OnboardingStep.PUBLISHED_LINE)
        before = OnboardingPath(clinic.onboarding_path).label
        clinic.onboarding_path, clinic.published_number = path, number
        clinic.save(update_fields=["onboarding_path", "published_number", "updated_at"])
        chosen = OnboardingPath(path).label + (f", published number {phone_format_national(number)}" if number else "")
        number_event_write(
            clinic,
            NumberEvent.Kind.ONBOARDING_PATH_SET,
            number=clinic.twilio_number,
            sid=clinic.twilio_number_sid or "",
            detail=f"{chosen} (was: {before})",
            actor=actor,
        )
        for step in sorted(set(dropped)):
            checklist_untick_locked(clinic, step, actor=actor, why=f"the onboarding path is now {chosen}")
    return clinic


def clinic_forwarded_call_record(*, clinic_id: int, forwarded_from: str) -> bool:
    """Evidence from Twilio: a call to the clinic's number (or, text-enabled, its voice
    number) came forwarded from `forwarded_from` (E.164). Tick "Calls to the published number
    reach the agent" when the clinic forwards that very number (the forward and text-enable
    paths); return True if this call ticked it."""
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if clinic.onboarding_path not in PATHS_FORWARDING or forwarded_from != clinic.published_number:
            return False
        if not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.SAVE_NUMBER).exists():
            return False
        note = (
            f"a call forwarded from {phone_format_national(forwarded_from)} reached the clinic's number (Twilio's ForwardedFrom)"
        )
        return checklist_tick_locked(clinic, OnboardingStep.PUBLISHED_LINE, actor=None, note=note)


def clinic_forwarding_confirm(*, clinic_id: int, actor: User | None) -> bool:
    """A staff member says calls to the published number reach the agent (their carrier
    passes no ForwardedFrom, say): the step is ticked as their confirmation, with who and
    when. Return True if this call ticked it. Raises ClinicInputError when nobody is named,
    the clinic does not forward its line, or it has no number to forward to yet."""
    if actor is None:
        raise ClinicInputError("A confirmation names who confirms: sign in as staff to confirm the forwarding.")
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if clinic.onboarding_path not in PATHS_FORWARDING:
            raise ClinicInputError(f"{clinic.name} does not forward its line: choose that path first.")
        if not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.SAVE_NUMBER).exists():
            raise ClinicInputError(f"{clinic.name} has no number to forward to yet: provision one first.")
        note = (
            f"confirmed by {actor.get_username()}: calls to {phone_format_national(clinic.published_number)} "
            "reach the agent (no forwarded call reported yet)"
        )
        return checklist_tick_locked(clinic, OnboardingStep.PUBLISHED_LINE, actor=actor, note=note)
