"""Which Twilio account may act on which clinic through our webhooks.

A webhook is signed with the auth token of one account (telephony.webhooks.signatures); that
account is the request's *signer*. The main account's token (TWILIO_AUTH_TOKEN) acts on
every clinic: Twilio lets a parent account act for its subaccounts, and clinics without a
subaccount live in it. A clinic's subaccount token acts on that clinic alone: on the
number it holds, the calls and messages logged for it, its Trust Hub bundles. A resource
no clinic owns (an unknown number or SID) belongs to no tenant, so any signer may report
it. Everything else is refused before anything is written (ForeignAccountError, which
the webhook decorator answers with 403).
"""

from __future__ import annotations

# The signer of a request signed with the main account's token; also the value of
# `clients.twilio_account_sid` for a clinic on the main account.
MAIN_ACCOUNT = ""


class ForeignAccountError(Exception):
    """A webhook signed by one account named a clinic's resource in another account."""


def account_may_act(*, signer: str, owner: str | None) -> bool:
    """Whether a request signed by `signer` may act on a resource of the clinic whose
    account is `owner` ("" for the main account; None when no clinic owns it)."""
    return signer == MAIN_ACCOUNT or owner is None or owner == signer


def account_check(*, signer: str, owner: str | None, what: str) -> None:
    """Raise ForeignAccountError unless `signer` may act on `what`, owned by `owner`."""
    if not account_may_act(signer=signer, owner=owner):
        raise ForeignAccountError(f"{what} belongs to another Twilio account than the one that signed this request.")
