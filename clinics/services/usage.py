"""This month's usage of a clinic's subaccount, saved by the usage task (telephony.numbers.usage)."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from ..models import ClinicUsage


def clinic_usage_save(
    *, clinic_id: int, account_sid: str, month: str, calls: int, sms: int, cost: Decimal, currency: str
) -> ClinicUsage:
    """Store the figures Twilio gave for the clinic's subaccount this month (clears an earlier error)."""
    usage, _ = ClinicUsage.objects.update_or_create(
        clinic_id=clinic_id,
        defaults={
            "account_sid": account_sid,
            "month": month,
            "calls": calls,
            "sms": sms,
            "cost": cost,
            "currency": currency,
            "fetched_at": timezone.now(),
            "error": "",
            "error_at": None,
        },
    )
    return usage


def clinic_usage_fail(*, clinic_id: int, account_sid: str, error: str) -> ClinicUsage:
    """Record why the last fetch failed, keeping the last figures."""
    usage, _ = ClinicUsage.objects.update_or_create(
        clinic_id=clinic_id, defaults={"account_sid": account_sid, "error": error, "error_at": timezone.now()}
    )
    return usage
