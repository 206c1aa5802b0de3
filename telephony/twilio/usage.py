"""Usage (API v2010 Usage Records): what an account used and spent this month.

https://www.twilio.com/docs/usage/api/usage-record: GET /Accounts/{sid}/Usage/Records/ThisMonth.json,
one record per usage category (e.g. "calls", "sms", "totalprice") for the calendar month.
"""

from __future__ import annotations

from dataclasses import dataclass

from telephony.twilio.client import LIST_PAGE_SIZE, account_api, in_subaccount
from telephony.twilio.errors import calling


@dataclass(frozen=True)
class UsageRecord:
    """One usage category of an account this month."""

    category: str
    count: str
    usage: str
    price: float | None
    price_unit: str


def usage_this_month(*, account_sid: str = "") -> list[UsageRecord]:
    """Every usage category of `account_sid` ("" = main) this month (all pages of 1000)."""
    found = calling(
        f"reading this month's usage{in_subaccount(account_sid)}",
        lambda: account_api(account_sid).usage.records.this_month.list(page_size=LIST_PAGE_SIZE),
    )
    return [
        UsageRecord(
            category=r.category or "",
            count=r.count or "",
            usage=r.usage or "",
            price=float(r.price) if r.price is not None else None,
            price_unit=r.price_unit or "",
        )
        for r in found
    ]
