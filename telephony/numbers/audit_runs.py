"""An audit run for the Number audit page: asked for by staff, run by a task on the slow
queue, its result kept; and what its findings look like after the repairs staff made
since (each finding a repair resolved, or one whose work waits for the task queue, says so).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from clinics.dates import datetime_for_people
from clinics.models import NumberEvent
from telephony import task_names
from telephony.models import AuditRun, Operation
from telephony.numbers.audit import number_audit
from telephony.numbers.doctor import config_check
from telephony.numbers.findings import FIX_ADOPT, FIX_WEBHOOKS
from telephony.queue import QUEUED_FOR_RESEND, task_send_on_commit


def audit_run_request(*, requested_by: Any) -> AuditRun:
    """Create a queued AuditRun and send the audit task after commit; the run."""
    run = AuditRun.objects.create(requested_by=requested_by, progress="Queued…")
    task_send_on_commit(task_names.RUN_NUMBER_AUDIT, run.id)
    return run


def audit_run_execute(*, audit_run_id: int) -> None:
    """Run config and number checks for an AuditRun row, recording progress and findings."""
    AuditRun.objects.filter(pk=audit_run_id).update(progress="Checking configuration and credentials…")
    config = config_check()
    AuditRun.objects.filter(pk=audit_run_id).update(progress="Listing the account's numbers and comparing with clinics…")
    numbers = number_audit()
    result = numbers.as_dict()
    result["findings"] = [f.as_dict() for f in config] + result["findings"]
    AuditRun.objects.filter(pk=audit_run_id).update(
        status=AuditRun.Status.DONE if numbers.success else AuditRun.Status.FAILED,
        progress=numbers.error or f"Checked {numbers.numbers_checked} numbers and {numbers.clinics_checked} clinics.",
        finished_at=timezone.now(),
        result=result,
    )


# What was done about a finding since its audit, by kind of finding: the history events
# that resolve it (issue 16: the audit page re-renders from the new state after each action).
_RESOLVED_BY = {
    FIX_WEBHOOKS: (NumberEvent.Kind.WEBHOOKS_UPDATED, "Fixed"),
    FIX_ADOPT: (NumberEvent.Kind.ADOPTED, "Adopted"),
    "orphan": (NumberEvent.Kind.RELEASED, "Released"),
}


def audit_findings_now(*, run: AuditRun) -> list[dict[str, Any]]:
    """The run's findings, each with `resolved`: "" while still open, else a sentence
    ("Fixed at 2 Dec 2026, 11:05 CST by ana.") from the number history written since the
    run finished, and `queued`: what was asked for the number and waits for the task
    queue, which did not take it ("" if nothing); two queries whatever the number of findings."""
    findings = [dict(f) for f in (run.result or {}).get("findings", [])]
    since = run.finished_at or run.started_at
    sids = {f["sid"] for f in findings if f.get("sid")}
    latest: dict[tuple[str, str], NumberEvent] = {}
    queued = set(
        Operation.objects.filter(phone_sid__in=sids, status=Operation.Status.PENDING, send_failed_at__isnull=False).values_list(
            "phone_sid", flat=True
        )
    )
    for finding in findings:
        finding["queued"] = f"Asked, but {QUEUED_FOR_RESEND}." if finding.get("sid") in queued else ""
    if sids:
        kinds = [kind for kind, _ in _RESOLVED_BY.values()] + [NumberEvent.Kind.RELEASE_REQUESTED]
        events = NumberEvent.objects.filter(phone_sid__in=sids, kind__in=kinds, created_at__gte=since)
        for row in events.select_related("actor").order_by("created_at", "id"):
            latest[(row.phone_sid, row.kind)] = row
    for finding in findings:
        finding["resolved"] = ""
        rule = _RESOLVED_BY.get(finding.get("fixable") or finding["code"])
        if rule is None or not finding.get("sid"):
            continue
        kind, verb = rule
        event: NumberEvent | None = latest.get((finding["sid"], kind))
        # A release is done by the worker; who asked for it is on the request's event.
        asked = latest.get((finding["sid"], NumberEvent.Kind.RELEASE_REQUESTED)) if kind == NumberEvent.Kind.RELEASED else None
        if event is None and asked is not None:
            event, verb = asked, "Release requested"
        if event is None:
            continue
        actor = event.actor or (asked.actor if asked else None)
        by = f" by {actor.get_username()}" if actor else ""
        finding["resolved"] = f"{verb} at {datetime_for_people(event.created_at)}{by}."
    return findings
