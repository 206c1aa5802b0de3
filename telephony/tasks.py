"""Celery tasks: thin wrappers that take ids and plain values and call twilio_service.

Transient Twilio trouble (429/20429, 5xx, timeouts, connection errors) is retried with
exponential backoff and jitter up to MAX_RETRIES; other 4xx errors are final at once.
When retries run out the clinic is marked failed with a message staff can act on.
"""

import random
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task

from clinics import services as clinic_services

from . import twilio_service

MAX_RETRIES = 6
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0


def backoff_seconds(retries: int) -> float:
    """Exponential backoff with full jitter: up to base * 2**retries, capped."""
    return random.uniform(0, min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2**retries))


def _retry_or_give_up(task: Task, result: dict[str, Any], give_up: Callable[[str], None]) -> dict[str, Any]:
    if result["success"] or not result.get("retryable"):
        return result
    if task.request.retries >= task.max_retries:
        give_up(f"{result['error']} Gave up after {task.max_retries} retries; try again later.")
        return result
    raise task.retry(countdown=backoff_seconds(task.request.retries))


@shared_task(bind=True, max_retries=MAX_RETRIES)
def provision_number(self: Task, clinic_id: int, area_code: str, friendly_name: str | None = None) -> dict[str, Any]:
    """Buy and set up the clinic's number (idempotent; see provision_clinic_number)."""
    result = twilio_service.provision_clinic_number(clinic_id, area_code, friendly_name)
    return _retry_or_give_up(
        self,
        result,
        lambda error: clinic_services.clinic_number_provision_fail(clinic_id=clinic_id, error=error, code=result["code"]),
    )


@shared_task(bind=True, max_retries=MAX_RETRIES)
def release_number(self: Task, phone_sid: str) -> dict[str, Any]:
    """Release a number at Twilio and clear it from its clinic (safe to repeat)."""
    result = twilio_service.release_number(phone_sid)
    return _retry_or_give_up(
        self,
        result,
        lambda error: clinic_services.clinic_number_release_fail(phone_sid=phone_sid, error=error, code=result["code"]),
    )


@shared_task(bind=True, max_retries=MAX_RETRIES)
def release_clinic_number(self: Task, clinic_id: int, phone_sid: str) -> dict[str, Any]:
    """Release the number a clinic holds; refuses a SID that is not that clinic's."""
    result = twilio_service.release_number(phone_sid, clinic_id=clinic_id)
    return _retry_or_give_up(
        self,
        result,
        lambda error: clinic_services.clinic_number_release_fail(phone_sid=phone_sid, error=error, code=result["code"]),
    )


@shared_task(bind=True, max_retries=MAX_RETRIES)
def update_number_webhooks(self: Task, phone_sid: str) -> dict[str, Any]:
    """Point a number's webhooks at today's API_BASE_URL."""
    result = twilio_service.update_number_webhooks(phone_sid)
    return _retry_or_give_up(self, result, lambda error: None)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def send_appointment_reminder(self: Task, appointment_id: int) -> dict[str, Any]:
    """Text an appointment reminder (skips opted-out patients)."""
    from . import messaging

    result = messaging.reminder_send(appointment_id=appointment_id)
    return _retry_or_give_up(self, result, lambda error: None)


@shared_task
def redrive_stuck_clinics() -> int:
    """Periodic (Celery beat): resend the work of clinics stuck in provisioning or releasing.

    Covers a task lost between our commit and the broker, or dropped by it. The tasks
    are idempotent, so re-sending one that is merely slow buys nothing twice.
    """
    count = 0
    for clinic in clinic_services.clinics_stuck_claim():
        if clinic.number_state == "provisioning":
            provision_number.delay_on_commit(clinic.id, clinic.requested_area_code, clinic.requested_friendly_name or None)
        elif clinic.twilio_number_sid:
            release_clinic_number.delay_on_commit(clinic.id, clinic.twilio_number_sid)
        count += 1
    return count


@shared_task
def run_number_audit(audit_run_id: int) -> None:
    """Run the number audit and store its findings on the AuditRun (long audits run here)."""
    from . import audit

    audit.audit_run_execute(audit_run_id=audit_run_id)


@shared_task
def adopt_orphan_number(clinic_id: int, phone_sid: str, phone_number: str) -> str:
    """Adopt an orphan number for the clinic its name identifies."""
    from . import audit

    return audit.adopt_orphan(clinic_id=clinic_id, phone_sid=phone_sid, phone_number=phone_number)
