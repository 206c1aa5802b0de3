"""Usage per clinic: this month's calls, SMS and cost of each clinic's own subaccount.

A task (beat daily over every clinic through the fleet fan-out, and on demand from the
clinic page for one) reads
`GET /2010-04-01/Accounts/{sub}/Usage/Records/ThisMonth.json` (categories `calls`, `sms`,
`totalprice`; https://www.twilio.com/docs/usage/api/usage-record) and stores the figures
on the clinic (clinics.ClinicUsage): the clinic page shows them with "fetched at …" and
never waits on Twilio. Clinics without a subaccount share the main account's usage, so
they have no figures of their own.
"""

from __future__ import annotations

import functools
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from clinics import services as clinic_services
from clinics.models import Clinic, ClinicUsage
from telephony import fleet, task_names, twilio
from telephony.queue import task_send_on_commit

CALLS, SMS, TOTAL = "calls", "sms", "totalprice"


def _count(value: str) -> int:
    try:
        return max(int(Decimal(value or "0")), 0)
    except InvalidOperation:
        return 0


def usage_figures(records: list[twilio.UsageRecord], *, account_sid: str) -> dict[str, Any]:
    """The fields kept on ClinicUsage from a subaccount's usage records this month."""
    by_category = {r.category: r for r in records}
    total = by_category.get(TOTAL)
    return {
        "account_sid": account_sid,
        "month": timezone.now().strftime("%Y-%m"),
        "calls": _count(by_category[CALLS].count) if CALLS in by_category else 0,
        "sms": _count(by_category[SMS].count) if SMS in by_category else 0,
        "cost": Decimal(str(total.price)) if total and total.price is not None else Decimal(0),
        "currency": (total.price_unit if total else "").upper(),
    }


def clinic_usage_refresh(*, clinic_id: int) -> ClinicUsage | None:
    """Fetch and store the clinic's usage this month; None for a clinic without a subaccount.

    A TwilioError is recorded on the clinic's usage (the last figures stay) and raised, so
    that the task retries what may pass.
    """
    clinic = Clinic.objects.filter(pk=clinic_id).only("id", "twilio_account_sid").first()
    if clinic is None or not clinic.twilio_account_sid:
        return None
    sub = clinic.twilio_account_sid
    try:
        records = twilio.usage_this_month(account_sid=sub)
    except twilio.TwilioError as exc:
        clinic_services.clinic_usage_fail(clinic_id=clinic.id, account_sid=sub, error=str(exc))
        raise
    return clinic_services.clinic_usage_save(clinic_id=clinic.id, **usage_figures(records, account_sid=sub))


def clinic_usage_refresh_request(*, clinic_id: int) -> bool:
    """Ask for the clinic's usage to be fetched now (task on commit); False when it has no subaccount."""
    if not Clinic.objects.filter(pk=clinic_id).exclude(twilio_account_sid="").exists():
        return False
    with transaction.atomic():
        task_send_on_commit(
            task_names.REFRESH_CLINIC_USAGE, clinic_id
        )  # no clinic_id=: a lost usage send is not stuck number work
    return True


def usage_refresh_all() -> int:
    """Fetch every clinic's usage this month (beat, daily); how many clinics were fetched.

    One job per subaccount through the fleet fan-out (telephony/fleet.py: FLEET_CONCURRENCY at
    a time, Retry-After respected, retryable failures tried again), Twilio only in the jobs;
    then the figures and the failures are saved in two upserts (clinic_usages_save): a fixed
    number of queries whatever the number of clinics. A clinic whose fetch still failed keeps
    its last figures with why; tomorrow's run, or Refresh usage on its page, tries again.
    """
    accounts = dict(Clinic.objects.exclude(twilio_account_sid="").values_list("id", "twilio_account_sid"))
    fetched = fleet.accounts_fan_out(
        {cid: functools.partial(twilio.usage_this_month, account_sid=sid) for cid, sid in accounts.items()}
    )
    clinic_services.clinic_usages_save(
        figures={cid: usage_figures(records, account_sid=accounts[cid]) for cid, records in fetched.results.items()},
        failures={cid: (accounts[cid], str(exc)) for cid, exc in fetched.errors.items()},
    )
    return len(fetched.results)
