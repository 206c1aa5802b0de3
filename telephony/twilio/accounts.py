"""Accounts (API v2010): our own account, and the clinics' subaccounts.

One subaccount per clinic (TWILIO_SUBACCOUNT_PER_CLINIC), managed with the main
credentials: https://www.twilio.com/docs/iam/api/subaccounts and the Account resource
(https://www.twilio.com/docs/iam/api/account). Twilio returns a subaccount's auth token
to its parent in the create and fetch answers; it signs that subaccount's webhooks.
(Moving a number into a subaccount is a number's update: telephony.twilio.numbers.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from telephony.twilio.client import LIST_PAGE_SIZE, account_api, get_client, main_account_sid
from telephony.twilio.errors import calling


@dataclass(frozen=True)
class Account:
    """A Twilio account as fetched."""

    sid: str
    status: str
    friendly_name: str


def account_fetch() -> Account:
    """Our own account: proves Twilio accepts the credentials, and says whether it is active."""
    account = calling("checking the Twilio credentials", lambda: account_api().fetch())
    return Account(sid=account.sid, status=account.status, friendly_name=account.friendly_name or "")


@dataclass(frozen=True)
class Subaccount:
    """A subaccount of the main account, with its auth token (never printed in reprs)."""

    sid: str
    status: str  # active, suspended or closed
    friendly_name: str
    owner_account_sid: str
    auth_token: str = dataclasses.field(repr=False)


def _subaccount(account: Any) -> Subaccount:
    return Subaccount(
        sid=account.sid,
        status=account.status or "",
        friendly_name=account.friendly_name or "",
        owner_account_sid=account.owner_account_sid or "",
        auth_token=account.auth_token or "",
    )


def subaccount_create(*, friendly_name: str) -> Subaccount:
    """Create a subaccount named `friendly_name` (POST /2010-04-01/Accounts.json); it costs
    nothing but counts toward Twilio's limit (21480), so callers make it idempotent."""
    return _subaccount(
        calling(
            f"creating the Twilio subaccount {friendly_name!r}",
            lambda: get_client().api.v2010.accounts.create(friendly_name=friendly_name),
        )
    )


def subaccounts_find(*, friendly_name: str) -> list[Subaccount]:
    """The main account's subaccounts named exactly `friendly_name`, closed ones left out
    (GET /2010-04-01/Accounts.json?FriendlyName=..., all pages)."""
    found = calling(
        f"looking up Twilio subaccounts named {friendly_name!r}",
        lambda: get_client().api.v2010.accounts.list(friendly_name=friendly_name, page_size=LIST_PAGE_SIZE),
    )
    main = main_account_sid()
    return [_subaccount(a) for a in found if a.sid != main and a.friendly_name == friendly_name and a.status != "closed"]


def subaccounts_list() -> list[Subaccount]:
    """Every subaccount of the main account, closed ones included (all pages)."""
    found = calling("listing the Twilio subaccounts", lambda: get_client().api.v2010.accounts.list(page_size=LIST_PAGE_SIZE))
    return [_subaccount(a) for a in found if a.sid != main_account_sid()]


def subaccount_fetch(account_sid: str) -> Subaccount:
    """One subaccount as Twilio has it now, with its current auth token."""
    return _subaccount(
        calling("fetching the clinic's Twilio subaccount", lambda: get_client().api.v2010.accounts(account_sid).fetch())
    )


# What setting a subaccount's Status does, in words (the sentence names no raw status).
_STATUS_CHANGE = {"suspended": "suspending", "active": "reactivating", "closed": "closing"}


def subaccount_status_set(account_sid: str, *, status: str) -> Subaccount:
    """Set a subaccount's Status: "suspended" and "active" are reversible, "closed" is not
    (Twilio deletes a closed subaccount after 30 days). 21476/21478/21479 say why not."""
    return _subaccount(
        calling(
            f"{_STATUS_CHANGE.get(status, 'changing')} the clinic's Twilio subaccount",
            lambda: get_client().api.v2010.accounts(account_sid).update(status=status),
        )
    )
