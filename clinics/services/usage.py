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


def clinic_usages_save(*, figures: dict[int, dict], failures: dict[int, tuple[str, str]]) -> None:
    """The fleet refresh's results in two upserts whatever the number of clinics: `figures`,
    clinic id -> the fields clinic_usage_save takes (account_sid, month, calls, sms, cost,
    currency), each clearing an earlier error; `failures`, clinic id -> (account SID, why),
    each keeping the clinic's last figures."""
    now = timezone.now()
    if figures:
        ClinicUsage.objects.bulk_create(
            [ClinicUsage(clinic_id=cid, **row, fetched_at=now, error="", error_at=None) for cid, row in figures.items()],
            update_conflicts=True,
            unique_fields=["clinic"],
            update_fields=["account_sid", "month", "calls", "sms", "cost", "currency", "fetched_at", "error", "error_at"],
        )
    if failures:
        ClinicUsage.objects.bulk_create(
            [ClinicUsage(clinic_id=cid, account_sid=sid, error=why, error_at=now) for cid, (sid, why) in failures.items()],
            update_conflicts=True,
            unique_fields=["clinic"],
            update_fields=["account_sid", "error", "error_at"],
        )
