"""Provisioning: a clinic's number bought (or a lost purchase adopted), in the clinic's own
subaccount, created here when it has none. Releasing, repairs, subaccount changes and the
re-drive are their own modules beside this one (release.py, repairs.py, subaccounts.py,
redrive.py) and share its errors and names.

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
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinics import services as clinic_services
from clinics.models import Clinic
from clinics.phone import area_code_validate
from telephony import task_names, twilio
from telephony.numbers.changes import clinic_number_changed
from telephony.queue import task_send_on_commit
from telephony.sids import phone_sid_error
from telephony.twilio.errors import with_code
from telephony.webhook_urls import webhook_params

# How many candidates one search asks for; later ones are tried if earlier ones are
# sold to someone else between the search and the purchase.
SEARCH_LIMIT = 10
FRIENDLY_NAME_MAX = 64
_CLINIC_TAG_RE = re.compile(r"\(clinic #(\d+)\)\s*$")

# After automatic retries ran out: the state it leaves, and what staff do (the retry
# first checks whether an unseen purchase went through, so it never buys twice).
GIVEN_UP_NEXT = "The clinic has no number yet: try again in a few minutes with Retry failed provisioning."


class ProvisionFailed(Exception):
    """The purchase cannot succeed as asked (final); the message says what to do."""

    def __init__(self, error: str, code: int | None = None) -> None:
        super().__init__(error)
        self.error, self.code = error, code


class RetryLater(Exception):
    """Nothing went wrong, but the purchase must wait (retried like a rate limit; at
    `after_seconds` when the wait has a known end)."""

    def __init__(self, message: str, *, after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.after_seconds = after_seconds


class InvalidInput(ValueError):
    """Input refused before anything was changed or asked of Twilio; the message says why."""


# What a workflow run raises when it did not do what was asked: each says why in its
# message, which callers show as it is (the seed's API turns them into failure dicts).
WORKFLOW_ERRORS = (twilio.TwilioError, ProvisionFailed, RetryLater, InvalidInput, clinic_services.ClinicNumberError)


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
    with transaction.atomic():
        clinic_services.clinic_number_activate(
            clinic_id=clinic.id,
            phone_number=number.phone_number,
            phone_sid=number.sid,
            webhooks=number.webhooks,
            adopted=adopted,
        )
        # Texting follows the number (a repeated run asks again: the number step is idempotent).
        clinic_number_changed(clinic_id=clinic.id)
    return number


def clinic_number_provision_give_up(*, clinic_id: int, error: str, code: int | None) -> None:
    """Retries ran out: mark the clinic failed with why and what to do, so staff can act
    (no-op if it moved on). `error` says what kept failing; the clinic holds no number."""
    clinic_services.clinic_number_provision_fail(clinic_id=clinic_id, error=f"{error} {GIVEN_UP_NEXT}", code=code)


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
        bought = _buy_first(clinic=clinic, candidates=[pending], friendly_name=friendly_name, account_sid=account_sid)
        if bought is not None:
            return bought
        # The number reserved earlier was sold to someone else: search again now rather than
        # tell staff to retry, which would only search (and find nothing if the area code sold out).
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
    bought = _buy_first(clinic=clinic, candidates=candidates, friendly_name=friendly_name, account_sid=account_sid)
    if bought is not None:
        return bought
    raise ProvisionFailed(
        with_code(
            f"The numbers found in area code {area_code} were sold to someone else before we could buy them. "
            "Try again: a new search will be made.",
            twilio.ERR_NUMBER_UNAVAILABLE,
        ),
        twilio.ERR_NUMBER_UNAVAILABLE,
    )


def _buy_first(
    *, clinic: Clinic, candidates: list[str], friendly_name: str, account_sid: str
) -> tuple[twilio.IncomingNumber, bool] | None:
    """Reserve and buy the first candidate still for sale (adopting our own unseen purchase);
    None when every one was sold to someone else. RetryLater when all are being bought for
    our other clinics right now."""
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
        area_code = _area_code_of(candidates[0]) if candidates else ""
        raise RetryLater(
            f"Waiting to buy a number: all numbers found in area code {area_code} are being bought for other clinics."
        )
    return None


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
    intent = clinic_services.clinic_subaccount_intend(clinic_id=clinic.id, unless_asked_within=subaccount_create_lease())
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
        if not intent.recorded:  # the earlier create may still be in flight: its lease runs from its ask
            left = subaccount_create_lease() - (timezone.now() - intent.asked_before)
            raise RetryLater(
                f"Waiting for Twilio's answer to the creation of {clinic.name}'s subaccount.",
                after_seconds=max(1.0, left.total_seconds()),
            )
    try:
        account = twilio.subaccount_create(friendly_name=name)
    except twilio.TwilioError as exc:
        if exc.status == 429 or (exc.status is not None and exc.status < 500 and not exc.retryable):
            # A definite refusal (e.g. 21480, too many subaccounts) or a rate limit (429: Twilio
            # refused the request before acting on it): nothing was created, so the next
            # attempt need neither look nor wait.
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
