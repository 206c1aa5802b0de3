"""The onboarding checklist of a clinic's current run: ticks, unticks, and a new run when
its number is released. Each change keeps the `checklist_done` counter equal to the rows
and writes its history event (NumberEvent)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from ..models import (
    STATE_STEPS,
    STEP_REQUIRES,
    TEXTING_STEPS,
    ChecklistItem,
    Clinic,
    NumberEvent,
    OnboardingPath,
    OnboardingStep,
    path_steps,
    step_dependents,
    step_state_sentence,
)
from ..models_a2p import A2PRegistration, A2PStep
from .errors import ClinicInputError
from .rows import clinic_lock, number_event_write


def clinic_checklist_tick(*, clinic_id: int, step: str, actor: User | None = None, note: str = "") -> bool:
    """Mark a checklist step of the clinic's current run done (once), with a history event
    naming who (None: the system) and why; return True if this call ticked it.

    Raises ClinicInputError for an unknown step, a step that is not on the clinic's
    onboarding path (clinics.models.path_steps), or one whose required steps
    (clinics.models.STEP_REQUIRES) are not all done yet, saying which.
    """
    if step not in OnboardingStep.values:
        raise ClinicInputError(f"Unknown checklist step {step!r}.")
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if step not in path_steps(clinic.onboarding_path):
            path = OnboardingPath(clinic.onboarding_path).label
            raise ClinicInputError(f"“{OnboardingStep(step).label}” is not a step of {clinic.name}'s path ({path}).")
        if ChecklistItem.objects.filter(clinic=clinic, step=step).exists():
            return False
        done = set(ChecklistItem.objects.filter(clinic=clinic).values_list("step", flat=True))
        missing = [OnboardingStep(required).label for required in STEP_REQUIRES.get(step, ()) if required not in done]
        # The system's ticks (a real first call or SMS) record what happened, in any order;
        # a person's tick is a claim and waits for the steps it depends on.
        if missing and actor is not None:
            raise ClinicInputError(f"“{OnboardingStep(step).label}” comes after: {', '.join(missing)}.")
        return checklist_tick_locked(clinic, step, actor=actor, note=note)


def clinic_checklist_untick(*, clinic_id: int, step: str, actor: User | None, reason: str) -> list[str]:
    """Undo a person's check of the current run, and every ticked step that depends on it
    (clinics.models.step_dependents), keeping who ticked each in the history and recording
    who unticked it and why; return the unticked steps, `step` first ([] when `step` was
    not ticked: nothing changes).

    Raises ClinicInputError for an unknown step, a missing reason, or a step that follows
    the number's or the registration's state (STATE_STEPS), saying why.
    """
    reason = (reason or "").strip()
    if step not in OnboardingStep.values:
        raise ClinicInputError(f"Unknown checklist step {step!r}.")
    if step in STATE_STEPS:
        raise ClinicInputError(step_state_sentence(step))
    if not reason:
        raise ClinicInputError("Say why the step is unticked: the reason is kept in the number history.")
    label = OnboardingStep(step).label
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        ticked = set(ChecklistItem.objects.filter(clinic=clinic).values_list("step", flat=True))
        if step not in ticked:
            return []
        unticked = [step, *(dependent for dependent in step_dependents(step) if dependent in ticked)]
        for value in unticked:
            why = reason[:300] if value == step else f"it depends on “{label}”, unticked: {reason[:300]}"
            checklist_untick_locked(clinic, value, actor=actor, why=why)
    return unticked


def checklist_untick_locked(clinic: Clinic, step: str, *, actor: User | None, why: str) -> bool:
    """Untick `step` in the locked clinic's current run (the item, the counter, the event
    saying why); False when it was not ticked."""
    deleted, _ = ChecklistItem.objects.filter(clinic=clinic, step=step).delete()
    if not deleted:
        return False
    detail = f"{OnboardingStep(step).label} (run {clinic.checklist_run}): {why}"
    _checklist_changed(clinic, NumberEvent.Kind.CHECKLIST_UNTICKED, detail=detail, actor=actor)
    return True


def checklist_tick_locked(clinic: Clinic, step: str, *, actor: User | None, note: str) -> bool:
    """Tick `step` in the locked clinic's current run: the item, the counter, the event."""
    _, created = ChecklistItem.objects.get_or_create(clinic=clinic, step=step, defaults={"done_by": actor, "note": note[:200]})
    if not created:
        return False
    detail = f"{OnboardingStep(step).label} (run {clinic.checklist_run})" + (f": {note[:200]}" if note else "")
    _checklist_changed(clinic, NumberEvent.Kind.CHECKLIST_TICKED, detail=detail, actor=actor)
    return True


def _checklist_changed(clinic: Clinic, kind: str, *, detail: str, actor: User | None) -> None:
    """After a tick or an untick in the locked clinic: its counter and the history event.
    Counted, not incremented: the counter stays equal to the rows whatever happened before."""
    clinic.checklist_done = ChecklistItem.objects.filter(clinic=clinic).count()
    clinic.save(update_fields=["checklist_done", "updated_at"])
    number_event_write(clinic, kind, number=clinic.twilio_number, sid=clinic.twilio_number_sid or "", detail=detail, actor=actor)


def clinic_checklist_a2p_sync(*, clinic_id: int) -> list[str]:
    """Make the A2P steps of the clinic's current run follow its registration; the steps changed.

    These are state steps (STATE_STEPS): ticked when the registration reaches them,
    unticked by the system when it no longer does (the clinic's number changed and the new
    one is not in the Messaging Service yet). The registration outlives a checklist run (a
    released number starts a new run, the registration stays approved), so every run
    follows the registration's real state: called when a step is recorded, when the
    number changes and when a run starts.
    """
    with transaction.atomic():
        return checklist_a2p_sync_locked(clinic_lock(clinic_id))


def _a2p_reached(clinic: Clinic, registration: A2PRegistration | None) -> list[tuple[str, str]]:
    """The A2P checklist steps the registration has reached for the clinic as it is, with the note for each."""
    if registration is None:
        return []
    reached: list[tuple[str, str]] = []
    if registration.step_approved(A2PStep.CUSTOMER_PROFILE):
        reached.append((OnboardingStep.A2P_PROFILE_APPROVED, "Twilio approved the business profile"))
    if registration.step_approved(A2PStep.BRAND):
        reached.append((OnboardingStep.A2P_BRAND_REGISTERED, "the brand is approved"))
    # The campaign step means texts go out: approved campaign AND today's number in the service.
    if registration.campaign_ready and clinic.twilio_number_sid and registration.number_sid == clinic.twilio_number_sid:
        reached.append((OnboardingStep.A2P_CAMPAIGN_APPROVED, f"campaign approved, {clinic.twilio_number} in the service"))
    return reached


def checklist_a2p_sync_locked(clinic: Clinic) -> list[str]:
    """clinic_checklist_a2p_sync on a clinic row already locked by the caller."""
    registration = A2PRegistration.objects.filter(clinic_id=clinic.pk).first()
    reached = _a2p_reached(clinic, registration)
    changed = [step for step, note in reached if checklist_tick_locked(clinic, step, actor=None, note=note)]
    lost = set(TEXTING_STEPS) - {step for step, _ in reached}
    why = "the texting registration no longer has it (the clinic's number is not in the Messaging Service yet)"
    for item in ChecklistItem.objects.filter(clinic=clinic, step__in=lost):
        checklist_untick_locked(clinic, item.step, actor=None, why=why)
        changed.append(item.step)
    return changed


def checklist_run_start(clinic: Clinic, *, number: str | None) -> None:
    """A released number ends the checklist run: the next number starts run N+1 from zero.

    The ended run's ticks stay in the number history (their checklist_ticked events); the
    rows of the current run are what the checklist page and the list counter show.
    """
    ended = ChecklistItem.objects.filter(clinic=clinic).count()
    ChecklistItem.objects.filter(clinic=clinic).delete()
    clinic.checklist_run += 1
    clinic.checklist_run_started_at = timezone.now()
    clinic.checklist_done = 0
    clinic.save(update_fields=["checklist_run", "checklist_run_started_at", "checklist_done", "updated_at"])
    number_event_write(
        clinic,
        NumberEvent.Kind.CHECKLIST_RUN_STARTED,
        number=number,
        detail=f"Checklist run {clinic.checklist_run} started; run {clinic.checklist_run - 1} ended with "
        f"{ended}/{len(path_steps(clinic.onboarding_path))} steps done.",
    )
    checklist_a2p_sync_locked(clinic)
