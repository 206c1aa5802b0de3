"""The state machine of a clinic's number: one small function per change.

Every write runs in `transaction.atomic()`, locks the clinic row where two actors can
race (admin clicks, API calls, task retries, several workers), checks the current state
and raises a ClinicNumberError instead of acting when the change is not allowed. Each
write also records its NumberEvent. Nothing here talks to Twilio or sends tasks: the
workflows in telephony/numbers/ call these functions, the Twilio adapter, and
send the follow-up tasks on commit (this module imports nothing from telephony).

    none/released/failed --request--> provisioning --activate--> active
    provisioning --fail--> failed
    active/failed(with number) --release request--> releasing --released--> released
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ..dates import time_zone_for_number
from ..models import Clinic, NumberEvent, NumberState, OnboardingStep
from ..phone import area_code_validate, phone_normalize
from .checklist import checklist_run_start, checklist_tick_locked
from .errors import AlreadyReleased, ClinicInputError, ClinicNumberError, NumberTaken
from .rows import clinic_lock, number_event_write

# Steps that provisioning completes by itself.
PROVISIONING_STEPS = (OnboardingStep.BUY_NUMBER, OnboardingStep.SAVE_NUMBER, OnboardingStep.SAVE_SID)
# States in which a new number may be requested.
REQUESTABLE_STATES = (NumberState.NONE, NumberState.RELEASED, NumberState.FAILED)


def clinic_number_requestable(clinic: Clinic) -> bool:
    """Whether a new number may be requested for the clinic as loaded: it has none and none is
    on its way. A read for offering the request; the request itself checks again, locked."""
    return clinic.number_state in REQUESTABLE_STATES and not clinic.twilio_number


def _set_state(clinic: Clinic, state: str, *, fields: tuple[str, ...] = ()) -> None:
    clinic.number_state = state
    clinic.number_state_changed_at = timezone.now()
    # A send that failed belonged to the state being left.
    clinic.send_failed_at = None
    clinic.save(update_fields=["number_state", "number_state_changed_at", "send_failed_at", "updated_at", *fields])


def number_save_active(clinic: Clinic, *, phone_number: str, phone_sid: str, webhooks: dict) -> None:
    """Save `phone_number` (`phone_sid`) as the locked clinic's number, active, clearing what an
    earlier attempt left (the reserved number, the error). Bought, adopted or ported in alike."""
    clinic.twilio_number, clinic.twilio_number_sid, clinic.twilio_webhooks = phone_number, phone_sid, webhooks
    clinic.pending_number, clinic.number_error, clinic.number_error_code = "", "", None
    _set_state(
        clinic,
        NumberState.ACTIVE,
        fields=("twilio_number", "twilio_number_sid", "twilio_webhooks", "pending_number", "number_error", "number_error_code"),
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
    number_event_write(clinic, NumberEvent.Kind.PROVISION_REQUESTED, detail=f"area code {area_code}", actor=actor)


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
            clinic = clinic_lock(clinic_id)
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
                number_event_write(clinic, NumberEvent.Kind.RESERVED, number=phone_number, actor=actor)
    except IntegrityError as exc:
        raise ClinicInputError(f"{phone_number} is being bought for another clinic; pick another number.") from exc
    return clinic


def clinic_number_provision_begin(*, clinic_id: int, area_code: str, friendly_name: str = "") -> Clinic:
    """Enter (or resume) `provisioning` for a purchase that is about to happen.

    Resuming keeps `pending_number`, so a retried task buys the number it chose before.
    """
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
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
            clinic = clinic_lock(clinic_id)
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
            number_event_write(clinic, NumberEvent.Kind.RESERVED, number=phone_number)
    except IntegrityError as exc:
        # Another clinic reserved it between our check and our write.
        raise NumberTaken(f"{phone_number} is reserved by another clinic.") from exc
    return phone_number


def clinic_number_unreserve(*, clinic_id: int, phone_number: str, reason: str) -> None:
    """Forget a reserved number that turned out not to be for sale (taken by someone else)."""
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if clinic.pending_number != phone_number:
            return
        clinic.pending_number = ""
        clinic.save(update_fields=["pending_number", "updated_at"])
        number_event_write(clinic, NumberEvent.Kind.RESERVATION_CANCELLED, number=phone_number, detail=reason)


def clinic_number_activate(
    *, clinic_id: int, phone_number: str, phone_sid: str, webhooks: dict, adopted: bool = False, how: str = ""
) -> Clinic:
    """Save a bought (or adopted) number on the clinic, tick the first three steps.

    Repeating it with the same SID is a no-op. A number bought after the clinic gave up
    (`failed`) is still saved: a paid number is never dropped on the floor. `how`, when
    given, is the history's detail (a number that came otherwise than bought, e.g. hosted).
    """
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if clinic.twilio_number_sid == phone_sid:
            return clinic
        if clinic.twilio_number_sid or clinic.number_state in (NumberState.ACTIVE, NumberState.RELEASING):
            raise ClinicNumberError(f"{clinic.name} already holds {clinic.twilio_number}; {phone_number} was not saved on it.")
        number_save_active(clinic, phone_number=phone_number, phone_sid=phone_sid, webhooks=webhooks)
        kind = NumberEvent.Kind.ADOPTED if adopted else NumberEvent.Kind.PURCHASED
        number_event_write(clinic, kind, number=phone_number, sid=phone_sid, detail=how)
        if not clinic.time_zone:
            clinic.time_zone = time_zone_for_number(phone_number)
            clinic.save(update_fields=["time_zone"])
        for step in PROVISIONING_STEPS:
            checklist_tick_locked(clinic, step, actor=None, note="")
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
    number_event_write(clinic, NumberEvent.Kind.FAILED, number=number, sid=sid, detail=error)
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
        number_event_write(
            clinic, NumberEvent.Kind.WEBHOOKS_UPDATED, number=clinic.twilio_number if clinic else "", sid=phone_sid, actor=actor
        )
    return clinic


def clinic_number_release_request(*, clinic_id: int, actor: User | None = None) -> Clinic:
    """Move the clinic to `releasing` (the release itself is the workflow's task)."""
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if not clinic.twilio_number_sid:
            raise ClinicNumberError(f"Clinic {clinic.id} ({clinic.name}) has no number to release.")
        if clinic.number_state == NumberState.RELEASING:
            raise ClinicNumberError(f"Clinic {clinic.id} ({clinic.name}) is already releasing its number.")
        _set_state(clinic, NumberState.RELEASING)
        number_event_write(
            clinic, NumberEvent.Kind.RELEASE_REQUESTED, number=clinic.twilio_number, sid=clinic.twilio_number_sid, actor=actor
        )
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
                raise AlreadyReleased("That number was already released from the clinic.")
            raise ClinicNumberError("That number is not the clinic's number; nothing was released.")
        if clinic is None:
            return None
        if clinic.number_state != NumberState.RELEASING:
            _set_state(clinic, NumberState.RELEASING)
            number_event_write(clinic, NumberEvent.Kind.RELEASE_REQUESTED, number=clinic.twilio_number, sid=phone_sid)
    return clinic


def clinic_number_released(*, phone_sid: str, phone_number: str = "", detail: str = "") -> Clinic | None:
    """Clear a released number from the clinic that held it and reset its checklist.

    The NumberEvent keeps which clinic had which number until when. Safe to repeat.
    """
    with transaction.atomic():
        clinic = Clinic.objects.select_for_update().filter(twilio_number_sid=phone_sid).first()
        if clinic is None:
            if not NumberEvent.objects.filter(kind=NumberEvent.Kind.RELEASED, phone_sid=phone_sid).exists():
                number_event_write(
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
        number_event_write(clinic, NumberEvent.Kind.RELEASED, number=number, sid=phone_sid, detail=detail)
        checklist_run_start(clinic, number=number)
    return clinic


def clinic_number_release_fail(*, phone_sid: str, error: str, code: int | None = None) -> Clinic | None:
    """A release that could not be done: the clinic keeps its number, in `failed`, with why."""
    with transaction.atomic():
        clinic = Clinic.objects.select_for_update().filter(twilio_number_sid=phone_sid).first()
        number = clinic.twilio_number if clinic else ""
        return _fail(clinic, expected=NumberState.RELEASING, error=error, code=code, number=number, sid=phone_sid)


def clinic_number_adopt(
    *, clinic_id: int, phone_number: str, phone_sid: str, webhooks: dict, actor: User | None = None
) -> Clinic:
    """Give a clinic without a number an orphan number the account already owns.

    Refused while a purchase is in flight for the clinic, so it never ends up with two.
    """
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if clinic.number_state == NumberState.PROVISIONING:
            raise ClinicNumberError(f"Clinic {clinic.id} ({clinic.name}) is being provisioned; adopt after it settles.")
        blocker = _has_number_blocker(clinic)
        if blocker:
            raise ClinicNumberError(blocker)
        return clinic_number_activate(
            clinic_id=clinic.id, phone_number=phone_number, phone_sid=phone_sid, webhooks=webhooks, adopted=True
        )


def number_orphan_release_request(*, phone_sid: str, phone_number: str, actor: User | None = None) -> None:
    """History row for a release asked of a number no clinic holds (the audit's orphans).

    Raises ClinicNumberError when a clinic holds it: that release belongs on the clinic's page.
    """
    holder = Clinic.objects.filter(twilio_number_sid=phone_sid).first()
    if holder is not None:
        raise ClinicNumberError(f"{holder.name} holds {holder.twilio_number}; release it on the clinic's page.")
    number_event_write(
        None,
        NumberEvent.Kind.RELEASE_REQUESTED,
        number=phone_number,
        sid=phone_sid,
        detail="orphan, from the Number audit",
        actor=actor,
    )
