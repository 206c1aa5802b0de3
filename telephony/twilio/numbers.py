"""Phone numbers: numbers for sale, the numbers an account owns, and what they cost.

API v2010 AvailablePhoneNumbers (the Local filters of twilio_api_v2010.json: AreaCode,
InLocality, InRegion, InPostalCode, Contains, NearNumber) and IncomingPhoneNumbers, acting in
`account_sid` ("" = the main account) with the main credentials; the Pricing API v1
(twilio_pricing_v1.json: GET /v1/PhoneNumbers/Countries/{IsoCountry}).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telephony.twilio.client import LIST_PAGE_SIZE, account_api, get_client, in_subaccount
from telephony.twilio.errors import calling

# The country whose numbers are searched, bought and priced. Not a setting: +1 numbers are
# assumed wherever numbers are parsed (clinics/phone.py), so another country could not work.
NUMBER_COUNTRY = "US"
WEBHOOK_FIELDS = ("voice_url", "voice_method", "sms_url", "sms_method", "status_callback", "status_callback_method")
# The fallback webhooks (API v2010 IncomingPhoneNumber), read alongside the primary ones.
FALLBACK_WEBHOOK_FIELDS = ("voice_fallback_url", "voice_fallback_method", "sms_fallback_url", "sms_fallback_method")


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


def _incoming(number: Any) -> IncomingNumber:
    return IncomingNumber(
        sid=number.sid,
        phone_number=number.phone_number,
        friendly_name=number.friendly_name or "",
        webhook_fields={name: getattr(number, name, None) or "" for name in (*WEBHOOK_FIELDS, *FALLBACK_WEBHOOK_FIELDS)},
        capabilities=Capabilities.parse(number.capabilities),
    )


def available_numbers_search(*, area_code: str, limit: int, account_sid: str = "") -> list[AvailableNumber]:
    """Local numbers for sale in `area_code` that can do both voice and SMS (one request),
    searched as `account_sid` ("" = the main account)."""
    return available_numbers_find(NumberSearch(area_code=area_code), limit=limit, account_sid=account_sid)


def available_numbers_find(search: NumberSearch, *, limit: int, account_sid: str = "") -> list[AvailableNumber]:
    """Local numbers for sale matching `search` that can do both voice and SMS (one
    request), searched as `account_sid` ("" = the main account)."""
    country = NUMBER_COUNTRY
    found = calling(
        f"searching numbers {search.describe()}{in_subaccount(account_sid)}",
        lambda: (
            account_api(account_sid)
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


def incoming_number_buy(
    *, phone_number: str, friendly_name: str, webhook_fields: Mapping[str, str], account_sid: str = ""
) -> IncomingNumber:
    """Buy exactly `phone_number` into `account_sid` ("" = the main account), named and
    with its webhooks set in the purchase request."""
    return _incoming(
        calling(
            f"buying {phone_number}{in_subaccount(account_sid)}",
            lambda: account_api(account_sid).incoming_phone_numbers.create(
                phone_number=phone_number, friendly_name=friendly_name, **webhook_fields
            ),
        )
    )


def incoming_numbers_find(
    *, phone_number: str = "", friendly_name: str = "", limit: int = 5, account_sid: str = ""
) -> list[IncomingNumber]:
    """The numbers of `account_sid` ("" = the main account) exactly equal to `phone_number`
    or else `friendly_name` (one request)."""
    numbers = account_api(account_sid).incoming_phone_numbers
    if phone_number:
        found = calling(
            f"looking up {phone_number}{in_subaccount(account_sid)}",
            lambda: numbers.list(phone_number=phone_number, limit=limit),
        )
        return [_incoming(n) for n in found if n.phone_number == phone_number]
    found = calling(
        f"looking up numbers named {friendly_name!r}{in_subaccount(account_sid)}",
        lambda: numbers.list(friendly_name=friendly_name, limit=limit),
    )
    return [_incoming(n) for n in found if n.friendly_name == friendly_name]


def incoming_numbers_list(*, account_sid: str = "") -> list[IncomingNumber]:
    """Every number on `account_sid` ("" = the main account; all pages)."""
    found = calling(
        f"listing the account's numbers{in_subaccount(account_sid)}",
        lambda: account_api(account_sid).incoming_phone_numbers.list(page_size=LIST_PAGE_SIZE),
    )
    return [_incoming(n) for n in found]


def incoming_number_update(phone_sid: str, *, webhook_fields: Mapping[str, str], account_sid: str = "") -> IncomingNumber:
    """Set the webhook fields of a number of `account_sid` ("" = main); the number as Twilio now has it."""
    return _incoming(
        calling(
            f"updating the number's webhooks{in_subaccount(account_sid)}",
            lambda: account_api(account_sid).incoming_phone_numbers(phone_sid).update(**webhook_fields),
        )
    )


def incoming_number_transfer(phone_sid: str, *, to_account_sid: str, account_sid: str = "") -> IncomingNumber:
    """Move a number of `account_sid` ("" = main) into `to_account_sid` (POST
    .../IncomingPhoneNumbers/{Sid}.json AccountSid=..., main credentials; 21472/21473/21474
    say why not); the number as Twilio now has it, under its new account."""
    return _incoming(
        calling(
            "moving the number into the clinic's Twilio subaccount",
            lambda: account_api(account_sid).incoming_phone_numbers(phone_sid).update(account_sid=to_account_sid),
        )
    )


def incoming_number_delete(phone_sid: str, *, account_sid: str = "") -> None:
    """Release a number of `account_sid` ("" = main); TwilioError with `.not_found` when Twilio no longer has it."""
    calling(
        f"releasing the number{in_subaccount(account_sid)}",
        lambda: account_api(account_sid).incoming_phone_numbers(phone_sid).delete(),
    )


def phone_number_prices(country: str) -> list[NumberPrice]:
    """Monthly prices of the kinds of numbers in `country` (one Pricing API request)."""
    found = calling(
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
