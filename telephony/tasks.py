"""Celery tasks: thin. Ids and plain values in, one workflow call, a dict out.

Retry policy, declared on each task (`autoretry_for`, `retry_backoff`, `retry_jitter`,
`max_retries`; https://docs.celeryq.dev/en/stable/userguide/tasks.html#automatic-retry-for-known-exceptions):
transient trouble (Twilio 429/20429, 5xx, timeouts, connection errors; a purchase that
must wait; a database error, e.g. after Twilio answered) is retried with exponential
backoff and full jitter, up to MAX_RETRIES; other Twilio 4xx are final at once. When
retries run out the clinic is marked failed with a message staff can act on. A retried
or redelivered provisioning task resumes with the number reserved on the clinic row,
adopting it if the purchase went through, so nothing is bought twice.

The database unreachable is not a failure of the work: such a task is sent again every
15 to 30 s without spending its retries, for TASK_OUTAGE_RETRY_SECONDS (12 minutes: it
rides out a 10-minute outage), then it stops without touching the database. By then
beat's re-drive counts the work as stuck and re-sends it once the database answers
(telephony.numbers.redrive.stuck_work_resend).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from celery.exceptions import Retry
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone

from telephony import operations, task_names, twilio_service
from telephony.a2p import polling as a2p_polling
from telephony.a2p import registration as registration_workflows
from telephony.a2p import texting as messaging
from telephony.numbers import (
    audit_runs,
    clinic_audit,
    hosted,
    porting_in,
    provisioning,
    redrive,
    release,
    repairs,
    subaccounts,
    usage,
)
from telephony.queue import BROKER_ERRORS
from telephony.retention import redaction
from telephony.twilio import TRUST_HUB_PACE_SECONDS, TwilioError
from telephony.webhooks import fallbacks

logger = logging.getLogger(__name__)

MAX_RETRIES = 6
BACKOFF_BASE_SECONDS = 2
# The cap on a retry's countdown; the Redis visibility timeout is computed from it (settings).
BACKOFF_MAX_SECONDS = settings.TASK_RETRY_COUNTDOWN_MAX_SECONDS

# What autoretry_for retries (a TwilioError that is not retryable is answered before).
TRANSIENT = (TwilioError, provisioning.RetryLater, DatabaseError, InterfaceError)
RETRY_POLICY: dict[str, Any] = {
    "bind": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": BACKOFF_BASE_SECONDS,
    "retry_backoff_max": BACKOFF_MAX_SECONDS,
    "retry_jitter": True,
    "max_retries": MAX_RETRIES,
}


def backoff_seconds(retries: int) -> float:
    """The countdown before retry number `retries` + 1: what `retry_backoff` computes (full jitter, capped)."""
    return get_exponential_backoff_interval(
        factor=BACKOFF_BASE_SECONDS, retries=retries, maximum=BACKOFF_MAX_SECONDS, full_jitter=True
    )


# The database unreachable (down, restarting, or not answering within DATABASE_CONNECT_TIMEOUT).
OUTAGE = (OperationalError, InterfaceError)
# Message headers a task carries while it waits out an outage (kept by Celery's retries).
OUTAGE_SINCE, OUTAGE_TRIES = "dentsignal_outage_since", "dentsignal_outage_tries"


def _outcome(task: Task, work: Callable[[], dict[str, Any]], give_up: Callable[[str, int | None], None]) -> dict[str, Any]:
    """Run `work`; a final failure is returned as a failure dict, a transient one raised to autoretry.

    On the last attempt a transient failure calls `give_up(sentence, code)` and is
    returned instead of raised. The outcome is recorded on the Operation waiting for this
    work, if any (telephony.operations), unless the result says another run is at it
    (`in_progress`). The database unreachable, in the work, the give-up or that record,
    is waited out (_outage_wait) instead.
    """
    try:
        result = _attempt(task, work, give_up)
        if not result.get("in_progress"):
            operations.operation_finish(task_name=task.name, args=task.request.args or (), result=result)
        return result
    except OUTAGE as exc:
        return _outage_wait(task, exc)


def _attempt(task: Task, work: Callable[[], dict[str, Any]], give_up: Callable[[str, int | None], None]) -> dict[str, Any]:
    """One run of `work` under the retry policy (see _outcome); the database unreachable is raised."""
    try:
        return work()
    except OUTAGE:
        raise
    except TRANSIENT as exc:
        if isinstance(exc, TwilioError) and not exc.retryable:
            return twilio_service.failure_from(exc)
        if task.max_retries is None or task.request.retries < task.max_retries:
            when = retry_when(exc)
            if when is not None:
                raise task.retry(exc=exc, countdown=when) from exc
            raise
        result = {**twilio_service.failure_from(exc), "error": given_up_sentence(exc, tries=task.max_retries + 1)}
        give_up(result["error"], result["code"])
        return result
    except twilio_service.EXPECTED_FAILURES as exc:
        return twilio_service.failure_from(exc)


def retry_when(exc: Exception) -> float | None:
    """The countdown of the retry when the failure says when to try again (capped like the
    backoff): a wait with a known end (RetryLater.after_seconds: a subaccount create's lease
    runs out then) or Twilio's Retry-After on a 429 or 503. None: the policy's backoff."""
    if isinstance(exc, provisioning.RetryLater):
        when = exc.after_seconds
    elif isinstance(exc, TwilioError):
        when = exc.retry_after
    else:
        when = None
    return None if when is None else min(float(when), float(BACKOFF_MAX_SECONDS))


def given_up_sentence(exc: Exception, *, tries: int) -> str:
    """What staff read once `tries` attempts all failed with a transient `exc`: what kept
    happening, and that nobody tries any more (the give-up callback says what state it left)."""
    if isinstance(exc, TwilioError):
        return exc.given_up(tries=tries)
    if isinstance(exc, provisioning.RetryLater):
        return f"{exc} It was tried {tries} times; DentSignal stopped trying."
    return f"The database refused the change {tries} times in a row; DentSignal stopped trying."


def _outage_wait(task: Task, exc: Exception) -> dict[str, Any]:
    """Send this task again in half to one TASK_OUTAGE_RETRY_COUNTDOWN_MAX_SECONDS (its retries
    untouched) while the database has been unreachable for less than
    TASK_OUTAGE_RETRY_SECONDS; after that, or in eager mode once its retries are spent,
    stop without the database and leave the work to the re-drive.
    """
    headers = dict(task.request.headers or {})
    since = float(headers.get(OUTAGE_SINCE) or time.time())
    tries = int(headers.get(OUTAGE_TRIES) or 0)
    if task.request.is_eager:
        # In-process: no broker to wait on; retried at once like any transient error.
        if task.max_retries is None or task.request.retries < task.max_retries:
            raise exc
    elif time.time() - since < settings.TASK_OUTAGE_RETRY_SECONDS:
        # Equal jitter: at least half the capped backoff, so a long outage costs each
        # waiting task one try every 15-30 s, not a burst.
        ceiling = min(float(settings.TASK_OUTAGE_RETRY_COUNTDOWN_MAX_SECONDS), BACKOFF_BASE_SECONDS * 2.0**tries)
        countdown = ceiling / 2 + random.uniform(0, ceiling / 2)
        headers.update({OUTAGE_SINCE: since, OUTAGE_TRIES: tries + 1})
        again = task.signature_from_request(countdown=countdown, headers=headers)
        try:
            again.apply_async()
        except BROKER_ERRORS:
            logger.exception("Task queue unreachable too: %s%r left to the re-drive", task.name, task.request.args)
        else:
            raise Retry(exc=exc, when=timezone.now() + timedelta(seconds=countdown), sig=again)
    logger.error(
        "Database unreachable since %.0f s ago: %s%r stopped, left to the re-drive: %s",
        time.time() - since,
        task.name,
        task.request.args,
        exc,
    )
    return {
        "success": False,
        "error": "The database was unreachable; the work is kept and will be re-sent once the database answers.",
        "code": None,
    }


def _no_give_up(error: str, code: int | None) -> None:
    """Nothing to mark: the failure is returned (and logged by Celery)."""


@shared_task(name=task_names.PROVISION_NUMBER, **RETRY_POLICY)
def provision_number(self: Task, clinic_id: int, area_code: str, friendly_name: str | None = None) -> dict[str, Any]:
    """Buy and set up the clinic's number (idempotent; see provisioning.clinic_number_provision_run)."""
    return _outcome(
        self,
        lambda: twilio_service.provisioned_dict(
            provisioning.clinic_number_provision_run(clinic_id=clinic_id, area_code=area_code, friendly_name=friendly_name)
        ),
        lambda error, code: provisioning.clinic_number_provision_give_up(clinic_id=clinic_id, error=error, code=code),
    )


@shared_task(name=task_names.RELEASE_NUMBER, **RETRY_POLICY)
def release_number(self: Task, phone_sid: str) -> dict[str, Any]:
    """Release a number at Twilio and clear it from its clinic (safe to repeat)."""
    return _outcome(
        self,
        lambda: twilio_service.released_dict(release.number_release_run(phone_sid=phone_sid)),
        lambda error, code: release.number_release_give_up(phone_sid=phone_sid, error=error, code=code),
    )


@shared_task(name=task_names.RELEASE_CLINIC_NUMBER, **RETRY_POLICY)
def release_clinic_number(self: Task, clinic_id: int, phone_sid: str) -> dict[str, Any]:
    """Release the number a clinic holds; refuses a SID that is not that clinic's."""
    return _outcome(
        self,
        lambda: twilio_service.released_dict(release.number_release_run(phone_sid=phone_sid, clinic_id=clinic_id)),
        lambda error, code: release.number_release_give_up(phone_sid=phone_sid, error=error, code=code),
    )


@shared_task(name=task_names.UPDATE_NUMBER_WEBHOOKS, **RETRY_POLICY)
def update_number_webhooks(self: Task, phone_sid: str) -> dict[str, Any]:
    """Point a number's webhooks at today's API_BASE_URL."""
    return _outcome(
        self,
        lambda: twilio_service.webhooks_updated_dict(repairs.number_webhooks_update_run(phone_sid=phone_sid)),
        _no_give_up,
    )


@shared_task(name=task_names.MOVE_NUMBER_TO_SUBACCOUNT, **RETRY_POLICY)
def move_number_to_subaccount(self: Task, clinic_id: int) -> dict[str, Any]:
    """Move a clinic's number from the main account into its own subaccount (resumable)."""

    def work() -> dict[str, Any]:
        try:
            clinic = subaccounts.clinic_number_move_run(clinic_id=clinic_id, claimant=self.request.id or "")
        except subaccounts.MoveInProgress as exc:
            # The run holding the move records its outcome; this one did nothing.
            return {"success": True, "in_progress": True, "message": str(exc)}
        return {"success": True, "step": clinic.number_move_step}

    return _outcome(self, work, lambda error, code: subaccounts.clinic_number_move_give_up(clinic_id=clinic_id, error=error))


@shared_task(name=task_names.REFRESH_CLINIC_USAGE, **RETRY_POLICY)
def refresh_clinic_usage(self: Task, clinic_id: int) -> dict[str, Any]:
    """Fetch and store this month's usage of the clinic's subaccount (telephony.numbers.usage)."""

    def work() -> dict[str, Any]:
        saved = usage.clinic_usage_refresh(clinic_id=clinic_id)
        return {"success": True, "fetched": saved is not None}

    return _outcome(self, work, _no_give_up)


@shared_task(name=task_names.REFRESH_ALL_USAGE)
def refresh_all_usage() -> int:
    """Beat, daily: one usage task per clinic with a subaccount."""
    return usage.usage_refresh_all()


@shared_task(name=task_names.SEND_APPOINTMENT_REMINDER, **RETRY_POLICY)
def send_appointment_reminder(self: Task, appointment_id: int) -> dict[str, Any]:
    """Text an appointment reminder (skips opted-out patients)."""
    return _outcome(
        self,
        lambda: messaging.reminder_send(appointment_id=appointment_id).as_dict(),
        lambda error, code: messaging.reminder_give_up(appointment_id=appointment_id, error=error),
    )


@shared_task(name=task_names.REDRIVE_STUCK_CLINICS)
def redrive_stuck_clinics() -> int:
    """Periodic (Celery beat, every REDRIVE_PERIOD_SECONDS): re-send the work whose send failed, that is stuck,
    or that an outage stranded (redrive.stuck_work_resend)."""
    return redrive.stuck_work_resend()


@shared_task(name=task_names.RUN_NUMBER_AUDIT)
def run_number_audit(audit_run_id: int) -> None:
    """Run the number audit and store its findings on the AuditRun (long audits run here)."""
    audit_runs.audit_run_execute(audit_run_id=audit_run_id)


@shared_task(name=task_names.NUMBER_AUDIT_SWEEP)
def number_audit_sweep() -> int:
    """Beat: the audit's full sweep over every account, the safety net behind each clinic's own
    audit after a change (an unfinished sweep is resumed); the run's id."""
    return audit_runs.audit_run_request(requested_by=None).id


@shared_task(name=task_names.CLINIC_NUMBER_AUDIT, **RETRY_POLICY)
def clinic_number_audit(self: Task, clinic_id: int) -> bool:
    """A clinic's own audit after a change of its number or account: its account listed again,
    the Number audit page's findings about it brought up to date (telephony.numbers.clinic_audit).
    A refusal that cannot pass is logged and left to the next sweep."""
    try:
        return clinic_audit.clinic_audit_run(clinic_id=clinic_id)
    except TwilioError as exc:
        if exc.retryable:
            raise
        logger.warning("Clinic %s's own audit could not list its account: %s", clinic_id, exc)
        return False


@shared_task(name=task_names.ADOPT_ORPHAN_NUMBER, **RETRY_POLICY)
def adopt_orphan_number(self: Task, clinic_id: int, phone_sid: str, phone_number: str) -> dict[str, Any]:
    """Adopt an orphan number for the clinic its name identifies; `message` says what happened."""
    return _outcome(
        self,
        lambda: {
            "success": True,
            "message": repairs.orphan_adopt_run(clinic_id=clinic_id, phone_sid=phone_sid, phone_number=phone_number),
        },
        _no_give_up,
    )


@shared_task(name=task_names.REPLAY_FALLBACK_SMS)
def replay_fallback_sms() -> int:
    """Periodic (Celery beat, every minute): process the texts the SMS fallback spooled
    while the database was down (each once; see fallbacks.fallback_sms_replay)."""
    return fallbacks.fallback_sms_replay()


@shared_task(name=task_names.REFRESH_ACCOUNT_TOKENS)
def refresh_account_tokens() -> int:
    """Periodic (Celery beat, every 10 minutes): rebuild the fallbacks' copy of the subaccount tokens."""
    return fallbacks.account_tokens_refresh()


@shared_task(name=task_names.REFRESH_OFFICE_LINES)
def refresh_office_lines() -> int:
    """Periodic (Celery beat, every 10 minutes): rebuild the voice fallback's office-line cache."""
    return fallbacks.office_lines_refresh()


# --------------------------------------------------------------------------- A2P 10DLC registration


@shared_task(name=task_names.A2P_REGISTRATION_ADVANCE, **RETRY_POLICY)
def a2p_registration_advance(self: Task, clinic_id: int) -> dict[str, Any]:
    """Run the clinic's due A2P registration steps (idempotent; see registration.registration_advance)."""

    def work() -> dict[str, Any]:
        registration = registration_workflows.registration_advance(clinic_id=clinic_id)
        return {"success": not registration.error, "error": registration.error, "code": registration.error_code}

    return _outcome(self, work, _no_give_up)


@shared_task(name=task_names.A2P_REGISTRATION_POLL, **RETRY_POLICY, rate_limit=f"{1 / TRUST_HUB_PACE_SECONDS:g}/s")
def a2p_registration_poll(self: Task, clinic_id: int) -> dict[str, Any]:
    """Poll one clinic's A2P reviews now: a Trust Hub status callback said one changed.

    Sent coalesced per clinic (telephony.a2p.polling.registration_poll_request), on the slow queue
    (settings.CELERY_TASK_ROUTES). At most one such task a second per worker (`rate_limit`,
    which Celery applies per worker node; one worker consumes the slow queue), so many
    clinics' callbacks arriving together stay within Trust Hub's ~1 request/s.
    """

    def work() -> dict[str, Any]:
        registration = a2p_polling.registration_poll(clinic_id=clinic_id)
        return {"success": not registration.error, "error": registration.error, "code": registration.error_code}

    return _outcome(self, work, _no_give_up)


@shared_task(
    name=task_names.A2P_REGISTRATIONS_POLL,
    # Its budget and the last polls it started (settings.A2P_POLL_TICK_TIME_LIMIT), not the default limit.
    time_limit=settings.A2P_POLL_TICK_TIME_LIMIT,
    soft_time_limit=settings.A2P_POLL_TICK_TIME_LIMIT - 20,
)
def a2p_registrations_poll() -> int:
    """Periodic (Celery beat, every A2P_POLL_INTERVAL_SECONDS): poll pending A2P reviews within the
    tick's budget, oldest look first, in parallel, paced for Trust Hub per account."""
    return a2p_polling.registrations_poll()


@shared_task(name=task_names.HOSTED_ORDER_PLACE, **RETRY_POLICY)
def hosted_order_place(self: Task, clinic_id: int) -> dict[str, Any]:
    """Place the clinic's recorded hosted SMS order at Twilio, once (telephony.numbers.hosted)."""

    def work() -> dict[str, Any]:
        order = hosted.hosted_order_place(clinic_id=clinic_id)
        return {"success": bool(order.sid), "sid": order.sid, "status": order.status}

    return _outcome(self, work, _no_give_up)


@shared_task(name=task_names.HOSTED_ORDERS_POLL)
def hosted_orders_poll() -> int:
    """Periodic (Celery beat, every 10 minutes): follow the hosted SMS orders not final yet."""
    return hosted.hosted_orders_poll()


# --------------------------------------------------------------------------- porting in


@shared_task(name=task_names.PORTS_IN_POLL)
def ports_in_poll() -> int:
    """Periodic (Celery beat, every 10 minutes): follow open port-ins, paced (telephony.numbers.porting_in)."""
    return porting_in.ports_in_poll()


@shared_task(name=task_names.REDACT_EXPIRED_RECORDS)
def redact_expired_records() -> dict[str, int]:
    """Beat, hourly: texts and calls past MESSAGE_RETENTION_DAYS redacted here and at Twilio, a
    batch of each per run, and departed clinics due a purge purged (telephony.retention). No
    retry: what a run leaves (Twilio busy, a text not final yet) the next run picks up."""
    return redaction.retention_run().as_dict()
