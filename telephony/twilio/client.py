"""The SDK client: the only module that imports `twilio.rest`.

Credentials and origins are read from `django.conf.settings` here alone, lazily
(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_HTTP_TIMEOUT and one
TWILIO_<DOMAIN>_API_BASE_URL per Twilio host), and an SDK client is built once per login,
account and configuration. The product modules (numbers, accounts, messaging, trusthub,
porting, hosted, usage) reach Twilio through the clients made here. List calls page through everything at
LIST_PAGE_SIZE per page.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from twilio.rest import Client

from telephony.twilio.errors import IN_SUBACCOUNT
from telephony.twilio.http import RedirectingHttpClient

LIST_PAGE_SIZE = 1000


@functools.lru_cache(maxsize=4)
def _http_client_for(
    timeout: float,
    base_url: str,
    messaging_base_url: str,
    trusthub_base_url: str,
    pricing_base_url: str,
    numbers_base_url: str,
    numbers_upload_base_url: str,
    pool_size: int,
) -> RedirectingHttpClient:
    """One HTTP client (one requests session, one connection pool per host) for every login
    and account: the credentials go with each request, so thousands of subaccounts reuse the
    same connections to Twilio instead of opening their own."""
    return RedirectingHttpClient(
        base_url=base_url,
        messaging_base_url=messaging_base_url,
        trusthub_base_url=trusthub_base_url,
        pricing_base_url=pricing_base_url,
        numbers_base_url=numbers_base_url,
        numbers_upload_base_url=numbers_upload_base_url,
        timeout=timeout,
        pool_size=pool_size,
    )


@functools.lru_cache(maxsize=64)
def _client_for(username: str, token: str, account_sid: str, http_client: RedirectingHttpClient) -> Client:
    return Client(username, token, account_sid=account_sid, http_client=http_client)


def _client(*, username: str, token: str, account_sid: str) -> Client:
    """The SDK client logging in as `username` and acting in `account_sid`, sending to the
    configured API origins through the one shared HTTP client (both built once per configuration)."""
    http_client = _http_client_for(
        float(settings.TWILIO_HTTP_TIMEOUT),
        settings.TWILIO_API_BASE_URL,
        settings.TWILIO_MESSAGING_API_BASE_URL,
        settings.TWILIO_TRUSTHUB_API_BASE_URL,
        settings.TWILIO_PRICING_API_BASE_URL,
        settings.TWILIO_NUMBERS_API_BASE_URL,
        settings.TWILIO_NUMBERS_UPLOAD_API_BASE_URL,
        max(10, settings.FLEET_CONCURRENCY, settings.A2P_POLL_CONCURRENCY),
    )
    return _client_for(username, token, account_sid, http_client)


class JsonBody:
    """A JSON request body for the SDK's JSON-bodied creates (Numbers v1: PortIn, the porting
    webhook configuration, Eligibility), which send `body.to_dict()`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return self.data


def main_account_sid() -> str:
    """The SID of our main account (TWILIO_ACCOUNT_SID), parent of the clinics' subaccounts."""
    return settings.TWILIO_ACCOUNT_SID


def get_client() -> Client:
    """The SDK client for the configured (main) account and API origins."""
    sid = main_account_sid()
    return _client(username=sid, token=settings.TWILIO_AUTH_TOKEN, account_sid=sid)


def client_acting_in(account_sid: str, auth_token: str = "") -> Client:
    """The SDK client acting in `account_sid`.

    Trust Hub and Messaging have no account in their URLs: the CREDENTIALS choose the
    account, so acting in a clinic's subaccount means authenticating as it, with its own
    auth token (Twilio, "Subaccounts": "use the subaccount's Account SID and Auth Token";
    the Trust Hub ISV guides create the secondary profile "under the customer subaccount").
    With no `auth_token`, the main account's credentials (acting in the main account).
    """
    username, token = (account_sid, auth_token) if auth_token else (main_account_sid(), settings.TWILIO_AUTH_TOKEN)
    return _client(username=username, token=token, account_sid=account_sid)


def account_api(account_sid: str = "") -> Any:
    """The v2010 Account context for `account_sid` ("" = the main account), with the MAIN
    credentials: a parent account may act on its subaccounts' resources under
    /2010-04-01/Accounts/{subaccount}/... (https://www.twilio.com/docs/iam/api/subaccounts)."""
    return get_client().api.v2010.accounts(account_sid or main_account_sid())


def in_subaccount(account_sid: str) -> str:
    """' in the clinic's Twilio subaccount' for a subaccount's request (the sentences say where,
    without its SID), else ''."""
    return IN_SUBACCOUNT if account_sid and account_sid != main_account_sid() else ""
