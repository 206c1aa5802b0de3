"""A clinic's own Twilio subaccount: creating it (intent first), its token, its status
(suspended, active, closed), and moving a number provisioned on the main account into it.

Nothing here talks to Twilio: the workflows in telephony.numbers.provisioning make the
Twilio call and record its answer with these functions (each one transaction, with its
history event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from ..models import Clinic, NumberEvent, NumberState
from ..sealed import secret_seal
from .errors import ClinicNumberError, MoveClaimed
from .rows import clinic_lock, number_event_write

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
    `recorded` says whether this attempt recorded its own ask (and may create); it did not
    when the earlier ask is recent enough that its create may still be in flight.
    """

    account_sid: str
    asked_before: datetime | None
    recorded: bool = False


def clinic_subaccount_intend(*, clinic_id: int, unless_asked_within: timedelta | None = None) -> SubaccountIntent:
    """Record (committed) that the clinic's subaccount is about to be created at Twilio,
    unless an earlier ask is less than `unless_asked_within` old: its create may still be in
    flight, and a retry waiting for it must not move its start (else retries closer together
    than that wait for ever)."""
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if clinic.twilio_account_sid:
            return SubaccountIntent(account_sid=clinic.twilio_account_sid, asked_before=None)
        asked_before = clinic.twilio_account_requested_at
        now = timezone.now()
        if asked_before is not None and unless_asked_within is not None and now - asked_before < unless_asked_within:
            return SubaccountIntent(account_sid="", asked_before=asked_before, recorded=False)
        clinic.twilio_account_requested_at = now
        clinic.save(update_fields=["twilio_account_requested_at", "updated_at"])
    return SubaccountIntent(account_sid="", asked_before=asked_before, recorded=True)


def clinic_subaccount_intent_clear(*, clinic_id: int) -> None:
    """Forget the intent after Twilio definitely refused the create (a 4xx): nothing was made."""
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if not clinic.twilio_account_sid and clinic.twilio_account_requested_at is not None:
            clinic.twilio_account_requested_at = None
            clinic.save(update_fields=["twilio_account_requested_at", "updated_at"])


def clinic_subaccount_save(*, clinic_id: int, account_sid: str, auth_token: str, created: bool) -> Clinic:
    """Save the clinic's subaccount and its auth token (sealed); a repeat is a no-op.

    A clinic that already has another subaccount keeps it (ClinicNumberError): one
    clinic, one subaccount.
    """
    with transaction.atomic():
        clinic = clinic_lock(clinic_id)
        if clinic.twilio_account_sid == account_sid:
            return clinic
        if clinic.twilio_account_sid:
            raise ClinicNumberError(f"{clinic.name} already has its Twilio subaccount; the other one was not saved on it.")
        clinic.twilio_account_sid = account_sid
        clinic.twilio_account_token_sealed = secret_seal(auth_token)
        clinic.twilio_account_requested_at = None
        clinic.save(
            update_fields=["twilio_account_sid", "twilio_account_token_sealed", "twilio_account_requested_at", "updated_at"]
        )
        number_event_write(
            clinic, NumberEvent.Kind.SUBACCOUNT_SET, detail=f"{account_sid} ({'created' if created else 'found at Twilio'})"
        )
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
        clinic = clinic_lock(clinic_id)
        if clinic.twilio_account_sid != account_sid:
            raise ClinicNumberError(f"{clinic.name} no longer holds that Twilio subaccount.")
        if clinic.twilio_account_status != status:
            clinic.twilio_account_status = status
            clinic.save(update_fields=["twilio_account_status", "updated_at"])
        if changed and status in _STATUS_EVENTS:
            number_event_write(clinic, _STATUS_EVENTS[status], detail=account_sid, actor=actor)
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
        clinic = clinic_lock(clinic_id)
        if not clinic.twilio_number_sid or clinic.number_state != NumberState.ACTIVE:
            raise ClinicNumberError(f"{clinic.name} has no active number to move.")
        if clinic.number_move_step == MOVE_DONE or (clinic.twilio_account_sid and not clinic.number_move_step):
            raise ClinicNumberError(f"{clinic.name}'s number is already in its own Twilio subaccount.")
        if _move_claimed_by_another(clinic, claimant=""):
            raise MoveClaimed(f"{clinic.name}'s number is being moved right now; nothing more to do, wait for it to finish.")
        clinic.number_move_step, clinic.number_move_error = MOVE_REQUESTED, ""
        clinic.save(update_fields=["number_move_step", "number_move_error", "updated_at"])
        number_event_write(
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
        clinic = clinic_lock(clinic_id)
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
        clinic = clinic_lock(clinic_id)
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
        number_event_write(
            clinic,
            _MOVE_EVENTS[step],
            number=clinic.twilio_number,
            sid=clinic.twilio_number_sid or "",
            detail=error or detail,
        )
    return clinic
