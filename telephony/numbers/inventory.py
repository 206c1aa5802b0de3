"""What Twilio holds for us, read for the audit: every number in the main account and its
active subaccounts, the subaccounts themselves, and the Messaging Services (in every one of
those accounts: a clinic's own service lives in its subaccount) whose inbound settings
override their numbers' SMS URLs. The accounts are listed in bounded parallel
(telephony/fleet.py), one job per account.

Typed results over the adapter's: the audit works on these, and the seed's dict API
(telephony/twilio_service.py) turns them into its dicts. Each raises TwilioError.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from clinics.models import Clinic
from clinics.selectors import clinics_by_numbers
from telephony import fleet, twilio
from telephony.webhook_urls import webhook_params


@dataclass(frozen=True)
class AccountNumber:
    """A number Twilio lists, where it lives, the clinic holding it (by SID, else by number)
    and whether its webhooks are ours."""

    number: twilio.IncomingNumber
    account_sid: str  # the main account's SID for a number on the main account
    clinic: Clinic | None
    webhooks_ok: bool

    @property
    def sid(self) -> str:
        return self.number.sid

    @property
    def phone_number(self) -> str:
        return self.number.phone_number

    @property
    def friendly_name(self) -> str:
        return self.number.friendly_name


@dataclass(frozen=True)
class MessagingOverride:
    """A Messaging Service whose inbound settings replace a number's SMS URL."""

    service_sid: str
    service_name: str
    inbound_request_url: str


@dataclass(frozen=True)
class AccountListing:
    """What one account holds: its numbers, and the overrides of its Messaging Services
    (phone number SID -> override)."""

    account_sid: str
    numbers: list[twilio.IncomingNumber]
    overrides: dict[str, MessagingOverride]

    def as_json(self) -> dict[str, Any]:
        """A JSON-able copy, kept per account by the audit's sweep (AccountAudit.listing)."""
        return {
            "numbers": [dataclasses.asdict(n) for n in self.numbers],
            "overrides": {sid: dataclasses.asdict(o) for sid, o in self.overrides.items()},
        }

    @classmethod
    def from_json(cls, account_sid: str, data: dict[str, Any]) -> AccountListing:
        """The listing as_json() kept."""
        numbers = [
            twilio.IncomingNumber(
                sid=n["sid"],
                phone_number=n["phone_number"],
                friendly_name=n["friendly_name"],
                webhook_fields=dict(n["webhook_fields"]),
                capabilities=twilio.Capabilities(**n["capabilities"]),
            )
            for n in data.get("numbers", [])
        ]
        overrides = {sid: MessagingOverride(**o) for sid, o in data.get("overrides", {}).items()}
        return cls(account_sid=account_sid, numbers=numbers, overrides=overrides)


def account_listing(account_sid: str, auth_token: str = "") -> AccountListing:
    """One account's numbers (all pages) and the overrides of its Messaging Services: one list
    call each, and one per overriding service. A fan-out job: Twilio only, no database.

    Numbers are listed with the main credentials under the subaccount's URL; Messaging v1 has
    no account in its URLs, so a subaccount's services are listed with its own auth token
    (Twilio returns it to the parent in the subaccounts list)."""
    main = account_sid == settings.TWILIO_ACCOUNT_SID
    in_account, token = ("", "") if main else (account_sid, auth_token)
    numbers = twilio.incoming_numbers_list(account_sid=in_account)
    overrides: dict[str, MessagingOverride] = {}
    for service in twilio.messaging_services_list(account_sid=in_account, auth_token=token):
        if service.use_inbound_webhook_on_number:
            continue
        for sid in twilio.messaging_service_numbers(account_sid=account_sid, auth_token=token, service_sid=service.sid):
            overrides[sid] = MessagingOverride(service.sid, service.friendly_name, service.inbound_request_url)
    return AccountListing(account_sid=account_sid, numbers=numbers, overrides=overrides)


def account_jobs(
    subaccounts: list[twilio.Subaccount], *, skip: Set[str] = frozenset()
) -> dict[str, Callable[[], AccountListing]]:
    """One listing job per account to list: the main account and every active subaccount
    (Twilio refuses a suspended one's resources, 20005, and has released a closed one's
    numbers), less those in `skip`."""
    tokens = {settings.TWILIO_ACCOUNT_SID: "", **{a.sid: a.auth_token for a in subaccounts if a.status == "active"}}
    return {sid: functools.partial(account_listing, sid, token) for sid, token in tokens.items() if sid not in skip}


@dataclass(frozen=True)
class FleetNumbers:
    """Every number on the main account and its active subaccounts, and every subaccount
    (closed ones too, for the audit's account findings); the Messaging Service overrides
    found in every account; the accounts that could not be listed (SID -> why)."""

    numbers: list[AccountNumber]
    subaccounts: list[twilio.Subaccount]
    overrides: dict[str, MessagingOverride] = dataclasses.field(default_factory=dict)
    unlisted: dict[str, str] = dataclasses.field(default_factory=dict)

    def active_account_sids(self) -> list[str]:
        """The main account and its active subaccounts whose numbers were listed."""
        active = [settings.TWILIO_ACCOUNT_SID, *(a.sid for a in self.subaccounts if a.status == "active")]
        return [sid for sid in active if sid not in self.unlisted]


def fleet_numbers_from(
    listings: Iterable[AccountListing], subaccounts: list[twilio.Subaccount], unlisted: dict[str, str] | None = None
) -> FleetNumbers:
    """The fleet's numbers from each account's listing, with their clinics (one query)."""
    numbers = [(n, listing.account_sid) for listing in listings for n in listing.numbers]
    overrides: dict[str, MessagingOverride] = {}
    for listing in listings:
        overrides.update(listing.overrides)
    clinics = clinics_by_numbers(phone_numbers=[n.phone_number for n, _ in numbers], phone_sids=[n.sid for n, _ in numbers])
    by_sid = {c.twilio_number_sid: c for c in clinics if c.twilio_number_sid}
    by_number = {c.twilio_number: c for c in clinics if c.twilio_number}
    expected = webhook_params()
    rows = [
        AccountNumber(
            number=n,
            account_sid=account_sid,
            clinic=by_sid.get(n.sid) or by_number.get(n.phone_number),
            webhooks_ok=dict(n.webhook_fields) == expected,
        )
        for n, account_sid in numbers
    ]
    return FleetNumbers(numbers=rows, subaccounts=subaccounts, overrides=overrides, unlisted=dict(unlisted or {}))


def fleet_numbers_list() -> FleetNumbers:
    """Every number and Messaging Service override on the main account and its active
    subaccounts, listed in bounded parallel (telephony/fleet.py), with its clinic and webhook
    health. Raises the TwilioError when the subaccounts or the main account cannot be listed;
    a subaccount that cannot be listed is named in `unlisted`."""
    subaccounts = twilio.subaccounts_list()
    jobs = account_jobs(subaccounts)
    listed = fleet.accounts_fan_out(jobs)
    if settings.TWILIO_ACCOUNT_SID in listed.errors:
        raise listed.errors[settings.TWILIO_ACCOUNT_SID]
    unlisted = {sid: str(exc) for sid, exc in listed.errors.items()}
    return fleet_numbers_from([listed.results[sid] for sid in jobs if sid in listed.results], subaccounts, unlisted)


def messaging_overrides_list() -> dict[str, MessagingOverride]:
    """Phone number SID -> the override of each number, in any of our accounts, that is in a
    Messaging Service whose inbound settings replace the number's SMS URL."""
    return fleet_numbers_list().overrides
