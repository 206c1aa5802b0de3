"""Beat's retention run: what is older than MESSAGE_RETENTION_DAYS is redacted, here and at Twilio.

Here, in one UPDATE per batch: a text's `body` and `reply` are emptied, a call's caller
number (the patient's side: `from` inbound, `to` outbound) is masked to its last four digits,
and `redacted_at` says when. Then Twilio's copy, in the account that owns it (the clinic's
subaccount, or the main account): a text's body is redacted (POST Messages/{Sid}.json with
an empty Body) and a call record deleted (DELETE Calls/{Sid}.json); telephony.twilio.records
says what Twilio documents. Twilio's answer decides what happens next:
- done (or 20404: Twilio holds no such record any more): `twilio_redacted_at` is set;
- 20009, not final yet: asked again on a later run (counted as waiting);
- another refusal: its sentence is kept on the row, asked again on later runs after the
  rows not tried yet;
- rate limit, Twilio's 5xx, the network: this run stops asking Twilio; the next one goes on.
We keep no recordings (the voice webhook records nothing), so there are none to delete.

Paced: at most RETENTION_BATCH_SIZE texts and as many calls per run, here and at Twilio.
Idempotent: a row redacted here or at Twilio is never picked again; a second run with
nothing new does nothing. Counted: each run returns its counts (logged by the task), and
retention_backlog says what is left (the doctor reports it).
"""

from __future__ import annotations

import datetime
import logging
import re
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db.models import Count, F, Max, Q
from django.utils import timezone

from clinics.dates import datetime_for_people
from clinics.models import Clinic
from telephony import twilio
from telephony.models import CallLog, MessageLog
from telephony.retention.departures import departed_clinics_due, departed_clinics_purge

logger = logging.getLogger(__name__)

# A call's patient side is the caller of an inbound call, the callee of an outbound one
# (Twilio's directions: inbound, outbound-api, outbound-dial).
OUTBOUND_PREFIX = "outbound"


@dataclass(frozen=True)
class RetentionRun:
    """What one run did."""

    messages_redacted: int = 0
    calls_redacted: int = 0
    twilio_redacted: int = 0
    twilio_waiting: int = 0
    twilio_failed: int = 0
    clinics_purged: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class RetentionBacklog:
    """What is left to do: past the retention period and not redacted here (overdue: more than
    a day past it, which one hourly run after another should never leave), waiting for Twilio
    (and how many of those Twilio refused last time), and departed clinics due a purge."""

    overdue_here: int
    twilio_pending: int
    twilio_refused: int
    purges_due: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def retention_cutoff(now: datetime.datetime) -> datetime.datetime:
    """Rows created before this are past the retention period at `now`."""
    return now - datetime.timedelta(days=settings.MESSAGE_RETENTION_DAYS)


def number_mask(number: str) -> str:
    """A phone number reduced to its last four digits ("…1234"); "" for none."""
    digits = re.sub(r"\D", "", number)
    return f"…{digits[-4:]}" if digits else ""


def retention_run(*, now: datetime.datetime | None = None, batch: int | None = None) -> RetentionRun:
    """One run: redact a batch here, ask Twilio about a batch, purge departed clinics that are due."""
    now = now or timezone.now()
    batch = batch or settings.RETENTION_BATCH_SIZE
    messages, calls = _redact_here(now=now, batch=batch)
    redacted, waiting, failed = _redact_at_twilio(now=now, batch=batch)
    run = RetentionRun(
        messages_redacted=messages,
        calls_redacted=calls,
        twilio_redacted=redacted,
        twilio_waiting=waiting,
        twilio_failed=failed,
        clinics_purged=departed_clinics_purge(now=now),
    )
    logger.info("Retention run: %s", run.as_dict())
    return run


def _redact_here(*, now: datetime.datetime, batch: int) -> tuple[int, int]:
    cutoff = retention_cutoff(now)
    due = Q(redacted_at__isnull=True, created_at__lt=cutoff)
    message_ids = list(MessageLog.objects.filter(due).order_by("created_at").values_list("id", flat=True)[:batch])
    # redacted_at IS NULL again in the UPDATE: a run racing this one redacts each row once.
    messages = MessageLog.objects.filter(due, id__in=message_ids).update(body="", reply="", redacted_at=now)
    calls = list(CallLog.objects.filter(due).order_by("created_at").only("id", "direction", "from_number", "to_number")[:batch])
    for call in calls:
        if call.direction.startswith(OUTBOUND_PREFIX):
            call.to_number = number_mask(call.to_number)
        else:
            call.from_number = number_mask(call.from_number)
        call.redacted_at = now
    CallLog.objects.bulk_update(calls, ["from_number", "to_number", "redacted_at"])
    return messages, len(calls)


def _twilio_pending(model: type[MessageLog] | type[CallLog]):
    return model.objects.filter(redacted_at__isnull=False, twilio_redacted_at__isnull=True)


def _redact_at_twilio(*, now: datetime.datetime, batch: int) -> tuple[int, int, int]:
    """Ask Twilio about up to `batch` texts and `batch` calls redacted here: (done, waiting, failed)."""
    done = waiting = failed = 0
    kinds = (
        (MessageLog, "message_sid", twilio.message_body_redact),
        (CallLog, "call_sid", twilio.call_record_delete),
    )
    for model, sid_field, redact in kinds:
        rows = (
            _twilio_pending(model)
            .select_related("clinic")
            .only("id", sid_field, "clinic__twilio_account_sid")
            .order_by(F("twilio_redaction_tried_at").asc(nulls_first=True), "id")[:batch]
        )
        for row in rows:
            account = row.clinic.twilio_account_sid if row.clinic else ""
            changes: dict[str, object] = {"twilio_redaction_tried_at": now, "twilio_redaction_error": ""}
            try:
                redact(sid=getattr(row, sid_field), account_sid=account)
            except twilio.TwilioError as exc:
                if exc.code == twilio.ERR_NOT_FOUND:
                    changes["twilio_redacted_at"] = now  # nothing left at Twilio to redact
                    done += 1
                elif exc.code == twilio.ERR_NOT_COMPLETE:
                    changes["twilio_redaction_error"] = str(exc)[:300]
                    waiting += 1
                else:
                    changes["twilio_redaction_error"] = str(exc)[:300]
                    failed += 1
                model.objects.filter(pk=row.pk).update(**changes)
                if exc.retryable:
                    return done, waiting, failed  # rate-limited or Twilio/network trouble: the next run goes on
                continue
            changes["twilio_redacted_at"] = now
            model.objects.filter(pk=row.pk).update(**changes)
            done += 1
    return done, waiting, failed


def retention_backlog(*, now: datetime.datetime | None = None) -> RetentionBacklog:
    """What the retention run has left to do at `now` (the doctor reports it)."""
    now = now or timezone.now()
    overdue = Q(redacted_at__isnull=True, created_at__lt=retention_cutoff(now) - datetime.timedelta(days=1))
    refused = Q(twilio_redaction_tried_at__isnull=False) & ~Q(twilio_redaction_error="")
    # One count of each kind's rows waiting for Twilio, with those it refused among them.
    pending = [
        _twilio_pending(model).aggregate(waiting=Count("id"), refused=Count("id", filter=refused))
        for model in (MessageLog, CallLog)
    ]
    return RetentionBacklog(
        overdue_here=MessageLog.objects.filter(overdue).count() + CallLog.objects.filter(overdue).count(),
        twilio_pending=sum(counts["waiting"] for counts in pending),
        twilio_refused=sum(counts["refused"] for counts in pending),
        purges_due=len(departed_clinics_due(now=now - datetime.timedelta(days=1))),
    )


def clinic_redaction_summary(*, clinic: Clinic) -> str:
    """One line for the clinic's page: how many of its texts and calls were redacted, up to
    which date, and how many of those at Twilio too."""
    days = settings.MESSAGE_RETENTION_DAYS
    figures = {}
    for name, model in (("texts", MessageLog), ("calls", CallLog)):
        figures[name] = model.objects.filter(clinic_id=clinic.pk, redacted_at__isnull=False).aggregate(
            count=Count("id"), at_twilio=Count("id", filter=Q(twilio_redacted_at__isnull=False)), up_to=Max("created_at")
        )
    texts, calls = figures["texts"], figures["calls"]
    if not texts["count"] and not calls["count"]:
        return f"Nothing redacted yet: texts and callers' numbers are kept {days} days, then redacted here and at Twilio."
    up_to = max(d for d in (texts["up_to"], calls["up_to"]) if d is not None)
    return (
        f"{texts['count']} text(s) and {calls['count']} call(s) redacted (everything up to "
        f"{datetime_for_people(up_to, clinic.time_zone)}; kept {days} days); at Twilio too: "
        f"{texts['at_twilio']} text(s) and {calls['at_twilio']} call(s), the rest on a later run."
    )
