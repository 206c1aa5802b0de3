"""Usage records: GET /2010-04-01/Accounts/{AccountSid}/Usage/Records/ThisMonth.json.

https://www.twilio.com/docs/usage/api/usage-record: the sandbox's own counts this month,
at its own fixed prices: `calls` (recorded by the control API's POST calls), `sms`
(messages sent from the account), `totalprice`; filtered by Category.
"""

from __future__ import annotations

import time
from typing import Any

from .accounts import Sandbox
from .responses import page_size, v2010_page
from .routing import Answer, Request, Route

# The sandbox's own prices (USD): one minute per call, one segment per SMS.
USAGE_PRICE = {"calls": 0.0085, "sms": 0.0079}


def _this_month(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    query, store = request.query, sandbox.store
    month = time.strftime("%Y-%m", time.gmtime())
    calls = store.calls_count(account)
    sms = sum(1 for m in store.messages() if m["account_sid"] == account and _rfc2822_month(m["date_created"]) == month)
    prices = {"calls": round(calls * USAGE_PRICE["calls"], 4), "sms": round(sms * USAGE_PRICE["sms"], 4)}
    base = f"{sandbox.base(account)}/Usage/Records"
    records = [
        _record(base, account, "calls", "Voice Minutes", str(calls), "calls", str(calls), "minutes", prices["calls"]),
        _record(base, account, "sms", "SMS Messages", str(sms), "messages", str(sms), "messages", prices["sms"]),
        _record(base, account, "totalprice", "Total Price", "", "", str(sum(prices.values())), "usd", sum(prices.values())),
    ]
    if "Category" in query:
        records = [r for r in records if r["category"] == query["Category"]]
    filters = {k: query[k] for k in ("Category",) if k in query}
    return 200, v2010_page("usage_records", f"{base}/ThisMonth.json", page_size(query, default=50), records, filters)


def _record(
    base: str,
    account: str,
    category: str,
    description: str,
    count: str,
    count_unit: str,
    usage: str,
    usage_unit: str,
    price: float,
) -> dict[str, Any]:
    today = time.strftime("%Y-%m-%d", time.gmtime())
    return {
        "account_sid": account,
        "api_version": "2010-04-01",
        "as_of": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "category": category,
        "count": count,
        "count_unit": count_unit,
        "description": description,
        "end_date": today,
        "price": round(price, 4),
        "price_unit": "usd",
        "start_date": today[:8] + "01",
        "subresource_uris": {"this_month": f"{base}/ThisMonth.json?Category={category}"},
        "uri": f"{base}/ThisMonth.json?Category={category}",
        "usage": usage,
        "usage_unit": usage_unit,
    }


def _rfc2822_month(date: str) -> str:
    """'YYYY-MM' of an RFC 2822 date as the sandbox writes them ('' if unreadable)."""
    try:
        return time.strftime("%Y-%m", time.strptime(date, "%a, %d %b %Y %H:%M:%S +0000"))
    except ValueError:
        return ""


# Under /2010-04-01/Accounts/{AccountSid}, before ".json".
ROUTES = (Route("GET", r"/Usage/Records/ThisMonth", _this_month),)
