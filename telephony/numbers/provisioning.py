"""Provisioning workflows: a clinic's number bought, adopted, re-pointed and released.

Each workflow combines a state change (clinics.services, which also writes the number
history), the Twilio adapter call (telephony.twilio), and follow-up tasks sent
on commit by name (telephony.queue). Surfaces (admin, API, commands) call the
`*_request` workflows, which change state and enqueue; Celery tasks call the `*_run`
workflows, which do the Twilio work. Nothing here imports the tasks.

Failures are exceptions, never result dicts: `TwilioError` (from the adapter; its
`retryable` says whether a retry may help), `ProvisionFailed` (final, the clinic is
marked failed), `RetryLater` (nothing is wrong, but wait), and the domain's
`ClinicNumberError` (the change is not allowed now).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinics import selectors as clinic_selectors
from clinics import services as clinic_services
from clinics.models import Clinic, NumberState
from clinics.phone import area_code_validate
from telephony import operations, task_names, twilio
from telephony.models import Operation
from telephony.queue import operation_send_on_commit, task_send, task_send_on_commit
from telephony.sids import phone_sid_error
from telephony.twilio.errors import with_code
from telephony.webhook_urls import webhook_params

# How many candidates one search asks for; later ones are tried if earlier ones are
# sold to someone else between the search and the purchase.
SEARCH_LIMIT = 10
FRIENDLY_NAME_MAX = 64
_CLINIC_TAG_RE = re.compile(r"\(clinic #(\d+)\)\s*$")

# Celery task names (telephony/tasks.py); sent by name so that workflows never import tasks.


class ProvisionFailed(Exception):
    """The purchase cannot succeed as asked (final); the message says what to do."""

    def __init__(self, error: str, code: int | None = None) -> None:
        super().__init__(error)
        self.error, self.code = error, code


class RetryLater(Exception):
    """Nothing went wrong, but the purchase must wait (retried like a rate limit)."""


class InvalidInput(ValueError):
    """Input refused before anything was changed or asked of Twilio; the message says why."""


class MoveInProgress(Exception):
    """Another run is moving the clinic's number: this one did nothing (its outcome is not the move's)."""


# What a workflow run raises when it did not do what was asked: each says why in its
# message, which callers show as it is (the seed's API turns them into failure dicts).
WORKFLOW_ERRORS = (twilio.TwilioError, ProvisionFailed, RetryLater, InvalidInput, clinic_services.ClinicNumberError)


@dataclass(frozen=True)
class Released:
    """A finished release: the number is gone from Twilio and from its clinic."""

    sid: str
    phone_number: str
    clinic_id: int | None
    already_released: bool


# --------------------------------------------------------------------------- names


def clinic_friendly_name(*, clinic_id: int, name: str) -> str:
    """A Twilio friendly name (max 64 chars) that always names the clinic's id."""
    tag = f" (clinic #{clinic_id})"
    return (name.strip()[: FRIENDLY_NAME_MAX - len(tag)].rstrip() or "DentSignal") + tag


def clinic_id_from_friendly_name(friendly_name: str | None) -> int | None:
    """The clinic id a number's friendly name identifies, if it was bought by us."""
    match = _CLINIC_TAG_RE.search(friendly_name or "")
    return int(match.group(1)) if match else None


def area_code_clean(area_code: object) -> str:
    """The three-digit area code, or InvalidInput saying what is wrong with it."""
    try:
        return area_code_validate(area_code)
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0]) from exc


def phone_sid_clean(phone_sid: object) -> str:
    """The phone number SID (PN + 32 hex digits), or InvalidInput saying it is not one."""
    error = phone_sid_error(phone_sid)
    if error:
        raise InvalidInput(error)
    return str(phone_sid)


def _area_code_of(e164: str) -> str:
    return e164[2:5] if e164.startswith("+1") else ""


# --------------------------------------------------------------------------- provisioning


def clinic_number_provision_request(
    *,
    clinic_id: int,
    area_code: str,
    friendly_name: str = "",
    phone_number: str = "",
    actor: User | None = None,
) -> Clinic:
    """Move the clinic to `provisioning` and send the purchase task after commit.

    Raises the domain's ClinicNumberError subclasses (bad input, no such clinic, a
    number already held or on its way); nothing is bought here. If the broker cannot
    take the task, the clinic stays in provisioning, marked for re-send at beat's
    next tick (`clinic.send_failed_at`).
    """
    with transaction.atomic():
        clinic = clinic_services.clinic_number_provision_request(
            clinic_id=clinic_id, area_code=area_code, friendly_name=friendly_name, phone_number=phone_number, actor=actor
        )
        task_send_on_commit(
            task_names.PROVISION_NUMBER,
            clinic.id,
            clinic.requested_area_code,
            clinic.requested_friendly_name or None,
            clinic_id=clinic.id,
        )
    return clinic


def clinic_number_provision_run(*, clinic_id: int, area_code: str, friendly_name: str | None = None) -> twilio.IncomingNumber:
    """Buy one voice+SMS number in `area_code` for the clinic, webhooks set in the purchase.

    Two Twilio calls on the normal path: a search filtered to voice+SMS, then the
    purchase of that exact number, which is committed on the clinic row first. A rerun
    (retry, redelivery, second click) resumes with that number: if Twilio says it is
    unavailable (21422) and the account owns it, it is adopted; a second number is never
    bought. A final failure (ProvisionFailed, a non-retryable TwilioError) marks the
    clinic failed before it is raised; retryable ones (TwilioError.retryable,
    RetryLater, a database error after Twilio answered) leave it in provisioning.
    """
    area_code = area_code_clean(area_code)
    clinic = clinic_services.clinic_number_provision_begin(
        clinic_id=clinic_id, area_code=area_code, friendly_name=friendly_name or ""
    )
    name = clinic_friendly_name(clinic_id=clinic.id, name=friendly_name or clinic.requested_friendly_name or clinic.name)
    try:
        account_sid = clinic_subaccount_ensure(clinic=clinic)
        number, adopted = _buy_or_adopt(clinic=clinic, area_code=area_code, friendly_name=name, account_sid=account_sid)
    except twilio.TwilioError as exc:
        error = exc.while_doing(f"buying a number in area code {area_code}")
        if not error.retryable:
            clinic_services.clinic_number_provision_fail(clinic_id=clinic.id, error=str(error), code=error.code)
        raise error from exc
    except ProvisionFailed as exc:
        clinic_services.clinic_number_provision_fail(clinic_id=clinic.id, error=exc.error, code=exc.code)
        raise
    # Twilio has answered: a database error from here on propagates to the task, which
    # retries; the retry finds the reserved number owned by us and adopts it.
    clinic_services.clinic_number_activate(
        clinic_id=clinic.id,
        phone_number=number.phone_number,
        phone_sid=number.sid,
        webhooks=number.webhooks,
        adopted=adopted,
    )
    return number


def clinic_number_provision_give_up(*, clinic_id: int, error: str, code: int | None) -> None:
    """Retries ran out: mark the clinic failed with why, so staff can act (no-op if it moved on)."""
    clinic_services.clinic_number_provision_fail(clinic_id=clinic_id, error=error, code=code)


def _owned_for_clinic(
    *, clinic_id: int, phone_number: str | None, friendly_name: str, account_sid: str
) -> twilio.IncomingNumber | None:
    """The account's own number bought for this clinic: by number, else by friendly name.

    Only a number whose friendly name identifies this clinic counts: a number the
    account bought for another clinic is not ours to adopt.
    """
    candidates = twilio.incoming_numbers_find(phone_number=phone_number, account_sid=account_sid) if phone_number else []
    if not candidates:
        candidates = twilio.incoming_numbers_find(friendly_name=friendly_name, account_sid=account_sid)
    return next((n for n in candidates if clinic_id_from_friendly_name(n.friendly_name) == clinic_id), None)


def _buy_or_adopt(*, clinic: Clinic, area_code: str, friendly_name: str, account_sid: str) -> tuple[twilio.IncomingNumber, bool]:
    """Return (incoming number, adopted?) for the clinic, bought into `account_sid` ("" =
    main); see clinic_number_provision_run."""
    pending = clinic.pending_number
    if pending and _area_code_of(pending) != area_code:
        # Left by an earlier attempt in another area code: adopt it if it was bought
        # unseen, else forget it; never buy it now.
        owned = _owned_for_clinic(clinic_id=clinic.id, phone_number=pending, friendly_name=friendly_name, account_sid=account_sid)
        if owned is not None:
            return owned, True
        clinic_services.clinic_number_unreserve(clinic_id=clinic.id, phone_number=pending, reason="not bought; area code changed")
        pending = ""
    if pending:
        candidates = [pending]
    else:
        found = twilio.available_numbers_search(area_code=area_code, limit=SEARCH_LIMIT, account_sid=account_sid)
        candidates = [n.phone_number for n in found]
    if not candidates:
        raise ProvisionFailed(
            with_code(
                f"No numbers with voice and SMS are available in area code {area_code}. Try a nearby area code.",
                twilio.ERR_NO_NUMBERS_IN_AREA_CODE,
            ),
            twilio.ERR_NO_NUMBERS_IN_AREA_CODE,
        )
    taken_by_others = 0
    for candidate in candidates:
        try:
            to_buy = clinic_services.clinic_number_reserve(clinic_id=clinic.id, phone_number=candidate)
        except clinic_services.NumberTaken:
            taken_by_others += 1
            continue
        try:
            return twilio.incoming_number_buy(
                phone_number=to_buy, friendly_name=friendly_name, webhook_fields=webhook_params(), account_sid=account_sid
            ), False
        except twilio.TwilioError as exc:
            if exc.code != twilio.ERR_NUMBER_UNAVAILABLE:
                raise
        # Unavailable: either our own earlier purchase went through unseen, or someone
        # else bought it after our search.
        owned = _owned_for_clinic(clinic_id=clinic.id, phone_number=to_buy, friendly_name=friendly_name, account_sid=account_sid)
        if owned is not None:
            return owned, True
        clinic_services.clinic_number_unreserve(
            clinic_id=clinic.id, phone_number=to_buy, reason=f"{to_buy} was sold to someone else before we could buy it"
        )
        if to_buy != candidate:
            break
    if taken_by_others == len(candidates):
        # Every number found is being bought for our other clinics right now: a later
        # search will show others.
        raise RetryLater(
            f"Waiting to buy a number: all numbers found in area code {area_code} are being bought for other clinics."
        )
    raise ProvisionFailed(
        with_code(
            f"The numbers found in area code {area_code} were sold to someone else before we could buy them. "
            "Try again: a new search will be made.",
            twilio.ERR_NUMBER_UNAVAILABLE,
        ),
        twilio.ERR_NUMBER_UNAVAILABLE,
    )


# --------------------------------------------------------------------------- subaccount


def subaccount_create_lease() -> timedelta:
    """How long an unanswered subaccount create may still be in flight at Twilio: a
    retry within it that finds nothing waits (RetryLater) rather than create a second."""
    return timedelta(seconds=2 * float(settings.TWILIO_HTTP_TIMEOUT) + 5)


def clinic_subaccount_ensure(*, clinic: Clinic) -> str:
    """The Twilio account the clinic's new number goes in: its own subaccount, created
    once (POST /2010-04-01/Accounts.json), or "" (the main account) when
    TWILIO_SUBACCOUNT_PER_CLINIC is off.

    Idempotent like a purchase: the intent is committed on the clinic row before the
    create call, and a later run that sees an earlier intent first looks the subaccount
    up at Twilio by its friendly name (which ends in "(clinic #<id>)", so a renamed clinic
    is still found): a lost answer, a retried task or a second click never makes a second
    subaccount. A create whose answer may still come (within subaccount_create_lease)
    raises RetryLater. Raises TwilioError (21476/21478 with sentences staff can act on).
    """
    if clinic.twilio_account_sid:
        return clinic.twilio_account_sid
    if not settings.TWILIO_SUBACCOUNT_PER_CLINIC:
        return ""
    intent = clinic_services.clinic_subaccount_intend(clinic_id=clinic.id)
    if intent.account_sid:
        return intent.account_sid
    name = clinic_friendly_name(clinic_id=clinic.id, name=clinic.name)
    if intent.asked_before is not None:
        found = _subaccount_of_clinic(clinic_id=clinic.id, friendly_name=name)
        if found is not None:
            clinic_services.clinic_subaccount_save(
                clinic_id=clinic.id, account_sid=found.sid, auth_token=found.auth_token, created=False
            )
            return found.sid
        if timezone.now() - intent.asked_before < subaccount_create_lease():
            raise RetryLater(f"Waiting for Twilio's answer to the creation of {clinic.name}'s subaccount.")
    try:
        account = twilio.subaccount_create(friendly_name=name)
    except twilio.TwilioError as exc:
        if exc.status is not None and exc.status < 500 and not exc.retryable:
            # A definite refusal (e.g. 21480, too many subaccounts): nothing was created,
            # so the next attempt need neither look nor wait.
            clinic_services.clinic_subaccount_intent_clear(clinic_id=clinic.id)
        raise
    clinic_services.clinic_subaccount_save(
        clinic_id=clinic.id, account_sid=account.sid, auth_token=account.auth_token, created=True
    )
    return account.sid


def _subaccount_of_clinic(*, clinic_id: int, friendly_name: str) -> twilio.Subaccount | None:
    """The clinic's subaccount at Twilio: by exact friendly name, else (the clinic was
    renamed since) by the "(clinic #<id>)" tag among all subaccounts. Closed ones never."""
    found = twilio.subaccounts_find(friendly_name=friendly_name)
    if not found:
        found = [a for a in twilio.subaccounts_list() if a.status != "closed"]
    return next((a for a in found if clinic_id_from_friendly_name(a.friendly_name) == clinic_id), None)


# --------------------------------------------------------------------------- release


def clinic_number_release_request(*, clinic_id: int, actor: User | None = None) -> Clinic:
    """Move the clinic to `releasing` and send the release task after commit.

    Raises ClinicNumberError when the clinic has no number or is already releasing.
    """
    with transaction.atomic():
        clinic = clinic_services.clinic_number_release_request(clinic_id=clinic_id, actor=actor)
        task_send_on_commit(task_names.RELEASE_CLINIC_NUMBER, clinic.id, clinic.twilio_number_sid, clinic_id=clinic.id)
    return clinic


def number_release_run(*, phone_sid: str, clinic_id: int | None = None) -> Released:
    """Release the number at Twilio and clear it from its clinic, keeping the history.

    A number Twilio no longer has (20404) counts as released, and so does a release
    already done for `clinic_id` (safe to repeat). With `clinic_id`, only that clinic's
    number is released: a stale or wrong request raises ClinicNumberError and releases
    nothing. A non-retryable TwilioError marks the clinic failed before it is raised.
    Any number on the account (an orphan no clinic holds) can be released by SID.
    """
    phone_sid = phone_sid_clean(phone_sid)
    try:
        clinic = clinic_services.clinic_number_release_begin(phone_sid=phone_sid, clinic_id=clinic_id)
    except clinic_services.AlreadyReleased:
        return Released(sid=phone_sid, phone_number="", clinic_id=clinic_id, already_released=True)
    phone_number = (clinic.twilio_number or "") if clinic else ""
    # The number lives in its clinic's subaccount (kept after the release), else on main.
    account_sid = clinic.twilio_account_sid if clinic else ""
    already = False
    try:
        twilio.incoming_number_delete(phone_sid, account_sid=account_sid)
    except twilio.TwilioError as exc:
        if not exc.not_found:
            if not exc.retryable:
                clinic_services.clinic_number_release_fail(phone_sid=phone_sid, error=str(exc), code=exc.code)
            raise
        already = True
    clinic_services.clinic_number_released(
        phone_sid=phone_sid, phone_number=phone_number, detail="Twilio no longer had it" if already else ""
    )
    return Released(sid=phone_sid, phone_number=phone_number, clinic_id=clinic.id if clinic else None, already_released=already)


def number_release_give_up(*, phone_sid: str, error: str, code: int | None) -> None:
    """Retries ran out: the clinic keeps its number, in `failed`, with why."""
    clinic_services.clinic_number_release_fail(phone_sid=phone_sid, error=error, code=code)


# --------------------------------------------------------------------------- webhooks


def number_webhooks_update_request(*, phone_sids: list[str], actor: User | None = None) -> list[Operation]:
    """Record a webhook reset per number and send each after commit; the operations as they
    stand after the send (`send_failed_at` set: queued for re-send). An invalid SID raises
    InvalidInput and nothing is recorded."""
    sids = [phone_sid_clean(sid) for sid in dict.fromkeys(phone_sids)]
    with transaction.atomic():
        sent = [operation_send_on_commit(task_names.UPDATE_NUMBER_WEBHOOKS, sid, phone_sid=sid, actor=actor) for sid in sids]
    return operations.operations_reread(sent)


def number_webhooks_update_run(*, phone_sid: str) -> twilio.IncomingNumber:
    """Point an existing number's webhooks at today's API_BASE_URL (fixes drift) and record it."""
    phone_sid = phone_sid_clean(phone_sid)
    account_sid = clinic_selectors.clinic_account_sid_for_number(phone_sid=phone_sid)
    number = twilio.incoming_number_update(phone_sid, webhook_fields=webhook_params(), account_sid=account_sid)
    clinic_services.clinic_number_webhooks_saved(phone_sid=phone_sid, webhooks=number.webhooks)
    return number


# --------------------------------------------------------------------------- orphans


def orphan_adopt_request(*, clinic_id: int, phone_sid: str, phone_number: str, actor: User | None = None) -> Operation:
    """Record the adoption of an orphan number by its clinic and send it after commit; the
    operation as it stands after the send."""
    sid = phone_sid_clean(phone_sid)
    with transaction.atomic():
        operation = operation_send_on_commit(
            task_names.ADOPT_ORPHAN_NUMBER,
            clinic_id,
            sid,
            phone_number,
            clinic_id=clinic_id,
            phone_sid=sid,
            phone_number=phone_number,
            actor=actor,
        )
    return operations.operations_reread([operation])[0]


def orphan_adopt_run(*, clinic_id: int, phone_sid: str, phone_number: str, actor: User | None = None) -> str:
    """Save an orphan number on its clinic and point its webhooks at us; a line saying what happened.

    A clinic with its own subaccount adopts only a number in that subaccount: its number
    operations run there, so a number on another account would be out of reach.
    """
    account_sid = clinic_selectors.clinic_account_sid(clinic_id=clinic_id)
    if account_sid:
        try:
            held = twilio.incoming_numbers_find(phone_number=phone_number, account_sid=account_sid)
        except twilio.TwilioError as exc:
            return f"Did not adopt {phone_number}: {exc}"
        if not any(n.sid == phone_sid for n in held):
            return (
                f"Did not adopt {phone_number}: it is not in the clinic's Twilio subaccount {account_sid}, where its "
                "numbers are managed. Transfer the number into that subaccount first, then adopt it."
            )
    try:
        clinic = clinic_services.clinic_number_adopt(
            clinic_id=clinic_id, phone_number=phone_number, phone_sid=phone_sid, webhooks={}, actor=actor
        )
    except clinic_services.ClinicNumberError as exc:
        return f"Did not adopt {phone_number}: {exc}"
    try:
        number_webhooks_update_run(phone_sid=phone_sid)
    except twilio.TwilioError as exc:
        return f"Adopted {phone_number} ({phone_sid}) for {clinic.name} (its webhooks could not be reset: {exc})."
    return f"Adopted {phone_number} ({phone_sid}) for {clinic.name}."


# --------------------------------------------------------------------------- re-drive


def stuck_work_resend() -> int:
    """Re-send the work whose send failed or that is stuck; how many were re-sent.

    That is a clinic's purchase or release (its state says the work is owed) and every
    Operation not finished (webhook resets, orphan releases, adoptions, moves). Work
    whose send failed is re-sent at once (beat's next tick); work merely unfinished after
    NUMBER_STUCK_AFTER_SECONDS (a task lost after the send, or dropped by the broker).

    A tick that finds the last one more than 1.5 REDRIVE_PERIOD_SECONDS back knows that
    the task queue, the database or the workers were away in between: it also re-sends
    the work in flight since before that last tick. Redis gives a message it held for a
    worker (waiting out a retry countdown, or prefetched) back only after its visibility
    timeout, and loses its queue when restarted without its data; the tasks' own retries
    (telephony.tasks) cover only the database. The tasks are idempotent, so re-sending
    one that is merely slow buys nothing twice.
    """
    now = timezone.now()
    stuck_after = float(settings.NUMBER_STUCK_AFTER_SECONDS)
    last = operations.redrive_tick_last()
    if last is not None and (now - last).total_seconds() > 1.5 * settings.REDRIVE_PERIOD_SECONDS:
        stuck_after = min(stuck_after, (now - last).total_seconds())
    count = 0
    for clinic in clinic_services.clinics_stuck_claim(older_than_seconds=stuck_after):
        if clinic.number_state == NumberState.PROVISIONING:
            task_send(
                task_names.PROVISION_NUMBER,
                (clinic.id, clinic.requested_area_code, clinic.requested_friendly_name or None),
                clinic_id=clinic.id,
            )
        elif clinic.twilio_number_sid:
            task_send(task_names.RELEASE_CLINIC_NUMBER, (clinic.id, clinic.twilio_number_sid), clinic_id=clinic.id)
        count += 1
    for operation in operations.operations_due_claim(older_than_seconds=stuck_after):
        task_send(operation.task_name, tuple(operation.args), operation_id=operation.pk)
        count += 1
    operations.redrive_tick_save(ran_at=now)
    return count


# --------------------------------------------------------------------------- orphans from the audit page


def orphan_release_request(*, phone_sid: str, phone_number: str, actor: User | None = None) -> Operation:
    """Record who asked to release an orphan number (no clinic holds it) and the release
    itself, and send it after commit; the operation as it stands after the send. Raises
    ClinicNumberError when a clinic holds it now."""
    sid = phone_sid_clean(phone_sid)
    with transaction.atomic():
        clinic_services.number_orphan_release_request(phone_sid=sid, phone_number=phone_number, actor=actor)
        operation = operation_send_on_commit(
            task_names.RELEASE_NUMBER, sid, phone_sid=sid, phone_number=phone_number, actor=actor
        )
    return operations.operations_reread([operation])[0]


# --------------------------------------------------------------------------- subaccount status
# Suspend (reversible), reactivate, close (irreversible) a clinic's own subaccount:
# POST /2010-04-01/Accounts/{sub}.json Status=suspended|active|closed with the main
# credentials (https://www.twilio.com/docs/iam/api/subaccounts, "Subaccount status").
# Closing releases every number in it at Twilio and, with automatic deletion of closed
# subaccounts on (the default since July 5, 2018), "we will delete all subaccount data
# 30 days after closure" (https://support.twilio.com/hc/en-us/articles/223135987).

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
        numbers = ", ".join(f"{n.phone_number} ({n.sid})" for n in held[:5])
        more = f" and {len(held) - 5} more" if len(held) > 5 else ""
        return (
            f"Not closed: {clinic.name}'s subaccount {clinic.twilio_account_sid} still holds {numbers}{more} at Twilio, "
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
        raise InvalidInput(f"Subaccount status must be one of {', '.join(SUBACCOUNT_STATUSES)}, not {status!r}.")
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


# --------------------------------------------------------------------------- move to own subaccount
# For clinics provisioned before subaccounts (number on the main account): ensure the
# clinic's subaccount (the idempotent step above), transfer the number with the main
# credentials (POST /Accounts/{main}/IncomingPhoneNumbers/{PN}.json AccountSid={sub};
# the v2010 spec allows AccountSid on this update, https://www.twilio.com/docs/iam/api/subaccounts
# "Exchanging numbers"), then re-set its webhooks under the subaccount. Each step is
# recorded on the clinic; a retry resumes from what Twilio shows (the number already in
# the subaccount: no second transfer).


def clinic_number_move_request(*, clinic_id: int, actor: User | None = None) -> Operation:
    """Ask for the clinic's number to be moved into its own subaccount (recorded, task sent
    on commit); the operation as it stands after the send. ClinicNumberError says why not
    (no active number, already moved); InvalidInput when TWILIO_SUBACCOUNT_PER_CLINIC is off."""
    if not settings.TWILIO_SUBACCOUNT_PER_CLINIC:
        raise InvalidInput(
            "Subaccounts are off (TWILIO_SUBACCOUNT_PER_CLINIC=false): numbers stay on the main account, nothing was moved."
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
            raise InvalidInput("Subaccounts are off (TWILIO_SUBACCOUNT_PER_CLINIC=false): the number stays on the main account.")
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
    return clinic_services.clinic_number_move_step(clinic_id=clinic.id, step=clinic_services.MOVE_DONE, detail=sub)


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
