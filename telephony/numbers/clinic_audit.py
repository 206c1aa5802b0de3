"""A clinic's own audit, right after anything changed its number or account (the task that
changes.clinic_audit_request sends): its account alone is listed again, through the fleet
fan-out (Retry-After respected), that listing is kept (AccountAudit), and the Number audit
page's last complete result is brought up to date for that account, so the page is current
without a full sweep (the sweep, every 6 hours, stays the safety net).

Twilio calls: the subaccount fetched (its status and token), its numbers and Messaging
Services listed, one more per service overriding its numbers' SMS URL: about 3 to 4
requests, well under 2 s at Twilio's usual latency. Database: a fixed number of queries.

What is replaced on the page: every finding and "All good" row about a number the account
held before or holds now or about a number its clinics hold, and every finding about the
account itself (its status, no clinic holding it). A finding no longer found is shown
resolved ("Fixed at … by …" when a repair did it, else "No longer found at …") until the
next sweep. A number found missing from the clinic's
account is reported missing even when it sits in another account; the next sweep, which sees
every account, calls that a number on the wrong account.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clinics.models import Clinic
from telephony import fleet, twilio
from telephony.models import AccountAudit, AuditRun
from telephony.numbers import audit, inventory
from telephony.numbers.audit_runs import account_listings_save


def clinic_audit_run(*, clinic_id: int) -> bool:
    """List the clinic's account again and refresh the last complete audit's findings about
    it; False when there was nothing to do (no such clinic, or a newer listing of the account
    was kept meanwhile). Raises the TwilioError that still failed after the fan-out's retries
    (the task retries it)."""
    clinic = Clinic.objects.filter(pk=clinic_id).only("id", "twilio_account_sid").first()
    if clinic is None:
        return False
    account_sid = clinic.twilio_account_sid or settings.TWILIO_ACCOUNT_SID
    started = timezone.now()
    subaccounts: list[twilio.Subaccount] = []
    if account_sid != settings.TWILIO_ACCOUNT_SID:
        try:
            subaccounts = [twilio.subaccount_fetch(account_sid)]
        except twilio.TwilioError as exc:
            if not exc.not_found:
                raise  # else: gone, reported as such (subaccount_missing)
    jobs = inventory.account_jobs(subaccounts)
    listings: list[inventory.AccountListing] = []
    if account_sid in jobs:  # the main account, or an active subaccount
        listed = fleet.accounts_fan_out({account_sid: jobs[account_sid]})
        if account_sid in listed.errors:
            raise listed.errors[account_sid]
        listings = [listed.results[account_sid]]
    result = audit.fleet_audit(inventory.fleet_numbers_from(listings, subaccounts))
    with transaction.atomic():
        kept = AccountAudit.objects.select_for_update().filter(account_sid=account_sid).first()
        if kept is not None and kept.listed_at > started:
            return False  # another audit listed the account after this one began: its result stands
        before = {n["sid"] for n in kept.listing.get("numbers", [])} if kept is not None else set()
        account_listings_save(listings, sweep_id=None, listed_at=started)
        run = AuditRun.objects.select_for_update().filter(status=AuditRun.Status.DONE).first()
        if run is None:
            return True
        now = {n.sid for listing in listings for n in listing.numbers}
        held = Clinic.objects.filter(twilio_account_sid=clinic.twilio_account_sid).exclude(twilio_number_sid=None)
        scope = {str(sid) for sid in (before | now | set(held.values_list("twilio_number_sid", flat=True))) if sid}
        run.result = result_spliced(
            run.result,
            result.as_dict(),
            account_sid=account_sid,
            scope=scope,
            numbers=len(now) if listings else None,
            checked_at=started,
        )
        run.save(update_fields=["result"])
    return True


def result_spliced(
    stored: dict[str, Any],
    fresh: dict[str, Any],
    *,
    account_sid: str,
    scope: set[str],
    numbers: int | None,
    checked_at: datetime.datetime,
) -> dict[str, Any]:
    """`stored` (an AuditRun's result) with what `fresh` (one account's audit) says about the
    numbers in `scope` and about the account itself in place of what it said; each finding
    put in carries `checked_at` (a repair made before it does not count as resolving it); one
    it no longer reports stays, with `cleared_at` (shown resolved, as after a repair).
    `numbers`: how many numbers the account holds now (None: it was not listed)."""

    def about(finding: dict[str, Any]) -> bool:
        return finding.get("sid") in scope or finding.get("details", {}).get("account_sid") == account_sid

    def key(finding: dict[str, Any]) -> tuple[str, str, str]:
        return finding["code"], finding.get("sid") or "", finding.get("details", {}).get("field", "")

    stamp = checked_at.isoformat()
    found = [{**f, "checked_at": stamp} for f in fresh["findings"] if about(f)]
    again = {key(f) for f in found}
    # A finding no longer found stays, marked: the page shows it resolved (by whom, if a repair did it).
    findings = [
        f if not about(f) else {"cleared_at": stamp, **f}
        for f in stored.get("findings", [])
        if not about(f) or key(f) not in again
    ]
    findings += found
    per_account = {sid: n for sid, n in stored.get("numbers_per_account", {}).items() if sid != account_sid}
    if numbers is not None:
        per_account[account_sid] = numbers
    all_good = [row for row in stored.get("all_good", []) if row["sid"] not in scope]
    all_good += [row for row in fresh["all_good"] if row["sid"] in scope]
    return {
        **stored,
        "findings": findings,
        "all_good": all_good,
        "numbers_per_account": per_account,
        "numbers_checked": sum(per_account.values()),
    }
