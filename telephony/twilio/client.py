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
from typing import Any, Literal, TypeVar

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from telephony.twilio.errors import staff_sentence
from telephony.twilio.http import RedirectingHttpClient, last_retry_after

# Twilio error codes our callers act on.
ERR_AUTH = 20003
ERR_NOT_FOUND = 20404
ERR_TOO_MANY_REQUESTS = 20429
ERR_NUMBER_UNAVAILABLE = 21422
ERR_NO_NUMBERS_IN_AREA_CODE = 21452
ERR_UNSUBSCRIBED_RECIPIENT = 21610
# The sentences staff read for each code (subaccount troubles 21476/21478/21649 too)
# live in telephony/twilio/errors.py.

LIST_PAGE_SIZE = 1000
# The country whose numbers are searched, bought and priced. Not a setting: +1 numbers are
# assumed wherever numbers are parsed (clinics/phone.py), so another country could not work.
NUMBER_COUNTRY = "US"
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
    """(retryable, sentence) for a failure: the one mapping in telephony.twilio.errors."""
    return staff_sentence(doing=doing, status=status, code=code, message=message, kind=kind, retry_after=last_retry_after())


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


@functools.lru_cache(maxsize=16)
def _client_for(
    username: str,
    token: str,
    account_sid: str,
    timeout: float,
    base_url: str,
    messaging_base_url: str,
    trusthub_base_url: str,
    pricing_base_url: str,
) -> Client:
    http_client = RedirectingHttpClient(
        base_url=base_url,
        messaging_base_url=messaging_base_url,
        trusthub_base_url=trusthub_base_url,
        pricing_base_url=pricing_base_url,
        timeout=timeout,
    )
    return Client(username, token, account_sid=account_sid, http_client=http_client)


def _client(*, username: str, token: str, account_sid: str) -> Client:
    """The SDK client logging in as `username` and acting in `account_sid`, sending to the
    configured API origins (built once per configuration)."""
    return _client_for(
        username,
        token,
        account_sid,
        float(settings.TWILIO_HTTP_TIMEOUT),
        settings.TWILIO_API_BASE_URL,
        settings.TWILIO_MESSAGING_API_BASE_URL,
        settings.TWILIO_TRUSTHUB_API_BASE_URL,
        settings.TWILIO_PRICING_API_BASE_URL,
    )


def get_client() -> Client:
    """The SDK client for the configured (main) account and API origins."""
    sid = settings.TWILIO_ACCOUNT_SID
    return _client(username=sid, token=settings.TWILIO_AUTH_TOKEN, account_sid=sid)


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
    return available_numbers_find(NumberSearch(area_code=area_code), limit=limit, account_sid=account_sid)


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


# --------------------------------------------------------------------------- search filters and pricing
# The AvailablePhoneNumbers Local filters (twilio_api_v2010.json: AreaCode, InLocality,
# InRegion, InPostalCode, Contains, NearNumber) and the Pricing API v1
# (twilio_pricing_v1.json: GET /v1/PhoneNumbers/Countries/{IsoCountry}).


@dataclass(frozen=True)
class NumberSearch:
    """What staff search numbers by; empty fields are not sent. Voice and SMS are always required."""

    area_code: str = ""
    in_locality: str = ""
    in_region: str = ""
    in_postal_code: str = ""
    contains: str = ""
    near_number: str = ""

    def describe(self) -> str:
        """The search in words: 'in area code 512, in Austin, TX'."""
        parts = [
            f"in area code {self.area_code}" if self.area_code else "",
            f"in {self.in_locality}" if self.in_locality else "",
            f"in {self.in_region}" if self.in_region else "",
            f"in ZIP {self.in_postal_code}" if self.in_postal_code else "",
            f"containing {self.contains}" if self.contains else "",
            f"near {self.near_number}" if self.near_number else "",
        ]
        return ", ".join(part for part in parts if part) or "anywhere"

    def params(self) -> dict[str, Any]:
        """The SDK's keyword arguments for the filters that are set."""
        given = {
            "area_code": int(self.area_code) if self.area_code else None,
            "in_locality": self.in_locality,
            "in_region": self.in_region,
            "in_postal_code": self.in_postal_code,
            "contains": self.contains,
            "near_number": self.near_number,
        }
        return {name: value for name, value in given.items() if value}


@dataclass(frozen=True)
class NumberPrice:
    """The monthly price of one kind of number in a country (Pricing API v1)."""

    number_type: str
    current_price: str
    base_price: str
    price_unit: str

    def for_people(self) -> str:
        """'$1.15/month' (USD), else '1.15 EUR/month'."""
        return f"${self.current_price}/month" if self.price_unit == "USD" else f"{self.current_price} {self.price_unit}/month"


def available_numbers_find(search: NumberSearch, *, limit: int, account_sid: str = "") -> list[AvailableNumber]:
    """Local numbers for sale matching `search` that can do both voice and SMS (one
    request), searched as `account_sid` ("" = the main account)."""
    country = NUMBER_COUNTRY
    found = _calling(
        f"searching numbers {search.describe()}{_in(account_sid)}",
        lambda: (
            _account_api(account_sid)
            .available_phone_numbers(country)
            .local.list(voice_enabled=True, sms_enabled=True, limit=limit, **search.params())
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


def phone_number_prices(country: str) -> list[NumberPrice]:
    """Monthly prices of the kinds of numbers in `country` (one Pricing API request)."""
    found = _calling(
        f"reading Twilio's number prices for {country}",
        lambda: get_client().pricing.v1.phone_numbers.countries(country).fetch(),
    )
    unit = found.price_unit or "USD"
    return [
        NumberPrice(
            number_type=str(price.get("number_type", "")),
            current_price=str(price.get("current_price", "")),
            base_price=str(price.get("base_price", "")),
            price_unit=unit,
        )
        for price in (found.phone_number_prices or [])
        if isinstance(price, dict)
    ]


# =========================================================================== A2P 10DLC
# Trust Hub v1 (trusthub.twilio.com) and Messaging v1 (messaging.twilio.com) calls for
# registering a clinic as our secondary customer (Twilio's "A2P 10DLC - Standard and
# Low-Volume Standard Brand Onboarding Guide for ISVs"; parameters from the specs
# twilio_trusthub_v1.json, twilio_messaging_v1.json and twilio_api_v2010.json for Addresses).
# Every function takes the `account_sid` the clinic registers in and, for a clinic's own
# subaccount, that subaccount's `auth_token` (see telephony.a2p.rules.registration_account):
# Trust Hub and Messaging are scoped by the credentials, not by the URL.

# Policies (fixed by Twilio, the same in every account; the ISV guide names them).
POLICY_SECONDARY_CUSTOMER_PROFILE = "RNdfbf3fae0e1107f8aded0e7cead80bf5"
POLICY_A2P_MESSAGING_PROFILE = "RNb0d4771c2c98518d916a3d4cd70a8f8b"
ERR_NUMBER_IN_OTHER_SERVICE = 21712

TRUST_HUB_PACE_SECONDS = 1.0  # Trust Hub allows about one request per second per account.
BundleKind = Literal["customer_profiles", "trust_products"]


@dataclass(frozen=True)
class TrustBundle:
    """A Trust Hub bundle: a CustomerProfile (BU...) or a TrustProduct (BU...)."""

    sid: str
    status: str
    friendly_name: str
    policy_sid: str
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrustObject:
    """An EndUser (IT...), SupportingDocument (RD...) or Address (AD...) as Twilio keeps it."""

    sid: str
    friendly_name: str


@dataclass(frozen=True)
class Evaluation:
    """A bundle's evaluation against its policy: 'compliant' or 'noncompliant'."""

    sid: str
    status: str


@dataclass(frozen=True)
class BrandRegistration:
    """An A2P brand (BN...): PENDING, IN_REVIEW, APPROVED, FAILED, ..."""

    sid: str
    status: str
    a2p_profile_bundle_sid: str
    failure_reason: str
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Campaign:
    """A US A2P campaign (QE...) on a Messaging Service: campaign_status PENDING/IN_PROGRESS/VERIFIED/FAILED."""

    sid: str
    status: str
    errors: tuple[str, ...] = ()


def _a2p_client(account_sid: str, auth_token: str = "") -> Client:
    """The SDK client acting in `account_sid`.

    Trust Hub and Messaging have no account in their URLs: the CREDENTIALS choose the
    account, so acting in a clinic's subaccount means authenticating as it, with its own
    auth token (Twilio, "Subaccounts": "use the subaccount's Account SID and Auth Token";
    the Trust Hub ISV guides create the secondary profile "under the customer subaccount").
    With no `auth_token`, the main account's credentials (acting in the main account).
    """
    username, token = (account_sid, auth_token) if auth_token else (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
    return _client(username=username, token=token, account_sid=account_sid)


def _errors(raw: Any) -> tuple[str, ...]:
    """Twilio's `errors` arrays (objects or strings) as short sentences."""
    out = []
    for item in raw or []:
        if isinstance(item, Mapping):
            out.append(" ".join(str(item.get(k)) for k in ("code", "description", "message") if item.get(k)))
        else:
            out.append(str(item))
    return tuple(out)


def _bundle(raw: Any) -> TrustBundle:
    return TrustBundle(
        sid=raw.sid,
        status=raw.status or "",
        friendly_name=raw.friendly_name or "",
        policy_sid=raw.policy_sid or "",
        errors=_errors(getattr(raw, "errors", None)),
    )


def _bundles(account_sid: str, auth_token: str, kind: BundleKind) -> Any:
    return getattr(_a2p_client(account_sid, auth_token).trusthub.v1, kind)


def _bundle_label(kind: BundleKind) -> str:
    return "customer profile" if kind == "customer_profiles" else "A2P trust product"


def trust_bundle_create(
    *,
    account_sid: str,
    auth_token: str = "",
    kind: BundleKind,
    friendly_name: str,
    email: str,
    policy_sid: str,
    status_callback: str,
) -> TrustBundle:
    """Create an empty draft CustomerProfile or TrustProduct under `policy_sid`.

    Twilio calls `status_callback` when the bundle's review status changes (Trust Hub
    "CustomerProfile Resource" / "TrustProduct Resource": StatusCallback, "The URL we call
    to inform your application of status changes"; on create and on update).
    """
    return _bundle(
        _calling(
            f"creating the {_bundle_label(kind)} {friendly_name!r}",
            lambda: _bundles(account_sid, auth_token, kind).create(
                friendly_name=friendly_name, email=email, policy_sid=policy_sid, status_callback=status_callback
            ),
        )
    )


def trust_bundles_find(*, account_sid: str, auth_token: str = "", kind: BundleKind, friendly_name: str) -> list[TrustBundle]:
    """The account's bundles of `kind` named exactly `friendly_name` (one request)."""
    found = _calling(
        f"looking up the {_bundle_label(kind)} {friendly_name!r}",
        lambda: _bundles(account_sid, auth_token, kind).list(friendly_name=friendly_name, limit=20),
    )
    return [_bundle(b) for b in found if b.friendly_name == friendly_name]


def trust_bundle_fetch(*, account_sid: str, auth_token: str = "", kind: BundleKind, sid: str) -> TrustBundle:
    """A bundle as Twilio has it now (its review status)."""
    return _bundle(
        _calling(f"fetching the {_bundle_label(kind)} {sid}", lambda: _bundles(account_sid, auth_token, kind)(sid).fetch())
    )


def trust_bundle_submit(
    *, account_sid: str, auth_token: str = "", kind: BundleKind, sid: str, status_callback: str
) -> TrustBundle:
    """Submit a bundle for Twilio's review (Status=pending-review); harmless to repeat.

    Sets its StatusCallback again in the same update, so a bundle created before (or with
    another API_BASE_URL) reports this review where we listen now.
    """
    return _bundle(
        _calling(
            f"submitting the {_bundle_label(kind)} {sid} for review",
            lambda: _bundles(account_sid, auth_token, kind)(sid).update(status="pending-review", status_callback=status_callback),
        )
    )


def _assignments(account_sid: str, auth_token: str, kind: BundleKind, sid: str) -> Any:
    context = _bundles(account_sid, auth_token, kind)(sid)
    return getattr(context, f"{kind}_entity_assignments")


def trust_bundle_assigned(*, account_sid: str, auth_token: str = "", kind: BundleKind, sid: str) -> set[str]:
    """The object SIDs already assigned to a bundle (all pages)."""
    found = _calling(
        f"listing what is assigned to {sid}",
        lambda: _assignments(account_sid, auth_token, kind, sid).list(page_size=LIST_PAGE_SIZE),
    )
    return {a.object_sid for a in found}


def trust_bundle_assign(*, account_sid: str, auth_token: str = "", kind: BundleKind, sid: str, object_sid: str) -> None:
    """Assign an EndUser, SupportingDocument or (for a secondary profile) our primary profile to a bundle."""
    _calling(
        f"assigning {object_sid} to {sid}", lambda: _assignments(account_sid, auth_token, kind, sid).create(object_sid=object_sid)
    )


def trust_bundle_evaluate(*, account_sid: str, auth_token: str = "", kind: BundleKind, sid: str, policy_sid: str) -> Evaluation:
    """Evaluate a bundle against its policy before submitting it."""
    context = _bundles(account_sid, auth_token, kind)(sid)
    evaluation = _calling(f"evaluating {sid}", lambda: getattr(context, f"{kind}_evaluations").create(policy_sid=policy_sid))
    return Evaluation(sid=evaluation.sid, status=evaluation.status or "")


def end_user_create(
    *, account_sid: str, auth_token: str = "", friendly_name: str, object_type: str, attributes: Mapping[str, Any]
) -> TrustObject:
    """An EndUser (business information, authorized representative, A2P messaging profile information)."""
    user = _calling(
        f"creating the end user {friendly_name!r}",
        lambda: _a2p_client(account_sid, auth_token).trusthub.v1.end_users.create(
            friendly_name=friendly_name, type=object_type, attributes=dict(attributes)
        ),
    )
    return TrustObject(sid=user.sid, friendly_name=user.friendly_name or "")


def end_user_update(*, account_sid: str, auth_token: str = "", sid: str, attributes: Mapping[str, Any]) -> None:
    """Replace an EndUser's attributes (staff edited the business profile before resubmitting)."""
    _calling(
        f"updating the end user {sid}",
        lambda: _a2p_client(account_sid, auth_token).trusthub.v1.end_users(sid).update(attributes=dict(attributes)),
    )


def end_users_find(*, account_sid: str, auth_token: str = "", friendly_name: str) -> list[TrustObject]:
    """EndUsers named exactly `friendly_name` (Twilio has no name filter: all pages, filtered here)."""
    found = _calling(
        "listing Trust Hub end users",
        lambda: _a2p_client(account_sid, auth_token).trusthub.v1.end_users.list(page_size=LIST_PAGE_SIZE),
    )
    return [TrustObject(sid=u.sid, friendly_name=u.friendly_name) for u in found if u.friendly_name == friendly_name]


def supporting_document_create(
    *, account_sid: str, auth_token: str = "", friendly_name: str, object_type: str, attributes: Mapping[str, Any]
) -> TrustObject:
    """A SupportingDocument (e.g. customer_profile_address pointing at an Address)."""
    doc = _calling(
        f"creating the supporting document {friendly_name!r}",
        lambda: _a2p_client(account_sid, auth_token).trusthub.v1.supporting_documents.create(
            friendly_name=friendly_name, type=object_type, attributes=dict(attributes)
        ),
    )
    return TrustObject(sid=doc.sid, friendly_name=doc.friendly_name or "")


def supporting_documents_find(*, account_sid: str, auth_token: str = "", friendly_name: str) -> list[TrustObject]:
    """SupportingDocuments named exactly `friendly_name` (all pages, filtered here)."""
    found = _calling(
        "listing Trust Hub supporting documents",
        lambda: _a2p_client(account_sid, auth_token).trusthub.v1.supporting_documents.list(page_size=LIST_PAGE_SIZE),
    )
    return [TrustObject(sid=d.sid, friendly_name=d.friendly_name) for d in found if d.friendly_name == friendly_name]


def address_create(
    *,
    account_sid: str,
    auth_token: str = "",
    friendly_name: str,
    customer_name: str,
    street: str,
    city: str,
    region: str,
    postal_code: str,
) -> TrustObject:
    """A US Address (API v2010) for the business profile."""
    address = _calling(
        f"creating the address {friendly_name!r}",
        lambda: (
            _a2p_client(account_sid, auth_token)
            .api.v2010.accounts(account_sid)
            .addresses.create(
                customer_name=customer_name,
                street=street,
                city=city,
                region=region,
                postal_code=postal_code,
                iso_country="US",
                friendly_name=friendly_name,
            )
        ),
    )
    return TrustObject(sid=address.sid, friendly_name=address.friendly_name or "")


def address_update(
    *,
    account_sid: str,
    auth_token: str = "",
    sid: str,
    customer_name: str,
    street: str,
    city: str,
    region: str,
    postal_code: str,
) -> None:
    """Bring an Address (API v2010) up to date with the business profile (its country stays US)."""
    _calling(
        f"updating the address {sid}",
        lambda: (
            _a2p_client(account_sid, auth_token)
            .api.v2010.accounts(account_sid)
            .addresses(sid)
            .update(customer_name=customer_name, street=street, city=city, region=region, postal_code=postal_code)
        ),
    )


def addresses_find(*, account_sid: str, auth_token: str = "", friendly_name: str) -> list[TrustObject]:
    """Addresses named exactly `friendly_name` (one request)."""
    found = _calling(
        f"looking up the address {friendly_name!r}",
        lambda: (
            _a2p_client(account_sid, auth_token)
            .api.v2010.accounts(account_sid)
            .addresses.list(friendly_name=friendly_name, limit=20)
        ),
    )
    return [TrustObject(sid=a.sid, friendly_name=a.friendly_name) for a in found if a.friendly_name == friendly_name]


def _brand(raw: Any) -> BrandRegistration:
    return BrandRegistration(
        sid=raw.sid,
        status=raw.status or "",
        a2p_profile_bundle_sid=raw.a2p_profile_bundle_sid or "",
        failure_reason=raw.failure_reason or "",
        errors=_errors(raw.errors),
    )


def brand_registration_create(
    *, account_sid: str, auth_token: str = "", customer_profile_sid: str, a2p_profile_sid: str, low_volume: bool = True
) -> BrandRegistration:
    """Register the brand with TCR (a fee). Low-volume standard skips secondary vetting."""
    return _brand(
        _calling(
            "registering the brand",
            lambda: _a2p_client(account_sid, auth_token).messaging.v1.brand_registrations.create(
                customer_profile_bundle_sid=customer_profile_sid,
                a2p_profile_bundle_sid=a2p_profile_sid,
                skip_automatic_sec_vet=low_volume,
            ),
        )
    )


def brand_registrations_find(*, account_sid: str, auth_token: str = "", a2p_profile_sid: str) -> list[BrandRegistration]:
    """Brands registered with this A2P trust product (all pages; Twilio has no filter)."""
    found = _calling(
        "listing brand registrations",
        lambda: _a2p_client(account_sid, auth_token).messaging.v1.brand_registrations.list(page_size=LIST_PAGE_SIZE),
    )
    return [_brand(b) for b in found if b.a2p_profile_bundle_sid == a2p_profile_sid]


def brand_registration_fetch(*, account_sid: str, auth_token: str = "", sid: str) -> BrandRegistration:
    """A brand as Twilio has it now."""
    return _brand(
        _calling(
            f"fetching the brand {sid}",
            lambda: _a2p_client(account_sid, auth_token).messaging.v1.brand_registrations(sid).fetch(),
        )
    )


def brand_registration_resubmit(*, account_sid: str, auth_token: str = "", sid: str) -> BrandRegistration:
    """Ask Twilio to review a FAILED brand again, after its bundles were corrected (202)."""
    return _brand(
        _calling(
            f"resubmitting the brand {sid}",
            lambda: _a2p_client(account_sid, auth_token).messaging.v1.brand_registrations(sid).update(),
        )
    )


def messaging_service_create(
    *, account_sid: str, auth_token: str = "", friendly_name: str, status_callback: str
) -> MessagingService:
    """A Messaging Service that leaves inbound SMS to the number's own SmsUrl (UseInboundWebhookOnNumber)."""
    service = _calling(
        f"creating the Messaging Service {friendly_name!r}",
        lambda: _a2p_client(account_sid, auth_token).messaging.v1.services.create(
            friendly_name=friendly_name, use_inbound_webhook_on_number=True, status_callback=status_callback
        ),
    )
    return MessagingService(
        sid=service.sid,
        friendly_name=service.friendly_name or "",
        use_inbound_webhook_on_number=bool(service.use_inbound_webhook_on_number),
        inbound_request_url=service.inbound_request_url or "",
    )


def messaging_services_find(*, account_sid: str, auth_token: str = "", friendly_name: str) -> list[MessagingService]:
    """Messaging Services named exactly `friendly_name` (all pages, filtered here)."""
    found = _calling(
        "listing Messaging Services",
        lambda: _a2p_client(account_sid, auth_token).messaging.v1.services.list(page_size=LIST_PAGE_SIZE),
    )
    return [
        MessagingService(
            sid=s.sid,
            friendly_name=s.friendly_name or "",
            use_inbound_webhook_on_number=bool(s.use_inbound_webhook_on_number),
            inbound_request_url=s.inbound_request_url or "",
        )
        for s in found
        if s.friendly_name == friendly_name
    ]


def _campaign(raw: Any) -> Campaign:
    return Campaign(sid=raw.sid, status=raw.campaign_status or "", errors=_errors(raw.errors))


def campaign_create(
    *,
    account_sid: str,
    auth_token: str = "",
    service_sid: str,
    brand_sid: str,
    usecase: str,
    description: str,
    message_flow: str,
    samples: list[str],
    help_message: str,
    opt_out_message: str,
    opt_in_message: str,
    help_keywords: list[str],
    opt_out_keywords: list[str],
    opt_in_keywords: list[str],
) -> Campaign:
    """Register the Messaging Service's US A2P campaign (one per service)."""
    return _campaign(
        _calling(
            "registering the campaign",
            lambda: (
                _a2p_client(account_sid, auth_token)
                .messaging.v1.services(service_sid)
                .us_app_to_person.create(
                    brand_registration_sid=brand_sid,
                    description=description,
                    message_flow=message_flow,
                    message_samples=samples,
                    us_app_to_person_usecase=usecase,
                    has_embedded_links=False,
                    has_embedded_phone=True,
                    help_message=help_message,
                    opt_out_message=opt_out_message,
                    opt_in_message=opt_in_message,
                    help_keywords=help_keywords,
                    opt_out_keywords=opt_out_keywords,
                    opt_in_keywords=opt_in_keywords,
                )
            ),
        )
    )


def campaigns_list(*, account_sid: str, auth_token: str = "", service_sid: str) -> list[Campaign]:
    """The service's campaigns (Twilio allows one)."""
    found = _calling(
        "listing the campaign",
        lambda: _a2p_client(account_sid, auth_token).messaging.v1.services(service_sid).us_app_to_person.list(page_size=50),
    )
    return [_campaign(c) for c in found]


def campaign_fetch(*, account_sid: str, auth_token: str = "", service_sid: str, sid: str) -> Campaign:
    """A campaign as Twilio has it now."""
    return _campaign(
        _calling(
            f"fetching the campaign {sid}",
            lambda: _a2p_client(account_sid, auth_token).messaging.v1.services(service_sid).us_app_to_person(sid).fetch(),
        )
    )


def campaign_delete(*, account_sid: str, auth_token: str = "", service_sid: str, sid: str) -> None:
    """Delete a service's campaign (204): Twilio's way to register a rejected campaign again.

    Twilio does not review a FAILED campaign twice ("A2P 10DLC Campaign Approval Requirements":
    delete it, then create it again on the same Messaging Service, with a new vetting fee).
    TwilioError 404 when it is already gone.
    """
    _calling(
        f"deleting the campaign {sid}",
        lambda: _a2p_client(account_sid, auth_token).messaging.v1.services(service_sid).us_app_to_person(sid).delete(),
    )


def messaging_service_number_add(*, account_sid: str, auth_token: str = "", service_sid: str, phone_sid: str) -> None:
    """Put a number in the service's sender pool; TwilioError 21712 when it is in another service."""
    _calling(
        f"adding {phone_sid} to the Messaging Service",
        lambda: (
            _a2p_client(account_sid, auth_token)
            .messaging.v1.services(service_sid)
            .phone_numbers.create(phone_number_sid=phone_sid)
        ),
    )


def messaging_service_numbers(*, account_sid: str, auth_token: str = "", service_sid: str) -> list[str]:
    """The PN SIDs in a service's sender pool (all pages)."""
    found = _calling(
        "listing the Messaging Service's numbers",
        lambda: (
            _a2p_client(account_sid, auth_token).messaging.v1.services(service_sid).phone_numbers.list(page_size=LIST_PAGE_SIZE)
        ),
    )
    return [n.sid for n in found]


def message_send_via_service(
    *, account_sid: str, auth_token: str = "", service_sid: str, to_number: str, body: str, status_callback: str
) -> Message:
    """Send an SMS through a Messaging Service (its registered campaign), with status callbacks."""
    message = _calling(
        f"sending an SMS to {to_number}",
        lambda: (
            _a2p_client(account_sid, auth_token)
            .api.v2010.accounts(account_sid)
            .messages.create(messaging_service_sid=service_sid, to=to_number, body=body, status_callback=status_callback)
        ),
    )
    return Message(sid=message.sid, status=message.status)


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
