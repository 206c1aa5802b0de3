"""The Twilio adapter: the only module that talks to Twilio's REST API through the SDK.

Pure: no Django models, no `clinics`, no database. Credentials and origins are read
from `django.conf.settings` lazily, and the SDK client is built once per configuration.
Each function makes one kind of Twilio request and returns small frozen dataclasses;
every failure (Twilio's answer or the network) is raised as one `TwilioError` carrying
Twilio's code, the HTTP status, whether a retry may help, and a sentence a person can
act on. List calls page through everything at LIST_PAGE_SIZE per page.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from .twilio_http import RedirectingHttpClient

# Twilio error codes our callers act on.
ERR_AUTH = 20003
ERR_NOT_FOUND = 20404
ERR_TOO_MANY_REQUESTS = 20429
ERR_NUMBER_UNAVAILABLE = 21422
ERR_NO_NUMBERS_IN_AREA_CODE = 21452
ERR_UNSUBSCRIBED_RECIPIENT = 21610
# Subaccounts (https://www.twilio.com/docs/api/errors/214xx): the parent account is
# suspended (21476), the subaccount was suspended by Twilio (21478); a number type whose
# regulatory bundle a subaccount cannot use (21649: set TWILIO_SUBACCOUNT_PER_CLINIC=false).
ERR_PARENT_SUSPENDED = 21476
ERR_SUBACCOUNT_SUSPENDED_BY_TWILIO = 21478
ERR_BUNDLE_NOT_IN_ACCOUNT = 21649
# A request under an account whose Status is not active (https://www.twilio.com/docs/api/errors/20005:
# "Account not active"): e.g. a clinic's subaccount we suspended.
ERR_ACCOUNT_NOT_ACTIVE = 20005
# Transferring a number between the parent and a subaccount (https://www.twilio.com/docs/iam/api/subaccounts
# "Exchanging numbers"): the target account is not active (21472), not related (21473), or the
# request did not come from the parent account (21474).
ERR_TRANSFER_TARGET_NOT_ACTIVE = 21472
ERR_TRANSFER_NOT_RELATED = 21473
ERR_TRANSFER_NOT_PARENT = 21474

LIST_PAGE_SIZE = 1000
WEBHOOK_FIELDS = ("voice_url", "voice_method", "sms_url", "sms_method", "status_callback", "status_callback_method")
# The fallback webhooks (API v2010 IncomingPhoneNumber), read alongside the primary ones.
FALLBACK_WEBHOOK_FIELDS = ("voice_fallback_url", "voice_fallback_method", "sms_fallback_url", "sms_fallback_method")

T = TypeVar("T")


# --------------------------------------------------------------------------- errors


class TwilioError(Exception):
    """Twilio refused, failed or could not be reached; `str(exc)` is the sentence.

    `retryable` is True for rate limits (429/20429), Twilio 5xx, timeouts and
    connection errors, never for other 4xx. `status` is None when no HTTP answer came.
    """

    def __init__(self, *, doing: str, status: int | None, code: int | None, message: str = "", kind: str = "") -> None:
        self.doing, self.status, self.code, self.message, self.kind = doing, status, code, message, kind
        self.retryable, self.sentence = _judge(doing=doing, status=status, code=code, message=message, kind=kind)
        if self.code is None and self.status == 429:
            self.code = ERR_TOO_MANY_REQUESTS
        elif self.code is None and self.status == 401:
            self.code = ERR_AUTH
        super().__init__(self.sentence)

    def while_doing(self, doing: str) -> TwilioError:
        """The same failure told as part of a larger step (e.g. 'buying a number in 512');
        the subaccount it happened in stays named."""
        where = " in subaccount "
        if where in self.doing and where not in doing:
            doing += self.doing[self.doing.index(where) :]
        return TwilioError(doing=doing, status=self.status, code=self.code, message=self.message, kind=self.kind)

    @property
    def not_found(self) -> bool:
        """Twilio has no such resource (404 / 20404)."""
        return self.status == 404 or self.code == ERR_NOT_FOUND


def _judge(*, doing: str, status: int | None, code: int | None, message: str, kind: str) -> tuple[bool, str]:
    """(retryable, sentence) for a failure; the rules callers and staff rely on."""
    if status is None:
        if kind == "Timeout":
            return True, f"Twilio did not answer in time while {doing}."
        return True, f"Could not reach Twilio while {doing} ({kind})."
    if status == 429 or code == ERR_TOO_MANY_REQUESTS:
        return True, f"Twilio is rate-limiting us while {doing}."
    if status >= 500:
        return True, f"Twilio had a server error ({status}) while {doing}."
    if code == ERR_ACCOUNT_NOT_ACTIVE:
        return False, (
            f"Twilio refused {doing}: the account is not active (Twilio error {code}). If we suspended this clinic's "
            'subaccount, reactivate it first (admin action "Reactivate Twilio subaccount"); a closed one cannot be used again.'
        )
    if code == ERR_TRANSFER_NOT_PARENT:
        return False, (
            f"Twilio refused {doing}: only the parent account may transfer numbers (Twilio error {code}). "
            "TWILIO_ACCOUNT_SID must be the main account's SID, not a subaccount's."
        )
    if code == ERR_TRANSFER_TARGET_NOT_ACTIVE:
        return False, (
            f"Twilio refused {doing}: the subaccount it would go to is not active (Twilio error {code}). "
            "Reactivate the clinic's subaccount, then retry the move."
        )
    if code == ERR_AUTH or status == 401:
        return False, f"Twilio did not accept our credentials while {doing}: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN."
    if code == ERR_PARENT_SUSPENDED:
        return False, (
            f"Twilio refused {doing}: our main Twilio account is suspended, so its subaccounts cannot be used "
            f"(Twilio error {code}). Bring the main account back in good standing in the Twilio Console, then retry."
        )
    if code == ERR_SUBACCOUNT_SUSPENDED_BY_TWILIO:
        return False, (
            f"Twilio refused {doing}: Twilio itself suspended this clinic's subaccount (Twilio error {code}). "
            "Only Twilio Support can reactivate it: https://www.twilio.com/help"
        )
    if code == ERR_BUNDLE_NOT_IN_ACCOUNT:
        return False, (
            f"Twilio refused {doing}: this number type needs a regulatory bundle that a subaccount cannot use "
            f"(Twilio error {code}). Set TWILIO_SUBACCOUNT_PER_CLINIC=false to keep numbers on the main account."
        )
    if (code == ERR_NOT_FOUND or status == 404) and " subaccount AC" in doing:
        return False, (
            f"Twilio found nothing while {doing} (Twilio error {ERR_NOT_FOUND}): the number is no longer there, or the "
            "subaccount was closed (Twilio deletes a closed subaccount after 30 days). Check the clinic's subaccount "
            "in the Twilio Console (Account > Subaccounts)."
        )
    return False, f"Twilio refused {doing}: {message} (Twilio error {code})."


def _error_from(exc: Exception, *, doing: str) -> TwilioError:
    if isinstance(exc, TwilioException) and not isinstance(exc, TwilioRestException):
        # The SDK raises a bare TwilioException("Unable to fetch page", response) for
        # list pages; read the status and Twilio code from the response like the others.
        response = exc.args[1] if len(exc.args) > 1 else None
        try:
            body = json.loads(getattr(response, "text", "") or "{}")
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        code = body.get("code")
        return TwilioError(
            doing=doing,
            status=getattr(response, "status_code", 500),
            code=code if isinstance(code, int) else None,
            message=body.get("message") or str(exc.args[0]),
        )
    if isinstance(exc, TwilioRestException):
        return TwilioError(doing=doing, status=exc.status, code=exc.code if isinstance(exc.code, int) else None, message=exc.msg)
    kind = "Timeout" if isinstance(exc, requests.Timeout) else type(exc).__name__
    return TwilioError(doing=doing, status=None, code=None, kind=kind)


def _calling(doing: str, call: Callable[[], T]) -> T:
    """Run one SDK call; any SDK or network failure becomes a TwilioError about `doing`."""
    try:
        return call()
    except (TwilioException, requests.RequestException) as exc:
        raise _error_from(exc, doing=doing) from exc


# --------------------------------------------------------------------------- client


@functools.lru_cache(maxsize=4)
def _client_for(account_sid: str, auth_token: str, base_url: str, messaging_base_url: str, timeout: float) -> Client:
    http_client = RedirectingHttpClient(base_url=base_url, messaging_base_url=messaging_base_url, timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)


def get_client() -> Client:
    """The SDK client for the configured account and API origin (built once per configuration)."""
    return _client_for(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.TWILIO_API_BASE_URL,
        getattr(settings, "TWILIO_MESSAGING_API_BASE_URL", ""),
        float(settings.TWILIO_HTTP_TIMEOUT),
    )


def _account_api(account_sid: str = "") -> Any:
    """The v2010 Account context for `account_sid` ("" = the main account), with the MAIN
    credentials: a parent account may act on its subaccounts' resources under
    /2010-04-01/Accounts/{subaccount}/... (https://www.twilio.com/docs/iam/api/subaccounts)."""
    return get_client().api.v2010.accounts(account_sid or settings.TWILIO_ACCOUNT_SID)


def _in(account_sid: str) -> str:
    """' in subaccount AC...' for a subaccount's request (the sentences name it), else ''."""
    return f" in subaccount {account_sid}" if account_sid and account_sid != settings.TWILIO_ACCOUNT_SID else ""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Capabilities:
    """What a number can do."""

    voice: bool
    sms: bool
    mms: bool

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Capabilities:
        """From Twilio's capabilities object (available numbers say "SMS", owned ones "sms")."""
        caps = {str(key).lower(): value for key, value in (raw or {}).items()}
        return cls(voice=bool(caps.get("voice")), sms=bool(caps.get("sms")), mms=bool(caps.get("mms")))

    def as_dict(self) -> dict[str, bool]:
        """{"voice": ..., "sms": ..., "mms": ...}."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AvailableNumber:
    """A number for sale."""

    phone_number: str
    friendly_name: str
    locality: str | None
    region: str | None
    postal_code: str | None
    capabilities: Capabilities


@dataclass(frozen=True)
class IncomingNumber:
    """A number the account owns, with its six webhook settings."""

    sid: str
    phone_number: str
    friendly_name: str
    webhook_fields: Mapping[str, str]
    capabilities: Capabilities

    @property
    def webhooks(self) -> dict[str, str]:
        """The three webhook URLs, keyed voice / sms / status_callback."""
        fields = self.webhook_fields
        return {"voice": fields["voice_url"], "sms": fields["sms_url"], "status_callback": fields["status_callback"]}


@dataclass(frozen=True)
class Account:
    """A Twilio account as fetched."""

    sid: str
    status: str
    friendly_name: str


@dataclass(frozen=True)
class Message:
    """A message Twilio accepted for sending."""

    sid: str
    status: str


@dataclass(frozen=True)
class MessagingService:
    """A Messaging Service and whether its inbound settings replace its numbers' SMS URLs."""

    sid: str
    friendly_name: str
    use_inbound_webhook_on_number: bool
    inbound_request_url: str


def _incoming(number: Any) -> IncomingNumber:
    return IncomingNumber(
        sid=number.sid,
        phone_number=number.phone_number,
        friendly_name=number.friendly_name or "",
        webhook_fields={name: getattr(number, name, None) or "" for name in (*WEBHOOK_FIELDS, *FALLBACK_WEBHOOK_FIELDS)},
        capabilities=Capabilities.parse(number.capabilities),
    )


# --------------------------------------------------------------------------- calls


def available_numbers_search(*, area_code: str, limit: int, account_sid: str = "") -> list[AvailableNumber]:
    """Local numbers for sale in `area_code` that can do both voice and SMS (one request),
    searched as `account_sid` ("" = the main account)."""
    # US unless TWILIO_NUMBER_COUNTRY says otherwise (+1 numbers only: CA is the other choice).
    country = getattr(settings, "TWILIO_NUMBER_COUNTRY", "US")
    found = _calling(
        f"searching numbers in area code {area_code}{_in(account_sid)}",
        lambda: (
            _account_api(account_sid)
            .available_phone_numbers(country)
            .local.list(area_code=int(area_code), voice_enabled=True, sms_enabled=True, limit=limit)
        ),
    )
    return [
        AvailableNumber(
            phone_number=n.phone_number,
            friendly_name=n.friendly_name,
            locality=n.locality,
            region=n.region,
            postal_code=n.postal_code,
            capabilities=Capabilities.parse(n.capabilities),
        )
        for n in found
    ]


def incoming_number_buy(
    *, phone_number: str, friendly_name: str, webhook_fields: Mapping[str, str], account_sid: str = ""
) -> IncomingNumber:
    """Buy exactly `phone_number` into `account_sid` ("" = the main account), named and
    with its webhooks set in the purchase request."""
    return _incoming(
        _calling(
            f"buying {phone_number}{_in(account_sid)}",
            lambda: _account_api(account_sid).incoming_phone_numbers.create(
                phone_number=phone_number, friendly_name=friendly_name, **webhook_fields
            ),
        )
    )


def incoming_numbers_find(
    *, phone_number: str = "", friendly_name: str = "", limit: int = 5, account_sid: str = ""
) -> list[IncomingNumber]:
    """The numbers of `account_sid` ("" = the main account) exactly equal to `phone_number`
    or else `friendly_name` (one request)."""
    numbers = _account_api(account_sid).incoming_phone_numbers
    if phone_number:
        found = _calling(
            f"looking up {phone_number}{_in(account_sid)}",
            lambda: numbers.list(phone_number=phone_number, limit=limit),
        )
        return [_incoming(n) for n in found if n.phone_number == phone_number]
    found = _calling(
        f"looking up numbers named {friendly_name!r}{_in(account_sid)}",
        lambda: numbers.list(friendly_name=friendly_name, limit=limit),
    )
    return [_incoming(n) for n in found if n.friendly_name == friendly_name]


def incoming_numbers_list(*, account_sid: str = "") -> list[IncomingNumber]:
    """Every number on `account_sid` ("" = the main account; all pages)."""
    found = _calling(
        f"listing the account's numbers{_in(account_sid)}",
        lambda: _account_api(account_sid).incoming_phone_numbers.list(page_size=LIST_PAGE_SIZE),
    )
    return [_incoming(n) for n in found]


def incoming_number_update(phone_sid: str, *, webhook_fields: Mapping[str, str], account_sid: str = "") -> IncomingNumber:
    """Set the webhook fields of a number of `account_sid` ("" = main); the number as Twilio now has it."""
    return _incoming(
        _calling(
            f"updating the webhooks of {phone_sid}{_in(account_sid)}",
            lambda: _account_api(account_sid).incoming_phone_numbers(phone_sid).update(**webhook_fields),
        )
    )


def incoming_number_transfer(phone_sid: str, *, to_account_sid: str, account_sid: str = "") -> IncomingNumber:
    """Move a number of `account_sid` ("" = main) into `to_account_sid` (POST
    .../IncomingPhoneNumbers/{Sid}.json AccountSid=..., main credentials; 21472/21473/21474
    say why not); the number as Twilio now has it, under its new account."""
    return _incoming(
        _calling(
            f"transferring {phone_sid} to the subaccount {to_account_sid}",
            lambda: _account_api(account_sid).incoming_phone_numbers(phone_sid).update(account_sid=to_account_sid),
        )
    )


def incoming_number_delete(phone_sid: str, *, account_sid: str = "") -> None:
    """Release a number of `account_sid` ("" = main); TwilioError with `.not_found` when Twilio no longer has it."""
    _calling(
        f"releasing {phone_sid}{_in(account_sid)}", lambda: _account_api(account_sid).incoming_phone_numbers(phone_sid).delete()
    )


def messaging_services_list() -> list[MessagingService]:
    """Every Messaging Service on the account (all pages)."""
    found = _calling("listing Messaging Services", lambda: get_client().messaging.v1.services.list(page_size=LIST_PAGE_SIZE))
    return [
        MessagingService(
            sid=s.sid,
            friendly_name=s.friendly_name or "",
            use_inbound_webhook_on_number=bool(s.use_inbound_webhook_on_number),
            inbound_request_url=s.inbound_request_url or "",
        )
        for s in found
    ]


def messaging_service_number_sids(service_sid: str) -> list[str]:
    """The phone number SIDs (PN...) in a Messaging Service's sender pool (all pages)."""
    found = _calling(
        "listing Messaging Services",
        lambda: get_client().messaging.v1.services(service_sid).phone_numbers.list(page_size=LIST_PAGE_SIZE),
    )
    return [n.sid for n in found]


def account_fetch() -> Account:
    """Our own account: proves Twilio accepts the credentials, and says whether it is active."""
    account = _calling(
        "checking the Twilio credentials", lambda: get_client().api.v2010.accounts(settings.TWILIO_ACCOUNT_SID).fetch()
    )
    return Account(sid=account.sid, status=account.status, friendly_name=account.friendly_name or "")


def message_send(*, from_number: str, to_number: str, body: str, status_callback: str, account_sid: str = "") -> Message:
    """Send an SMS from a number of `account_sid` ("" = main), with status callbacks to `status_callback`."""
    message = _calling(
        f"sending an SMS to {to_number}{_in(account_sid)}",
        lambda: _account_api(account_sid).messages.create(
            from_=from_number, to=to_number, body=body, status_callback=status_callback
        ),
    )
    return Message(sid=message.sid, status=message.status)


# --------------------------------------------------------------------------- subaccounts
# One subaccount per clinic (TWILIO_SUBACCOUNT_PER_CLINIC), managed with the main
# credentials: https://www.twilio.com/docs/iam/api/subaccounts and the Account resource
# (https://www.twilio.com/docs/iam/api/account). Twilio returns a subaccount's auth token
# to its parent in the create and fetch answers; it signs that subaccount's webhooks.


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
        _calling(
            f"creating the Twilio subaccount {friendly_name!r}",
            lambda: get_client().api.v2010.accounts.create(friendly_name=friendly_name),
        )
    )


def subaccounts_find(*, friendly_name: str) -> list[Subaccount]:
    """The main account's subaccounts named exactly `friendly_name`, closed ones left out
    (GET /2010-04-01/Accounts.json?FriendlyName=..., all pages)."""
    found = _calling(
        f"looking up Twilio subaccounts named {friendly_name!r}",
        lambda: get_client().api.v2010.accounts.list(friendly_name=friendly_name, page_size=LIST_PAGE_SIZE),
    )
    main = settings.TWILIO_ACCOUNT_SID
    return [_subaccount(a) for a in found if a.sid != main and a.friendly_name == friendly_name and a.status != "closed"]


def subaccounts_list() -> list[Subaccount]:
    """Every subaccount of the main account, closed ones included (all pages)."""
    found = _calling("listing the Twilio subaccounts", lambda: get_client().api.v2010.accounts.list(page_size=LIST_PAGE_SIZE))
    return [_subaccount(a) for a in found if a.sid != settings.TWILIO_ACCOUNT_SID]


def subaccount_fetch(account_sid: str) -> Subaccount:
    """One subaccount as Twilio has it now, with its current auth token."""
    return _subaccount(
        _calling(f"fetching the subaccount {account_sid}", lambda: get_client().api.v2010.accounts(account_sid).fetch())
    )


def subaccount_status_set(account_sid: str, *, status: str) -> Subaccount:
    """Set a subaccount's Status: "suspended" and "active" are reversible, "closed" is not
    (Twilio deletes a closed subaccount after 30 days). 21476/21478/21479 say why not."""
    return _subaccount(
        _calling(
            f"setting the subaccount {account_sid} to {status}",
            lambda: get_client().api.v2010.accounts(account_sid).update(status=status),
        )
    )


# --------------------------------------------------------------------------- usage
# https://www.twilio.com/docs/usage/api/usage-record: GET /Accounts/{sid}/Usage/Records/ThisMonth.json,
# one record per usage category (e.g. "calls", "sms", "totalprice") for the calendar month.


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
    found = _calling(
        f"reading this month's usage{_in(account_sid)}",
        lambda: _account_api(account_sid).usage.records.this_month.list(page_size=LIST_PAGE_SIZE),
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
