"""State changes of a clinic's A2P 10DLC registration (imports nothing from telephony).

Each function is one transaction that locks the registration row, changes it, and
writes the history row (A2PEvent). The EIN never reaches a log line, an event or an
exception message: only `BusinessProfile.ein_masked` does.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import Clinic
from ..models_a2p import CREATING, NUMBER_CHANGED, REJECTED, A2PEvent, A2PRegistration, A2PStep, BusinessProfile
from .checklist import clinic_checklist_a2p_sync
from .errors import ClinicInputError, ClinicNotFound


class A2PError(ClinicInputError):
    """A registration request that cannot be acted on now; the message says why."""


# The campaign step while a rejected campaign is deleted at Twilio before being registered again.
RECREATING = "recreating"


def _registration_lock(clinic_id: int) -> A2PRegistration:
    registration = A2PRegistration.objects.select_for_update().select_related("clinic").filter(clinic_id=clinic_id).first()
    if registration is None:
        raise A2PError(f"Clinic {clinic_id} has not started its A2P registration.")
    return registration


# The registration's last error: set by a rejection or a refused step, cleared by an
# approval of that step or by Edit and resubmit.
ERROR_FIELDS = ("error_step", "error_code", "error", "error_at")


def _error_set(registration: A2PRegistration, *, step: str, code: int | None, error: str) -> list[str]:
    """Make `error` (a sentence staff act on) the registration's last error; the fields to save."""
    registration.error_step, registration.error_code, registration.error = step, code, error
    registration.error_at = timezone.now()
    return list(ERROR_FIELDS)


def _error_clear(registration: A2PRegistration) -> list[str]:
    """Clear the registration's last error; the fields to save."""
    registration.error_step, registration.error_code, registration.error, registration.error_at = "", None, "", None
    return list(ERROR_FIELDS)


def _event(registration: A2PRegistration, *, step: str = "", status: str = "", detail: str = "", code=None, actor=None) -> None:
    A2PEvent.objects.create(
        clinic_id=registration.clinic_id, step=step, status=status, detail=detail, error_code=code, actor=actor
    )


def a2p_profile_missing(*, clinic: Clinic) -> str:
    """Why registration cannot start for lack of a business profile ("" when it can)."""
    profile = BusinessProfile.objects.filter(clinic=clinic).first()
    if profile is None:
        return f"{clinic.name} has no business profile yet: fill it in first (legal name, EIN, address, representative)."
    return ""


def a2p_registration_start(*, clinic_id: int, actor: AbstractBaseUser | None = None) -> A2PRegistration:
    """Start (or restart after a rejection) a clinic's registration; idempotent while one is running."""
    with transaction.atomic():
        clinic = Clinic.objects.select_for_update().filter(pk=clinic_id).first()
        if clinic is None:
            raise ClinicNotFound(f"No clinic with id {clinic_id}.")
        missing = a2p_profile_missing(clinic=clinic)
        if missing:
            raise A2PError(missing)
        registration, created = A2PRegistration.objects.get_or_create(
            clinic=clinic, defaults={"started_by_id": getattr(actor, "pk", None)}
        )
        if created:
            _event(registration, detail="Registration started.", actor=actor)
        return registration


def a2p_step_intent(*, clinic_id: int, step: str) -> A2PRegistration:
    """Commit that `step`'s object is about to be created (before the Twilio call).

    A retry that finds the step still "creating" without a SID must look the object up
    by its friendly name before creating another.
    """
    with transaction.atomic():
        registration = _registration_lock(clinic_id)
        if not registration.step_sid(step) and registration.step_status(step) != CREATING:
            setattr(registration, f"{step}_status", CREATING)
            setattr(registration, f"{step}_at", timezone.now())
            registration.save(update_fields=[f"{step}_status", f"{step}_at"])
            _event(registration, step=step, status=CREATING, detail="Creating at Twilio.")
        return registration


def a2p_step_record(
    *, clinic_id: int, step: str, sid: str, status: str, detail: str = "", code: int | None = None, phone_number: str = ""
) -> bool:
    """Save a step's SID and status as Twilio reports them; a history row when the status changed.

    A rejection also becomes the registration's error (a sentence staff act on); the
    checklist's A2P steps then follow the registration (clinic_checklist_a2p_sync).
    `phone_number` is the number step's phone number (which number is in the service).
    Returns True when the status changed.
    """
    with transaction.atomic():
        registration = _registration_lock(clinic_id)
        changed = registration.step_status(step) != status or registration.step_sid(step) != sid
        if not changed:
            clinic_checklist_a2p_sync(clinic_id=clinic_id)
            return False
        setattr(registration, f"{step}_sid", sid)
        setattr(registration, f"{step}_status", status)
        setattr(registration, f"{step}_at", timezone.now())
        fields = [f"{step}_sid", f"{step}_status", f"{step}_at"]
        if step == A2PStep.NUMBER:
            registration.number_phone_number = phone_number
            fields.append("number_phone_number")
        if status in REJECTED:
            fields += _error_set(registration, step=step, code=code, error=detail)
        elif registration.error_step == step:
            fields += _error_clear(registration)
        registration.save(update_fields=fields)
        _event(registration, step=step, status=status, detail=detail, code=code)
        clinic_checklist_a2p_sync(clinic_id=clinic_id)
        return True


def a2p_number_changed(*, clinic_id: int) -> bool:
    """The clinic's number changed (bought, adopted, moved between accounts, released, ported in):
    mark the registration's number step to run again; False when there is nothing to redo.

    Nothing to redo before the registration has its Messaging Service (the number step
    runs in its turn then). The number step is marked NUMBER_CHANGED (the pipeline shows
    it unticked, the poller picks the registration up) and the checklist's "campaign
    approved and number in the Messaging Service" is unticked until the clinic's current
    number is in the service. Repeating it changes nothing more.
    """
    with transaction.atomic():
        registration = A2PRegistration.objects.select_for_update().filter(clinic_id=clinic_id).first()
        if registration is None or not registration.messaging_service_sid:
            return False
        if registration.number_status != NUMBER_CHANGED:
            registration.number_status, registration.number_at = NUMBER_CHANGED, timezone.now()
            registration.save(update_fields=["number_status", "number_at"])
            _event(
                registration,
                step=A2PStep.NUMBER,
                status=NUMBER_CHANGED,
                detail="The clinic's number changed: its current number joins the Messaging Service by itself.",
            )
        clinic_checklist_a2p_sync(clinic_id=clinic_id)  # the campaign step waits for the new number
        return True


def a2p_step_fail(*, clinic_id: int, step: str, error: str, code: int | None) -> None:
    """Record a step that could not be done (Twilio refused it): the sentence and code staff see."""
    with transaction.atomic():
        registration = _registration_lock(clinic_id)
        registration.save(update_fields=_error_set(registration, step=step, code=code, error=error))
        _event(registration, step=step, status="error", detail=error, code=code)


def a2p_resubmit_request(*, clinic_id: int, actor: AbstractBaseUser | None = None) -> A2PRegistration:
    """Staff edited the profile after a rejection: clear the error so the workflow resubmits."""
    with transaction.atomic():
        registration = _registration_lock(clinic_id)
        if not registration.error and not registration.rejected and not registration.messaging_blocked_reason:
            raise A2PError("Nothing to resubmit: no step of this registration was rejected or failed.")
        fields = _error_clear(registration)
        # A block by carriers is what staff just fixed; the next failure blocks again.
        registration.messaging_blocked_code, registration.messaging_blocked_reason = None, ""
        registration.messaging_blocked_at = None
        registration.save(update_fields=[*fields, "messaging_blocked_code", "messaging_blocked_reason", "messaging_blocked_at"])
        _event(registration, detail="Edited and resubmitted by staff.", actor=actor)
        return registration


def a2p_campaign_recreate_intent(*, clinic_id: int, sid: str) -> A2PRegistration:
    """Commit that the rejected campaign `sid` is being deleted at Twilio to be registered again.

    Before the delete call, so a lost answer and a retry delete (at most) the same campaign
    and never a new one. A repeat is a no-op.
    """
    with transaction.atomic():
        registration = _registration_lock(clinic_id)
        if registration.campaign_sid == sid and registration.campaign_status != RECREATING:
            registration.campaign_status, registration.campaign_at = RECREATING, timezone.now()
            registration.save(update_fields=["campaign_status", "campaign_at"])
            _event(
                registration,
                step="campaign",
                status=RECREATING,
                detail=f"Deleting the rejected campaign {sid} to register it again.",
            )
        return registration


def a2p_campaign_forget(*, clinic_id: int, sid: str) -> A2PRegistration:
    """The rejected campaign `sid` is deleted at Twilio: forget it, so the campaign step creates anew."""
    with transaction.atomic():
        registration = _registration_lock(clinic_id)
        if registration.campaign_sid == sid:
            registration.campaign_sid, registration.campaign_status = "", ""
            registration.save(update_fields=["campaign_sid", "campaign_status"])
            _event(registration, step="campaign", status="deleted", detail=f"Rejected campaign {sid} deleted at Twilio.")
        return registration


def a2p_polled(*, clinic_id: int) -> None:
    """Remember when the registration was last polled."""
    A2PRegistration.objects.filter(clinic_id=clinic_id).update(polled_at=timezone.now())


def a2p_messaging_block(*, clinic_id: int, code: int, reason: str) -> bool:
    """Carriers refused a message for registration reasons: block texting with the reason (once)."""
    with transaction.atomic():
        registration, _ = A2PRegistration.objects.select_for_update().get_or_create(clinic_id=clinic_id)
        if registration.messaging_blocked_code == code:
            return False
        registration.messaging_blocked_code, registration.messaging_blocked_reason = code, reason
        registration.messaging_blocked_at = timezone.now()
        registration.save(update_fields=["messaging_blocked_code", "messaging_blocked_reason", "messaging_blocked_at"])
        _event(registration, status="blocked", detail=reason, code=code)
        return True


def a2p_registrations_pending() -> list[int]:
    """Clinic ids whose registration is not finished (campaign verified, number added; a changed
    number is not added), least recently polled first. A rejected one is included: its poll records nothing new and its
    advance stops at the error until staff Edit and resubmit."""
    done = A2PRegistration.objects.filter(campaign_status="VERIFIED", number_status="added")
    # Never polled first, on every database (PostgreSQL sorts NULL last by default).
    oldest_first = (F("polled_at").asc(nulls_first=True), "pk")
    return list(A2PRegistration.objects.exclude(pk__in=done).order_by(*oldest_first).values_list("clinic_id", flat=True))
