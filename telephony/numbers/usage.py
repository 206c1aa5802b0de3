"""Usage per clinic: this month's calls, SMS and cost of each clinic's own subaccount.

A task (beat daily, and on demand from the clinic page) reads
`GET /2010-04-01/Accounts/{sub}/Usage/Records/ThisMonth.json` (categories `calls`, `sms`,
`totalprice`; https://www.twilio.com/docs/usage/api/usage-record) and stores the figures
on the clinic (clinics.ClinicUsage): the clinic page shows them with "fetched at …" and
never waits on Twilio. Clinics without a subaccount share the main account's usage, so
they have no figures of their own.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from clinics import services as clinic_services
from clinics.models import Clinic, ClinicUsage
from telephony import task_names, twilio
from telephony.queue import task_send, task_send_on_commit

CALLS, SMS, TOTAL = "calls", "sms", "totalprice"


def _count(value: str) -> int:
    try:
        return max(int(Decimal(value or "0")), 0)
    except InvalidOperation:
        return 0


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
        records = {r.category: r for r in twilio.usage_this_month(account_sid=sub)}
    except twilio.TwilioError as exc:
        clinic_services.clinic_usage_fail(clinic_id=clinic.id, account_sid=sub, error=str(exc))
        raise
    total = records.get(TOTAL)
    return clinic_services.clinic_usage_save(
        clinic_id=clinic.id,
        account_sid=sub,
        month=timezone.now().strftime("%Y-%m"),
        calls=_count(records[CALLS].count) if CALLS in records else 0,
        sms=_count(records[SMS].count) if SMS in records else 0,
        cost=Decimal(str(total.price)) if total and total.price is not None else Decimal(0),
        currency=(total.price_unit if total else "").upper(),
    )


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
    """Send one usage task per clinic with a subaccount (beat, daily); how many were sent."""
    ids = list(Clinic.objects.exclude(twilio_account_sid="").values_list("id", flat=True))
    for clinic_id in ids:
        task_send(task_names.REFRESH_CLINIC_USAGE, (clinic_id,))
    return len(ids)
