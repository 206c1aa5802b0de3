"""Releasing numbers: a clinic's (staff ask, a task does it at Twilio) and an orphan's (from the audit page).

A release Twilio already did answers 20404, which counts as released: a re-sent task
changes nothing. Nothing is ever released automatically.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction

from clinics import selectors as clinic_selectors
from clinics import services as clinic_services
from clinics.models import Clinic
from telephony import operations, task_names, twilio
from telephony.models import Operation
from telephony.numbers.changes import clinic_number_changed
from telephony.numbers.provisioning import phone_sid_clean
from telephony.queue import operation_send_on_commit, task_send_on_commit


@dataclass(frozen=True)
class Released:
    """A finished release: the number is gone from Twilio and from its clinic."""

    sid: str
    phone_number: str
    clinic_id: int | None
    already_released: bool


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
    if clinic is not None and clinic.voice_number_sid:
        _voice_number_release(clinic, phone_sid=phone_sid)  # first: a retry then finds it gone, not skipped
    phone_number = (clinic.twilio_number or "") if clinic else ""
    # The number lives in its clinic's subaccount (kept after the release), else on main; an
    # orphan may be a temporary number kept after a port-in, in that clinic's subaccount.
    account_sid = clinic.twilio_account_sid if clinic else clinic_selectors.clinic_account_sid_for_number(phone_sid=phone_sid)
    already = False
    try:
        twilio.incoming_number_delete(phone_sid, account_sid=account_sid)
    except twilio.TwilioError as exc:
        if not exc.not_found:
            if not exc.retryable:
                clinic_services.clinic_number_release_fail(phone_sid=phone_sid, error=str(exc), code=exc.code)
            raise
        already = True
    with transaction.atomic():
        released = clinic_services.clinic_number_released(
            phone_sid=phone_sid, phone_number=phone_number, detail="Twilio no longer had it" if already else ""
        )
        if released is not None:
            # Twilio takes a released number out of its Messaging Service: the pipeline says so.
            clinic_number_changed(clinic_id=released.id)
    return Released(sid=phone_sid, phone_number=phone_number, clinic_id=clinic.id if clinic else None, already_released=already)


def _voice_number_release(clinic: Clinic, *, phone_sid: str) -> None:
    """Release the clinic's voice number (text-enable path: the number its published line
    forwards calls to) with its texting number `phone_sid`; Twilio's 'not found' counts as
    released. A non-retryable TwilioError marks the clinic failed before it is raised."""
    voice_sid = clinic.voice_number_sid or ""
    try:
        twilio.incoming_number_delete(voice_sid, account_sid=clinic.twilio_account_sid)
    except twilio.TwilioError as exc:
        if not exc.not_found:
            if not exc.retryable:
                clinic_services.clinic_number_release_fail(phone_sid=phone_sid, error=str(exc), code=exc.code)
            raise
    clinic_services.clinic_voice_number_released(clinic_id=clinic.id, phone_sid=voice_sid)


def number_release_give_up(*, phone_sid: str, error: str, code: int | None) -> None:
    """Retries ran out: the clinic keeps its number, in `failed`, with why and what to do."""
    clinic_services.clinic_number_release_fail(
        phone_sid=phone_sid, error=f"{error} The clinic keeps its number: release it again in a few minutes.", code=code
    )


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
