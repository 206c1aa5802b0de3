"""Follow-up work sent to Celery after the database change that asked for it commits.

Workflows name tasks ("telephony.tasks.provision_number") instead of importing them,
so tasks can import workflows and never the other way round. The task is looked up in
the Celery app's registry when it is sent, which also works in eager mode (the task
runs in-process) because `telephony.apps` imports the tasks module at start-up.

The database change is already committed when the send happens, so a broker that is
down or hung never turns into an error for the user: the send is bounded (broker
socket timeouts and one publish retry, see the Celery section of settings), logged,
and marked on the durable record of the work so that beat's next tick re-sends it
(telephony.tasks.redrive_stuck_clinics): the clinic (`send_failed_at`) for its purchase
or release, else the Operation recorded with the request (operation_send_on_commit).
After a failed send, this process does not try the same broker again for
BROKER_SKIP_SECONDS: an admin action over many clinics with Redis hung answers within
one send timeout, not one per clinic.

Work that anyone outside can ask for again and again (a replayed Twilio callback) is sent
coalesced (`task_send_coalesced_on_commit`): one task per key at once, at most one more
after the cooldown, whatever arrives in between. The claims live in Django's cache,
shared by every process when CACHE_URL points at Redis.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from celery import current_app
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import DatabaseError, transaction
from kombu.exceptions import OperationalError

from clinics import services as clinic_services
from telephony import operations
from telephony.models import Operation

logger = logging.getLogger(__name__)

# What a broker outage raises from apply_async: kombu wraps redis-py's connection and
# timeout errors in OperationalError; a raw socket error may also surface.
BROKER_ERRORS = (OperationalError, OSError)
# Seconds during which sends to a broker that just failed are not tried (marked for
# re-send at once instead); shorter than beat's 2-minute tick, which re-sends them.
BROKER_SKIP_SECONDS = 10.0
# Broker URL -> time.monotonic() of its last failed send, in this process.
_broker_failed_at: dict[str, float] = {}
# What staff are told when the task queue did not take their work (kept, and re-sent by beat).
QUEUED_FOR_RESEND = "the task queue did not take it: it is queued for re-send and will run when the task queue answers again"


def task_send(
    task_name: str,
    args: tuple[Any, ...],
    *,
    clinic_id: int | None = None,
    operation_id: int | None = None,
    countdown: float | None = None,
) -> bool:
    """Send the task now (to run after `countdown` seconds if given); False (logged, and
    marked on the clinic or operation if given) when the broker failed."""
    app = current_app
    task = app.tasks[task_name]
    # Eager mode has no broker to wait for (tasks run in-process).
    broker = None if app.conf.task_always_eager else (app.conf.broker_write_url or "")
    failed_at = _broker_failed_at.get(broker) if broker is not None else None
    if failed_at is not None and time.monotonic() - failed_at < BROKER_SKIP_SECONDS:
        return _not_sent(task_name, args, clinic_id, operation_id, "a send to it failed moments ago")
    try:
        if countdown is None:
            task.apply_async(args)
        else:
            task.apply_async(args, countdown=countdown)
    except BROKER_ERRORS as exc:
        if broker is not None:
            _broker_failed_at[broker] = time.monotonic()
        return _not_sent(task_name, args, clinic_id, operation_id, exc)
    _broker_failed_at.pop(broker or "", None)
    return True


def _not_sent(task_name: str, args: tuple[Any, ...], clinic_id: int | None, operation_id: int | None, why: object) -> bool:
    logger.error("Task queue unreachable, %s%r not sent (queued for re-send): %s", task_name, args, why)
    try:
        if clinic_id is not None:
            clinic_services.clinic_send_failed_mark(clinic_id=clinic_id)
        if operation_id is not None:
            operations.operation_send_failed(operation_id=operation_id)
    except DatabaseError:
        # The periodic re-drive still finds the work, later (as lost after its send).
        logger.exception("Could not mark %s%r for re-send", task_name, args)
    return False


def task_send_on_commit(task_name: str, *args: Any, clinic_id: int | None = None) -> None:
    """Send the task once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(functools.partial(task_send, task_name, args, clinic_id=clinic_id))


def task_claim(key: str, seconds: int) -> bool:
    """Claim `key` for `seconds`: True for the first to ask, False while someone holds it.

    One atomic cache `add` (Redis SET NX with an expiry when CACHE_URL is Redis), so two
    processes asking at once cannot both get it; nobody releases it, it expires.
    """
    return cache.add(_claim_cache_key(key), True, timeout=seconds)


def task_send_coalesced_on_commit(task_name: str, *args: Any, key: str, seconds: int, clinic_id: int | None = None) -> None:
    """Send the task after commit, coalesced per `key` over `seconds`.

    The first request sends it at once and claims `key` for `seconds`; a request during
    that claim sends one more with a countdown of `seconds` (so whatever it brought is
    acted on, after the cooldown); requests while that one is pending send nothing. So
    any number of requests make at most two tasks per `seconds`, and none is lost.
    """
    transaction.on_commit(functools.partial(_coalesced_send, task_name, args, key, seconds, clinic_id))


def _coalesced_send(task_name: str, args: tuple[Any, ...], key: str, seconds: int, clinic_id: int | None) -> bool:
    if task_claim(key, seconds):
        claim, countdown = key, None
    elif task_claim(f"{key}:next", seconds):
        claim, countdown = f"{key}:next", float(seconds)
    else:
        logger.debug("%s%r not sent: one is sent and one more is due after the cooldown", task_name, args)
        return False
    if task_send(task_name, args, clinic_id=clinic_id, countdown=countdown):
        return True
    cache.delete(_claim_cache_key(claim))  # nothing was queued: the next request may send it
    return False


def _claim_cache_key(key: str) -> str:
    return f"task-claim:{key}"


def operation_send_on_commit(
    task_name: str,
    *args: Any,
    clinic_id: int | None = None,
    phone_sid: str = "",
    phone_number: str = "",
    actor: User | None = None,
) -> Operation:
    """Record the work as an Operation in the current transaction, and send its task once
    that commits; the Operation (re-read it after the commit to see whether it was sent)."""
    operation = operations.operation_record(
        task_name=task_name, args=args, clinic_id=clinic_id, phone_sid=phone_sid, phone_number=phone_number, actor=actor
    )
    transaction.on_commit(functools.partial(task_send, task_name, args, operation_id=operation.pk))
    return operation
