"""An audit run for the Number audit page: asked for by staff or beat (the sweep, the
background safety net), run by a task on the slow queue over every account in bounded
parallel, resumable, its progress and result kept; and what its findings look like after the repairs staff made
since (each finding a repair resolved, or one whose work waits for the task queue, says so).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils import timezone

from clinics.dates import datetime_for_people
from clinics.models import NumberEvent
from telephony import fleet, task_names, twilio
from telephony.models import AccountAudit, AuditRun, Operation
from telephony.numbers import audit, inventory
from telephony.numbers.doctor import config_check
from telephony.numbers.findings import FIX_ADOPT, FIX_WEBHOOKS, AuditResult, Finding
from telephony.queue import QUEUED_FOR_RESEND, task_send_on_commit


def audit_run_request(*, requested_by: Any) -> AuditRun:
    """Send the audit task after commit; the run. An unfinished run (its worker was killed, or
    the sweep is under way) is resumed rather than started again from zero."""
    run = AuditRun.objects.filter(status=AuditRun.Status.RUNNING).first()
    if run is None:
        run = AuditRun.objects.create(requested_by=requested_by, progress="Queued…")
    task_send_on_commit(task_names.RUN_NUMBER_AUDIT, run.id)
    return run


def audit_run_last_complete() -> AuditRun | None:
    """The latest finished run, whose findings the page shows while another sweep runs; else
    the latest run (one still running, with nothing to show yet)."""
    return AuditRun.objects.exclude(status=AuditRun.Status.RUNNING).first() or AuditRun.objects.first()


def audit_run_execute(*, audit_run_id: int) -> None:
    """The sweep: config checks, then every account listed in bounded parallel
    (telephony/fleet.py), FLEET_AUDIT_BATCH accounts at a time, each batch's listings kept per
    account (AccountAudit) with the run's progress; then the findings over all the listings.

    Run again for the same run (the task redelivered after its worker died, or Run audit
    pressed again), it lists only the accounts the run has not listed yet. Queries: a few per
    batch, none per account.
    """
    runs = AuditRun.objects.filter(pk=audit_run_id)
    runs.update(progress="Checking configuration and credentials…")
    config = config_check()
    try:
        subaccounts = twilio.subaccounts_list()
    except twilio.TwilioError as exc:
        _finish(audit_run_id, AuditResult(success=False, findings=[], error=str(exc)), config)
        return
    jobs = inventory.account_jobs(subaccounts)
    done = set(AccountAudit.objects.filter(sweep_id=audit_run_id).values_list("account_sid", flat=True)) & set(jobs)
    todo = [sid for sid in jobs if sid not in done]
    errors: dict[str, str] = {}
    count = len(done)
    runs.update(accounts_total=len(jobs), accounts_done=count, progress=_progress(count, len(jobs)))
    batch = max(1, int(settings.FLEET_AUDIT_BATCH))
    for start in range(0, len(todo), batch):
        listed = fleet.accounts_fan_out({sid: jobs[sid] for sid in todo[start : start + batch]})
        main_error = listed.errors.get(settings.TWILIO_ACCOUNT_SID)
        if main_error is not None:
            _finish(audit_run_id, AuditResult(success=False, findings=[], error=str(main_error)), config)
            return
        errors.update({sid: str(exc) for sid, exc in listed.errors.items()})
        account_listings_save(listed.results.values(), sweep_id=audit_run_id)
        count += len(listed.results)
        runs.update(accounts_done=count, progress=_progress(count, len(jobs)))
    kept = {row.account_sid: row.listing for row in AccountAudit.objects.filter(sweep_id=audit_run_id)}
    listings = [inventory.AccountListing.from_json(sid, kept[sid]) for sid in jobs if sid in kept]
    unlisted = {sid: errors.get(sid, "it was not listed.") for sid in jobs if sid not in kept}
    _finish(audit_run_id, audit.fleet_audit(inventory.fleet_numbers_from(listings, subaccounts, unlisted)), config)


def account_listings_save(
    listings: Iterable[inventory.AccountListing], *, sweep_id: int | None, listed_at: datetime.datetime | None = None
) -> None:
    """Keep each account's listing (one upsert for them all), as listed at `listed_at` (now).
    With no `sweep_id` (a clinic's own audit) a kept row stays with its sweep: a sweep that
    already listed the account counts the fresher listing as its own."""
    at = listed_at or timezone.now()
    AccountAudit.objects.bulk_create(
        [AccountAudit(account_sid=x.account_sid, sweep_id=sweep_id, listed_at=at, listing=x.as_json()) for x in listings],
        update_conflicts=True,
        unique_fields=["account_sid"],
        update_fields=["listed_at", "listing"] + (["sweep"] if sweep_id is not None else []),
    )


def _progress(done: int, total: int) -> str:
    return f"Listed {done:,} of {total:,} accounts…"


def _finish(audit_run_id: int, numbers: AuditResult, config: list[Finding]) -> None:
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
        # No longer found by a clinic's own audit (clinic_audit.py); a repair since says who did it.
        cleared = finding.get("cleared_at")
        finding["resolved"] = (
            f"No longer found at {datetime_for_people(datetime.datetime.fromisoformat(cleared))}." if cleared else ""
        )
        rule = _RESOLVED_BY.get(finding.get("fixable") or finding["code"])
        if rule is None or not finding.get("sid"):
            continue
        kind, verb = rule
        event: NumberEvent | None = latest.get((finding["sid"], kind))
        # A release is done by the worker; who asked for it is on the request's event.
        asked = latest.get((finding["sid"], NumberEvent.Kind.RELEASE_REQUESTED)) if kind == NumberEvent.Kind.RELEASED else None
        if event is None and asked is not None:
            event, verb = asked, "Release requested"
        # A finding a clinic's own audit put in later (clinic_audit.py) is resolved only by what came after it.
        checked = finding.get("checked_at")
        if checked and event is not None and event.created_at < datetime.datetime.fromisoformat(checked):
            event = None
        if event is None:
            continue
        actor = event.actor or (asked.actor if asked else None)
        by = f" by {actor.get_username()}" if actor else ""
        finding["resolved"] = f"{verb} at {datetime_for_people(event.created_at)}{by}."
    return findings
