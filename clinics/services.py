"""State changes of a clinic's number, one small function each.

Every write runs in `transaction.atomic()`, locks the clinic row where two actors can
race (admin clicks, API calls, task retries, several workers), checks the current state
and raises a ClinicNumberError instead of acting when the change is not allowed. Each
write also records its NumberEvent. Nothing here talks to Twilio or sends tasks: the
workflows in telephony/numbers/provisioning.py call these functions, the Twilio adapter, and
send the follow-up tasks on commit (this module imports nothing from telephony).

    none/released/failed --request--> provisioning --activate--> active
    provisioning --fail--> failed
    active/failed(with number) --release request--> releasing --released--> released
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .dates import time_zone_for_number
from .models import STEP_REQUIRES, ChecklistItem, Clinic, ClinicUsage, NumberEvent, NumberState, OnboardingStep
from .phone import area_code_validate, phone_normalize
from .sealed import secret_seal

# Steps that provisioning completes by itself.
PROVISIONING_STEPS = (OnboardingStep.BUY_NUMBER, OnboardingStep.SAVE_NUMBER, OnboardingStep.SAVE_SID)
# States in which a new number may be requested.
REQUESTABLE_STATES = (NumberState.NONE, NumberState.RELEASED, NumberState.FAILED)
# States whose work is done by a task (and so can be stuck when the task is lost).
STUCKABLE_STATES = (NumberState.PROVISIONING, NumberState.RELEASING)


class ClinicNumberError(Exception):
    """A change of a clinic's number that is not allowed now; the message says why."""


class ClinicNotFound(ClinicNumberError):
    """No clinic has the given id."""


class ClinicInputError(ClinicNumberError):
    """The input is not valid (area code, number); nothing was changed."""


class NumberTaken(ClinicNumberError):
    """Another clinic has reserved or holds this number."""


class AlreadyReleased(ClinicNumberError):
    """The release asked for has already been done (a repeated task)."""


class MoveClaimed(ClinicNumberError):
    """Another run is moving this clinic's number right now."""


def _clinic_lock(clinic_id: object) -> Clinic:
    """Load and lock the clinic row (call inside transaction.atomic)."""
    if isinstance(clinic_id, bool) or not isinstance(clinic_id, int) or not 0 < clinic_id < 2**63:
        raise ClinicNotFound(f"No clinic with id {str(clinic_id)[:40]!r}.")
    clinic = Clinic.objects.select_for_update().filter(pk=clinic_id).first()
    if clinic is None:
        raise ClinicNotFound(f"No clinic with id {clinic_id}.")
    return clinic


def _set_state(clinic: Clinic, state: str, *, fields: tuple[str, ...] = ()) -> None:
    clinic.number_state = state
    clinic.number_state_changed_at = timezone.now()
    # A send that failed belonged to the state being left.
    clinic.send_failed_at = None
    clinic.save(update_fields=["number_state", "number_state_changed_at", "send_failed_at", "updated_at", *fields])


def _event(
    clinic: Clinic | None, kind: str, *, number: str | None = "", sid: str = "", detail: str = "", actor: User | None = None
) -> None:
    NumberEvent.objects.create(
        clinic=clinic,
        clinic_name=clinic.name if clinic else "",
        kind=kind,
        phone_number=number or "",
        phone_sid=sid or "",
        detail=detail,
        actor=actor,
    )


def _has_number_blocker(clinic: Clinic) -> str | None:
    """Why this clinic cannot get a new number now, or None."""
    if clinic.twilio_number or clinic.twilio_number_sid:
        return f"Clinic {clinic.id} ({clinic.name}) already has the number {clinic.twilio_number or clinic.twilio_number_sid}."
    if clinic.number_state == NumberState.PROVISIONING:
        return f"Clinic {clinic.id} ({clinic.name}) is already being provisioned."
    if clinic.number_state == NumberState.RELEASING:
        return f"Clinic {clinic.id} ({clinic.name}) is releasing its number; wait until it is released."
    return None


def _enter_provisioning(clinic: Clinic, *, area_code: str, friendly_name: str, actor=None) -> None:
    clinic.requested_area_code = area_code
    clinic.requested_friendly_name = (friendly_name or "").strip()[:64]
    # pending_number is kept on purpose: after a failed attempt it may name a number
    # that was bought unseen (lost response), which the next attempt must adopt.
    clinic.number_error = ""
    clinic.number_error_code = None
    _set_state(
        clinic,
        NumberState.PROVISIONING,
        fields=("requested_area_code", "requested_friendly_name", "number_error", "number_error_code"),
    )
    _event(clinic, NumberEvent.Kind.PROVISION_REQUESTED, detail=f"area code {area_code}", actor=actor)


def clinic_number_provision_request(
    *,
    clinic_id: int,
    area_code: str,
    friendly_name: str = "",
    phone_number: str = "",
    actor: User | None = None,
) -> Clinic:
    """Move the clinic to `provisioning` (the purchase itself is the workflow's task).

    `phone_number` optionally picks one of the numbers for sale in the area code; it is
    reserved at once. Raises ClinicInputError for bad input, ClinicNotFound, or
    ClinicNumberError when the clinic already has a number or one is on its way.
    Nothing is bought here.
    """
    try:
        area_code = area_code_validate(area_code)
        phone_number = phone_normalize(phone_number) if phone_number else ""
    except ValidationError as exc:
        raise ClinicInputError(exc.messages[0]) from exc
    if phone_number and not phone_number.startswith(f"+1{area_code}"):
        raise ClinicInputError(f"{phone_number} is not in area code {area_code}.")
    friendly_name = (friendly_name or "").strip()[:64]
    try:
        with transaction.atomic():
            clinic = _clinic_lock(clinic_id)
            blocker = _has_number_blocker(clinic)
            if blocker:
                raise ClinicNumberError(blocker)
            if phone_number and clinic.pending_number not in ("", phone_number):
                raise ClinicNumberError(
                    f"The last attempt for {clinic.name} may have bought {clinic.pending_number}; retry without picking "
                    "a number so that it is checked first."
                )
            _enter_provisioning(clinic, area_code=area_code, friendly_name=friendly_name, actor=actor)
            if phone_number:
                clinic.pending_number = phone_number
                clinic.save(update_fields=["pending_number", "updated_at"])
                _event(clinic, NumberEvent.Kind.RESERVED, number=phone_number, actor=actor)
    except IntegrityError as exc:
        raise ClinicInputError(f"{phone_number} is being bought for another clinic; pick another number.") from exc
    return clinic


def clinic_number_provision_begin(*, clinic_id: int, area_code: str, friendly_name: str = "") -> Clinic:
    """Enter (or resume) `provisioning` for a purchase that is about to happen.

    Resuming keeps `pending_number`, so a retried task buys the number it chose before.
    """
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if clinic.number_state == NumberState.PROVISIONING and not clinic.twilio_number:
            return clinic
        blocker = _has_number_blocker(clinic)
        if blocker:
            raise ClinicNumberError(blocker)
        _enter_provisioning(clinic, area_code=area_code, friendly_name=friendly_name)
    return clinic


def clinic_number_reserve(*, clinic_id: int, phone_number: str) -> str:
    """Commit the exact number about to be bought; return the number to buy.

    If another run already reserved a number for this clinic, that one is returned, so
    two runs never buy two different numbers. A number another clinic has reserved or
    holds raises NumberTaken (the caller tries the next one).
    """
    try:
        with transaction.atomic():
            clinic = _clinic_lock(clinic_id)
            if clinic.number_state != NumberState.PROVISIONING or clinic.twilio_number:
                state = clinic.get_number_state_display()
                raise ClinicNumberError(f"Clinic {clinic.id} is no longer being provisioned ({state}).")
            if clinic.pending_number:
                return clinic.pending_number
            others = Clinic.objects.filter(Q(pending_number=phone_number) | Q(twilio_number=phone_number))
            if others.exclude(pk=clinic.pk).exists():
                raise NumberTaken(f"{phone_number} is reserved by another clinic.")
            clinic.pending_number = phone_number
            clinic.save(update_fields=["pending_number", "updated_at"])
            _event(clinic, NumberEvent.Kind.RESERVED, number=phone_number)
    except IntegrityError as exc:
        # Another clinic reserved it between our check and our write.
        raise NumberTaken(f"{phone_number} is reserved by another clinic.") from exc
    return phone_number


def clinic_number_unreserve(*, clinic_id: int, phone_number: str, reason: str) -> None:
    """Forget a reserved number that turned out not to be for sale (taken by someone else)."""
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if clinic.pending_number != phone_number:
            return
        clinic.pending_number = ""
        clinic.save(update_fields=["pending_number", "updated_at"])
        _event(clinic, NumberEvent.Kind.RESERVATION_CANCELLED, number=phone_number, detail=reason)


def clinic_number_activate(*, clinic_id: int, phone_number: str, phone_sid: str, webhooks: dict, adopted: bool = False) -> Clinic:
    """Save a bought (or adopted) number on the clinic, tick the first three steps.

    Repeating it with the same SID is a no-op. A number bought after the clinic gave up
    (`failed`) is still saved: a paid number is never dropped on the floor.
    """
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if clinic.twilio_number_sid == phone_sid:
            return clinic
        if clinic.twilio_number_sid or clinic.number_state in (NumberState.ACTIVE, NumberState.RELEASING):
            raise ClinicNumberError(
                f"Clinic {clinic.id} already holds {clinic.twilio_number}; {phone_number} ({phone_sid}) was not saved on it."
            )
        clinic.twilio_number = phone_number
        clinic.twilio_number_sid = phone_sid
        clinic.twilio_webhooks = webhooks
        clinic.pending_number = ""
        clinic.number_error = ""
        clinic.number_error_code = None
        _set_state(
            clinic,
            NumberState.ACTIVE,
            fields=(
                "twilio_number",
                "twilio_number_sid",
                "twilio_webhooks",
                "pending_number",
                "number_error",
                "number_error_code",
            ),
        )
        kind = NumberEvent.Kind.ADOPTED if adopted else NumberEvent.Kind.PURCHASED
        _event(clinic, kind, number=phone_number, sid=phone_sid)
        if not clinic.time_zone:
            clinic.time_zone = time_zone_for_number(phone_number)
            clinic.save(update_fields=["time_zone"])
        for step in PROVISIONING_STEPS:
            _checklist_tick_locked(clinic, step, actor=None, note="")
    return clinic


def _fail(
    clinic: Clinic | None, *, expected: str, error: str, code: int | None, number: str | None, sid: str = ""
) -> Clinic | None:
    """Move a locked clinic from `expected` to `failed` with why; no-op in any other state."""
    if clinic is None or clinic.number_state != expected:
        return clinic
    clinic.number_error = error
    clinic.number_error_code = code
    _set_state(clinic, NumberState.FAILED, fields=("number_error", "number_error_code"))
    _event(clinic, NumberEvent.Kind.FAILED, number=number, sid=sid, detail=error)
    return clinic


def clinic_number_provision_fail(*, clinic_id: int, error: str, code: int | None = None) -> Clinic | None:
    """Mark a provisioning attempt as failed with a message staff can act on."""
    with transaction.atomic():
        clinic = Clinic.objects.select_for_update().filter(pk=clinic_id).first()
        # Keep pending_number: if the purchase went through unseen, the next attempt
        # tries that number first and adopts it instead of buying another.
        pending = clinic.pending_number if clinic else ""
        return _fail(clinic, expected=NumberState.PROVISIONING, error=error, code=code, number=pending)


def clinic_number_webhooks_saved(*, phone_sid: str, webhooks: dict, actor=None) -> Clinic | None:
    """Record that the number's webhooks were (re)set, on the clinic that holds it."""
    with transaction.atomic():
        clinic = Clinic.objects.select_for_update().filter(twilio_number_sid=phone_sid).first()
        if clinic is not None:
            clinic.twilio_webhooks = webhooks
            clinic.save(update_fields=["twilio_webhooks", "updated_at"])
        _event(
            clinic, NumberEvent.Kind.WEBHOOKS_UPDATED, number=clinic.twilio_number if clinic else "", sid=phone_sid, actor=actor
        )
    return clinic


def clinic_number_release_request(*, clinic_id: int, actor: User | None = None) -> Clinic:
    """Move the clinic to `releasing` (the release itself is the workflow's task)."""
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if not clinic.twilio_number_sid:
            raise ClinicNumberError(f"Clinic {clinic.id} ({clinic.name}) has no number to release.")
        if clinic.number_state == NumberState.RELEASING:
            raise ClinicNumberError(f"Clinic {clinic.id} ({clinic.name}) is already releasing its number.")
        _set_state(clinic, NumberState.RELEASING)
        _event(clinic, NumberEvent.Kind.RELEASE_REQUESTED, number=clinic.twilio_number, sid=clinic.twilio_number_sid, actor=actor)
    return clinic


def clinic_number_release_begin(*, phone_sid: str, clinic_id: int | None = None) -> Clinic | None:
    """Mark the clinic holding `phone_sid` as releasing; None when no clinic holds it.

    With `clinic_id`, the number must be that clinic's: a release meant for one clinic
    never releases another's number (ClinicNumberError), and a release already done
    for it raises AlreadyReleased.
    """
    with transaction.atomic():
        clinic = Clinic.objects.select_for_update().filter(twilio_number_sid=phone_sid).first()
        if clinic_id is not None and (clinic is None or clinic.id != clinic_id):
            done = NumberEvent.objects.filter(clinic_id=clinic_id, phone_sid=phone_sid, kind=NumberEvent.Kind.RELEASED)
            if clinic is None and done.exists():
                raise AlreadyReleased(f"{phone_sid} was already released from clinic {clinic_id}.")
            raise ClinicNumberError(f"{phone_sid} is not clinic {clinic_id}'s number; nothing was released.")
        if clinic is None:
            return None
        if clinic.number_state != NumberState.RELEASING:
            _set_state(clinic, NumberState.RELEASING)
            _event(clinic, NumberEvent.Kind.RELEASE_REQUESTED, number=clinic.twilio_number, sid=phone_sid)
    return clinic


def clinic_number_released(*, phone_sid: str, phone_number: str = "", detail: str = "") -> Clinic | None:
    """Clear a released number from the clinic that held it and reset its checklist.

    The NumberEvent keeps which clinic had which number until when. Safe to repeat.
    """
    with transaction.atomic():
        clinic = Clinic.objects.select_for_update().filter(twilio_number_sid=phone_sid).first()
        if clinic is None:
            if not NumberEvent.objects.filter(kind=NumberEvent.Kind.RELEASED, phone_sid=phone_sid).exists():
                _event(
                    None, NumberEvent.Kind.RELEASED, number=phone_number, sid=phone_sid, detail=detail or "not held by any clinic"
                )
            return None
        number = clinic.twilio_number or phone_number
        clinic.twilio_number = None
        clinic.twilio_number_sid = None
        clinic.twilio_webhooks = {}
        clinic.number_error = ""
        clinic.number_error_code = None
        _set_state(
            clinic,
            NumberState.RELEASED,
            fields=("twilio_number", "twilio_number_sid", "twilio_webhooks", "number_error", "number_error_code"),
        )
        _event(clinic, NumberEvent.Kind.RELEASED, number=number, sid=phone_sid, detail=detail)
        _checklist_run_start(clinic, number=number)
    return clinic


def clinic_number_release_fail(*, phone_sid: str, error: str, code: int | None = None) -> Clinic | None:
    """A release that could not be done: the clinic keeps its number, in `failed`, with why."""
    with transaction.atomic():
        clinic = Clinic.objects.select_for_update().filter(twilio_number_sid=phone_sid).first()
        number = clinic.twilio_number if clinic else ""
        return _fail(clinic, expected=NumberState.RELEASING, error=error, code=code, number=number, sid=phone_sid)


def clinic_checklist_tick(*, clinic_id: int, step: str, actor: User | None = None, note: str = "") -> bool:
    """Mark a checklist step of the clinic's current run done (once), with a history event
    naming who (None: the system) and why; return True if this call ticked it.

    Raises ClinicInputError for an unknown step or one whose required steps
    (clinics.models.STEP_REQUIRES) are not all done yet, saying which.
    """
    if step not in OnboardingStep.values:
        raise ClinicInputError(f"Unknown checklist step {step!r}.")
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if ChecklistItem.objects.filter(clinic=clinic, step=step).exists():
            return False
        done = set(ChecklistItem.objects.filter(clinic=clinic).values_list("step", flat=True))
        missing = [OnboardingStep(required).label for required in STEP_REQUIRES.get(step, ()) if required not in done]
        # The system's ticks (a real first call or SMS) record what happened, in any order;
        # a person's tick is a claim and waits for the steps it depends on.
        if missing and actor is not None:
            raise ClinicInputError(f"“{OnboardingStep(step).label}” comes after: {', '.join(missing)}.")
        return _checklist_tick_locked(clinic, step, actor=actor, note=note)


def clinic_checklist_untick(*, clinic_id: int, step: str, actor: User | None, reason: str) -> bool:
    """Undo a tick of the current run, keeping who ticked it in the history and recording
    who unticked it and why; return False when the step was not ticked (nothing changes)."""
    reason = (reason or "").strip()
    if step not in OnboardingStep.values:
        raise ClinicInputError(f"Unknown checklist step {step!r}.")
    if not reason:
        raise ClinicInputError("Say why the step is unticked: the reason is kept in the number history.")
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        item = ChecklistItem.objects.filter(clinic=clinic, step=step).first()
        if item is None:
            return False
        item.delete()
        detail = f"{OnboardingStep(step).label} (run {clinic.checklist_run}): {reason[:300]}"
        _checklist_changed(clinic, NumberEvent.Kind.CHECKLIST_UNTICKED, detail=detail, actor=actor)
    return True


def _checklist_tick_locked(clinic: Clinic, step: str, *, actor: User | None, note: str) -> bool:
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
    _event(clinic, kind, number=clinic.twilio_number, sid=clinic.twilio_number_sid or "", detail=detail, actor=actor)


def _checklist_run_start(clinic: Clinic, *, number: str | None) -> None:
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
    _event(
        clinic,
        NumberEvent.Kind.CHECKLIST_RUN_STARTED,
        number=number,
        detail=f"Checklist run {clinic.checklist_run} started; run {clinic.checklist_run - 1} ended with "
        f"{ended}/{len(OnboardingStep.values)} steps done.",
    )


def clinic_number_adopt(
    *, clinic_id: int, phone_number: str, phone_sid: str, webhooks: dict, actor: User | None = None
) -> Clinic:
    """Give a clinic without a number an orphan number the account already owns.

    Refused while a purchase is in flight for the clinic, so it never ends up with two.
    """
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if clinic.number_state == NumberState.PROVISIONING:
            raise ClinicNumberError(f"Clinic {clinic.id} ({clinic.name}) is being provisioned; adopt after it settles.")
        blocker = _has_number_blocker(clinic)
        if blocker:
            raise ClinicNumberError(blocker)
        return clinic_number_activate(
            clinic_id=clinic.id, phone_number=phone_number, phone_sid=phone_sid, webhooks=webhooks, adopted=True
        )


def clinic_send_failed_mark(*, clinic_id: int) -> None:
    """Record that the clinic's work could not be sent to the task queue (re-sent at beat's next tick)."""
    Clinic.objects.filter(pk=clinic_id, number_state__in=STUCKABLE_STATES).update(send_failed_at=timezone.now())


def clinics_stuck_claim(*, older_than_seconds: float | None = None) -> list[Clinic]:
    """Claim the clinics whose work must be sent again, for the periodic re-drive.

    That is a clinic in provisioning/releasing whose send failed (`send_failed_at`,
    claimed at once), or that has been in that state longer than `older_than_seconds`
    (NUMBER_STUCK_AFTER_SECONDS) and was not re-driven within that time (a task lost
    after the send). Each claimed clinic gets `last_redriven_at`, its send mark
    cleared, and a history event.
    """
    seconds = settings.NUMBER_STUCK_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - timedelta(seconds=seconds)
    stuck = Q(number_state_changed_at__lt=cutoff) & (Q(last_redriven_at__isnull=True) | Q(last_redriven_at__lt=cutoff))
    with transaction.atomic():
        clinics = list(
            Clinic.objects.select_for_update(skip_locked=True).filter(
                Q(send_failed_at__isnull=False) | stuck,
                number_state__in=STUCKABLE_STATES,
            )
        )
        Clinic.objects.filter(pk__in=[c.pk for c in clinics]).update(last_redriven_at=timezone.now(), send_failed_at=None)
        NumberEvent.objects.bulk_create(
            [
                NumberEvent(
                    clinic=c,
                    clinic_name=c.name,
                    kind=NumberEvent.Kind.REDRIVEN,
                    phone_number=c.twilio_number or c.pending_number,
                    phone_sid=c.twilio_number_sid or "",
                    detail=(
                        "the task queue could not take it; re-sent"
                        if c.send_failed_at
                        else f"{c.get_number_state_display()} since {c.number_state_changed_at:%Y-%m-%d %H:%M} UTC; re-sent"
                    ),
                )
                for c in clinics
            ]
        )
    return clinics


# --------------------------------------------------------------------------- subaccount
# A clinic's own Twilio subaccount (TWILIO_SUBACCOUNT_PER_CLINIC). Creating one is
# idempotent like a purchase: the intent is committed here before Twilio is asked, so
# that a retry knows an earlier create may have happened unseen and looks first.


@dataclass(frozen=True)
class SubaccountIntent:
    """Where a clinic's subaccount stands before asking Twilio for one.

    `account_sid` is set when the clinic already has its subaccount (nothing to do).
    Otherwise `asked_before` is when an earlier attempt asked Twilio to create it (None
    if never): that attempt may have succeeded unseen, so look it up before creating.
    """

    account_sid: str
    asked_before: datetime | None


def clinic_subaccount_intend(*, clinic_id: int) -> SubaccountIntent:
    """Record (committed) that the clinic's subaccount is about to be created at Twilio."""
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if clinic.twilio_account_sid:
            return SubaccountIntent(account_sid=clinic.twilio_account_sid, asked_before=None)
        asked_before = clinic.twilio_account_requested_at
        clinic.twilio_account_requested_at = timezone.now()
        clinic.save(update_fields=["twilio_account_requested_at", "updated_at"])
    return SubaccountIntent(account_sid="", asked_before=asked_before)


def clinic_subaccount_intent_clear(*, clinic_id: int) -> None:
    """Forget the intent after Twilio definitely refused the create (a 4xx): nothing was made."""
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if not clinic.twilio_account_sid and clinic.twilio_account_requested_at is not None:
            clinic.twilio_account_requested_at = None
            clinic.save(update_fields=["twilio_account_requested_at", "updated_at"])


def clinic_subaccount_save(*, clinic_id: int, account_sid: str, auth_token: str, created: bool) -> Clinic:
    """Save the clinic's subaccount and its auth token (sealed); a repeat is a no-op.

    A clinic that already has another subaccount keeps it (ClinicNumberError): one
    clinic, one subaccount.
    """
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if clinic.twilio_account_sid == account_sid:
            return clinic
        if clinic.twilio_account_sid:
            raise ClinicNumberError(
                f"Clinic {clinic.id} already has the Twilio subaccount {clinic.twilio_account_sid}; {account_sid} was not saved."
            )
        clinic.twilio_account_sid = account_sid
        clinic.twilio_account_token_sealed = secret_seal(auth_token)
        clinic.twilio_account_requested_at = None
        clinic.save(
            update_fields=["twilio_account_sid", "twilio_account_token_sealed", "twilio_account_requested_at", "updated_at"]
        )
        _event(clinic, NumberEvent.Kind.SUBACCOUNT_SET, detail=f"{account_sid} ({'created' if created else 'found at Twilio'})")
    return clinic


def clinic_subaccount_token_update(*, account_sid: str, auth_token: str) -> int:
    """Store a new auth token for a subaccount (after a rotation); how many clinics hold it."""
    with transaction.atomic():
        clinics = list(Clinic.objects.select_for_update().filter(twilio_account_sid=account_sid))
        for clinic in clinics:
            clinic.twilio_account_token_sealed = secret_seal(auth_token)
            # A save (not a queryset update): its post_save refreshes the fallbacks' token copy.
            clinic.save(update_fields=["twilio_account_token_sealed", "updated_at"])
        return len(clinics)


# --------------------------------------------------------------------------- subaccount status
# Suspend / reactivate / close a clinic's Twilio subaccount (telephony.numbers.provisioning does
# the Twilio call first; these record what Twilio answered, with the history event).

_STATUS_EVENTS = {
    "suspended": NumberEvent.Kind.SUBACCOUNT_SUSPENDED,
    "active": NumberEvent.Kind.SUBACCOUNT_REACTIVATED,
    "closed": NumberEvent.Kind.SUBACCOUNT_CLOSED,
}


def clinic_subaccount_status_saved(
    *, clinic_id: int, account_sid: str, status: str, actor: User | None = None, changed: bool = True
) -> Clinic:
    """Record the subaccount Status Twilio answered; with `changed`, also the history event
    (suspended / reactivated / closed). A clinic that no longer holds `account_sid` is
    left alone (ClinicNumberError)."""
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if clinic.twilio_account_sid != account_sid:
            raise ClinicNumberError(f"Clinic {clinic.id} no longer holds the Twilio subaccount {account_sid}.")
        if clinic.twilio_account_status != status:
            clinic.twilio_account_status = status
            clinic.save(update_fields=["twilio_account_status", "updated_at"])
        if changed and status in _STATUS_EVENTS:
            _event(clinic, _STATUS_EVENTS[status], detail=account_sid, actor=actor)
    return clinic


# --------------------------------------------------------------------------- move to own subaccount
# A clinic provisioned before subaccounts has its number on the main account; "Move to its
# own subaccount" (telephony.numbers.provisioning) ensures the subaccount, transfers the number
# and re-sets its webhooks. Each step is recorded so that a retry resumes.

MOVE_REQUESTED, MOVE_TRANSFERRED, MOVE_DONE, MOVE_FAILED = "requested", "transferred", "done", "failed"
MOVE_UNDER_WAY = (MOVE_REQUESTED, MOVE_TRANSFERRED)
_MOVE_EVENTS = {
    MOVE_REQUESTED: NumberEvent.Kind.MOVE_REQUESTED,
    MOVE_TRANSFERRED: NumberEvent.Kind.MOVE_TRANSFERRED,
    MOVE_DONE: NumberEvent.Kind.MOVED,
    MOVE_FAILED: NumberEvent.Kind.MOVE_FAILED,
}


def clinic_number_move_request(*, clinic_id: int, actor: User | None = None) -> Clinic:
    """Record that the clinic's number is to be moved into its own subaccount.

    Allowed for an active number that is not yet in a subaccount of the clinic's own (or
    whose earlier move failed or was left half done); else ClinicNumberError saying why,
    also while a run is moving it (MoveClaimed).
    """
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if not clinic.twilio_number_sid or clinic.number_state != NumberState.ACTIVE:
            raise ClinicNumberError(f"{clinic.name} has no active number to move.")
        if clinic.number_move_step == MOVE_DONE or (clinic.twilio_account_sid and not clinic.number_move_step):
            raise ClinicNumberError(
                f"{clinic.name}'s number is already in its own Twilio subaccount {clinic.twilio_account_sid}."
            )
        if _move_claimed_by_another(clinic, claimant=""):
            raise MoveClaimed(f"{clinic.name}'s number is being moved right now; nothing more to do, wait for it to finish.")
        clinic.number_move_step, clinic.number_move_error = MOVE_REQUESTED, ""
        clinic.save(update_fields=["number_move_step", "number_move_error", "updated_at"])
        _event(
            clinic, NumberEvent.Kind.MOVE_REQUESTED, number=clinic.twilio_number, sid=clinic.twilio_number_sid or "", actor=actor
        )
    return clinic


def _move_claimed_by_another(clinic: Clinic, *, claimant: str) -> bool:
    """Whether a run other than `claimant` holds the clinic's move under way, unexpired."""
    return (
        clinic.number_move_step in MOVE_UNDER_WAY
        and clinic.number_move_claimed_by not in ("", claimant)
        and clinic.number_move_claimed_until is not None
        and clinic.number_move_claimed_until > timezone.now()
    )


def clinic_number_move_claim(*, clinic_id: int, claimant: str, lease_seconds: float) -> Clinic:
    """Claim the clinic's move under way for one run (`claimant`, e.g. its task id) for
    `lease_seconds`, before it acts at Twilio; the clinic. Claiming again (the run's retry)
    renews it. A move another run holds raises MoveClaimed; a move not under way (none
    asked, done, failed) is returned unclaimed: nothing to do."""
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if clinic.number_move_step not in MOVE_UNDER_WAY:
            return clinic
        if _move_claimed_by_another(clinic, claimant=claimant):
            raise MoveClaimed(f"{clinic.name}'s number is being moved by another run.")
        clinic.number_move_claimed_by = claimant
        clinic.number_move_claimed_until = timezone.now() + timedelta(seconds=lease_seconds)
        clinic.save(update_fields=["number_move_claimed_by", "number_move_claimed_until", "updated_at"])
    return clinic


def clinic_number_move_step(*, clinic_id: int, step: str, error: str = "", detail: str = "") -> Clinic:
    """Record a step of the move (transferred, done, failed with `error`) and its history
    event; a step already recorded is not recorded twice, and a move done stays done (a
    failure reported after it, by a late run, is not the move's). Done or failed ends
    the move's claim."""
    with transaction.atomic():
        clinic = _clinic_lock(clinic_id)
        if clinic.number_move_step == step and clinic.number_move_error == error:
            return clinic
        if clinic.number_move_step == MOVE_DONE and step == MOVE_FAILED:
            return clinic
        clinic.number_move_step, clinic.number_move_error = step, error
        fields = ["number_move_step", "number_move_error", "updated_at"]
        if step not in MOVE_UNDER_WAY:
            clinic.number_move_claimed_by, clinic.number_move_claimed_until = "", None
            fields += ["number_move_claimed_by", "number_move_claimed_until"]
        clinic.save(update_fields=fields)
        _event(
            clinic,
            _MOVE_EVENTS[step],
            number=clinic.twilio_number,
            sid=clinic.twilio_number_sid or "",
            detail=error or detail,
        )
    return clinic


# --------------------------------------------------------------------------- usage
# This month's usage of a clinic's subaccount, saved by the usage task (telephony.numbers.usage).


def clinic_usage_save(
    *, clinic_id: int, account_sid: str, month: str, calls: int, sms: int, cost: Decimal, currency: str
) -> ClinicUsage:
    """Store the figures Twilio gave for the clinic's subaccount this month (clears an earlier error)."""
    usage, _ = ClinicUsage.objects.update_or_create(
        clinic_id=clinic_id,
        defaults={
            "account_sid": account_sid,
            "month": month,
            "calls": calls,
            "sms": sms,
            "cost": cost,
            "currency": currency,
            "fetched_at": timezone.now(),
            "error": "",
            "error_at": None,
        },
    )
    return usage


def clinic_usage_fail(*, clinic_id: int, account_sid: str, error: str) -> ClinicUsage:
    """Record why the last fetch failed, keeping the last figures."""
    usage, _ = ClinicUsage.objects.update_or_create(
        clinic_id=clinic_id, defaults={"account_sid": account_sid, "error": error, "error_at": timezone.now()}
    )
    return usage


def number_orphan_release_request(*, phone_sid: str, phone_number: str, actor: User | None = None) -> None:
    """History row for a release asked of a number no clinic holds (the audit's orphans).

    Raises ClinicNumberError when a clinic holds it: that release belongs on the clinic's page.
    """
    holder = Clinic.objects.filter(twilio_number_sid=phone_sid).first()
    if holder is not None:
        raise ClinicNumberError(f"{holder.name} holds {holder.twilio_number}; release it on the clinic's page.")
    _event(
        None,
        NumberEvent.Kind.RELEASE_REQUESTED,
        number=phone_number,
        sid=phone_sid,
        detail="orphan, from the Number audit",
        actor=actor,
    )
