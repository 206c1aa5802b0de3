"""A clinic's own Twilio subaccount after it exists: suspend, reactivate, close, and moving
a number bought on the main account into it. (Creating it is part of provisioning.)

Subaccount status: POST /2010-04-01/Accounts/{sub}.json Status=suspended|active|closed with
the main credentials (https://www.twilio.com/docs/iam/api/subaccounts, "Subaccount
status"). Closing releases every number in it at Twilio and, with automatic deletion of
closed subaccounts on (the default since July 5, 2018), "we will delete all subaccount
data 30 days after closure" (https://support.twilio.com/hc/en-us/articles/223135987).

Moving: ensure the clinic's subaccount (provisioning's idempotent step), transfer the
number with the main credentials (POST /Accounts/{main}/IncomingPhoneNumbers/{PN}.json
AccountSid={sub}; the v2010 spec allows AccountSid on this update,
https://www.twilio.com/docs/iam/api/subaccounts "Exchanging numbers"), then re-set its
webhooks under the subaccount. Each step is recorded on the clinic; a retry resumes from
what Twilio shows (the number already in the subaccount: no second transfer).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from clinics import services as clinic_services
from clinics.models import Clinic
from telephony import operations, task_names, twilio
from telephony.models import Operation
from telephony.numbers.changes import clinic_number_changed
from telephony.numbers.provisioning import InvalidInput, clinic_subaccount_ensure
from telephony.queue import operation_send_on_commit
from telephony.webhook_urls import webhook_params

SUBACCOUNT_STATUSES = ("active", "suspended", "closed")


class SubaccountRefused(Exception):
    """The subaccount change is not allowed now; the message says why and what to do.
    Nothing was asked of Twilio."""


def clinic_subaccount_close_blocker(*, clinic: Clinic) -> str:
    """Why the clinic's subaccount may not be closed now ("" when it may): the clinic holds
    (or is getting, or giving back) a number, or the subaccount still holds numbers at
    Twilio, which closing would release unseen. Asks Twilio (the subaccount, then its
    numbers, all pages). One closed already (e.g. in Twilio's Console, whose numbers can
    no longer be listed) is no blocker: Close then records it, and the clinic may be deleted."""
    if not clinic.twilio_account_sid:
        return f"{clinic.name} has no Twilio subaccount of its own (its numbers are on the main account)."
    reason = clinic.number_hold_reason()
    if reason:
        return f"Not closed: {reason}"
    if twilio.subaccount_fetch(clinic.twilio_account_sid).status == "closed":
        return ""
    held = twilio.incoming_numbers_list(account_sid=clinic.twilio_account_sid)
    if held:
        numbers = ", ".join(n.phone_number for n in held[:5])
        more = f" and {len(held) - 5} more" if len(held) > 5 else ""
        return (
            f"Not closed: {clinic.name}'s Twilio subaccount still holds {numbers}{more} at Twilio, "
            "which closing would release. Release or move them first (Number audit)."
        )
    return ""


def clinic_subaccount_status_change(*, clinic_id: int, status: str, actor: User | None = None) -> Clinic:
    """Set the clinic's subaccount to `status` ("suspended", "active" or "closed") at Twilio,
    then record it on the clinic with its history event.

    Raises SubaccountRefused (no subaccount; closing while numbers remain), TwilioError
    (21476 main account suspended, 21478 suspended by Twilio, 21479 already closed, 20404
    gone: sentences staff can act on), ClinicNotFound. Asking for the status the
    subaccount already has changes nothing and records no event.
    """
    if status not in SUBACCOUNT_STATUSES:
        raise InvalidInput("A subaccount can only be suspended, reactivated or closed.")
    clinic = Clinic.objects.filter(pk=clinic_id).first()
    if clinic is None:
        raise clinic_services.ClinicNotFound(f"No clinic with id {clinic_id}.")
    if not clinic.twilio_account_sid:
        raise SubaccountRefused(f"{clinic.name} has no Twilio subaccount of its own (its numbers are on the main account).")
    if status == "closed":
        reason = clinic_subaccount_close_blocker(clinic=clinic)
        if reason:
            raise SubaccountRefused(reason)
    current = twilio.subaccount_fetch(clinic.twilio_account_sid)
    if current.status == status:
        return clinic_services.clinic_subaccount_status_saved(
            clinic_id=clinic.id, account_sid=current.sid, status=status, changed=False
        )
    account = twilio.subaccount_status_set(clinic.twilio_account_sid, status=status)
    return clinic_services.clinic_subaccount_status_saved(
        clinic_id=clinic.id, account_sid=account.sid, status=account.status, actor=actor
    )


class MoveInProgress(Exception):
    """Another run is moving the clinic's number: this one did nothing (its outcome is not the move's)."""


def clinic_number_move_request(*, clinic_id: int, actor: User | None = None) -> Operation:
    """Ask for the clinic's number to be moved into its own subaccount (recorded, task sent
    on commit); the operation as it stands after the send. ClinicNumberError says why not
    (no active number, already moved); InvalidInput when TWILIO_SUBACCOUNT_PER_CLINIC is off."""
    if not settings.TWILIO_SUBACCOUNT_PER_CLINIC:
        raise InvalidInput(
            "This DentSignal keeps every clinic's number on the main Twilio account (no subaccount per clinic); "
            "nothing was moved."
        )
    with transaction.atomic():
        clinic = clinic_services.clinic_number_move_request(clinic_id=clinic_id, actor=actor)
        operation = operation_send_on_commit(
            task_names.MOVE_NUMBER_TO_SUBACCOUNT,
            clinic.id,
            clinic_id=clinic.id,
            phone_sid=clinic.twilio_number_sid or "",
            phone_number=clinic.twilio_number or "",
            actor=actor,
        )
    return operations.operations_reread([operation])[0]


def clinic_number_move_run(*, clinic_id: int, claimant: str = "") -> Clinic:
    """Do (or resume) the move: subaccount, transfer, webhooks; the clinic as it ends.

    The run first claims the move for `claimant` (its task id, the same over its retries;
    "" makes a claim of its own) for one task time limit: a move another run holds raises
    MoveInProgress and nothing is done. A transfer Twilio answers with 20404 because the
    number already left the main account for the subaccount counts as done. A retryable
    TwilioError / RetryLater is raised for the task to retry (the steps done stay
    recorded); a final one is recorded as the move's failure with Twilio's sentence (e.g.
    21474: the credentials are not the parent account's) and raised.
    """
    try:
        clinic = clinic_services.clinic_number_move_claim(
            clinic_id=clinic_id, claimant=claimant or uuid.uuid4().hex, lease_seconds=settings.CELERY_TASK_TIME_LIMIT
        )
    except clinic_services.MoveClaimed as exc:
        raise MoveInProgress(str(exc)) from exc
    if clinic.number_move_step not in clinic_services.MOVE_UNDER_WAY or not clinic.twilio_number_sid:
        return clinic  # nothing asked, or already ended (a repeated task)
    phone_sid, phone_number = clinic.twilio_number_sid, clinic.twilio_number or ""
    try:
        sub = clinic_subaccount_ensure(clinic=clinic)
        if not sub:
            raise InvalidInput(
                "This DentSignal keeps every clinic's number on the main Twilio account (no subaccount per clinic); "
                "the number stays there."
            )
        if twilio.incoming_numbers_find(phone_number=phone_number, account_sid=sub):
            detail = f"{phone_number} already in {sub}"
        else:
            detail = _number_transfer(phone_sid=phone_sid, phone_number=phone_number, sub=sub)
        clinic_services.clinic_number_move_step(clinic_id=clinic.id, step=clinic_services.MOVE_TRANSFERRED, detail=detail)
        number = twilio.incoming_number_update(phone_sid, webhook_fields=webhook_params(), account_sid=sub)
        clinic_services.clinic_number_webhooks_saved(phone_sid=phone_sid, webhooks=number.webhooks)
    except twilio.TwilioError as exc:
        if not exc.retryable:
            clinic_number_move_give_up(clinic_id=clinic.id, error=str(exc))
        raise
    except InvalidInput as exc:
        clinic_number_move_give_up(clinic_id=clinic.id, error=str(exc))
        raise
    with transaction.atomic():
        moved = clinic_services.clinic_number_move_step(clinic_id=clinic.id, step=clinic_services.MOVE_DONE, detail=sub)
        # The number left the main account's Messaging Service with the transfer: texting follows it.
        clinic_number_changed(clinic_id=clinic.id)
    return moved


def _number_transfer(*, phone_sid: str, phone_number: str, sub: str) -> str:
    """Transfer the number from the main account into `sub`; the history's detail. A 20404
    with the number found in `sub` is a transfer made before ours (another run's)."""
    try:
        twilio.incoming_number_transfer(phone_sid, to_account_sid=sub)
    except twilio.TwilioError as exc:
        if not exc.not_found or not twilio.incoming_numbers_find(phone_number=phone_number, account_sid=sub):
            raise
        return f"{phone_number} already in {sub} (Twilio: no longer on the main account)"
    return f"{phone_number} transferred from the main account to {sub}"


def clinic_number_move_give_up(*, clinic_id: int, error: str) -> None:
    """Record the move as failed with `error` (what staff can act on); a retry resumes it."""
    clinic_services.clinic_number_move_step(
        clinic_id=clinic_id, step=clinic_services.MOVE_FAILED, error=f'{error} Retry with "Move to its own subaccount".'
    )
