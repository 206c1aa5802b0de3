"""What Twilio holds for us, read for the audit: every number in the main account and its
active subaccounts, the subaccounts themselves, and the Messaging Services whose inbound
settings override their numbers' SMS URLs.

Typed results over the adapter's: the audit works on these, and the seed's dict API
(telephony/twilio_service.py) turns them into its dicts. Each raises TwilioError.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from clinics.models import Clinic
from clinics.selectors import clinics_by_numbers
from telephony import twilio
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
class FleetNumbers:
    """Every number on the main account and its active subaccounts, and every subaccount
    (closed ones too, for the audit's account findings)."""

    numbers: list[AccountNumber]
    subaccounts: list[twilio.Subaccount]

    def active_account_sids(self) -> list[str]:
        """The main account and its active subaccounts: the accounts whose numbers were listed."""
        return [settings.TWILIO_ACCOUNT_SID, *(a.sid for a in self.subaccounts if a.status == "active")]


@dataclass(frozen=True)
class MessagingOverride:
    """A Messaging Service whose inbound settings replace a number's SMS URL."""

    service_sid: str
    service_name: str
    inbound_request_url: str


def fleet_numbers_list() -> FleetNumbers:
    """Every number on the main account and its active subaccounts (all pages of 1000 each),
    with its clinic and webhook health."""
    numbers = [(n, settings.TWILIO_ACCOUNT_SID) for n in twilio.incoming_numbers_list()]
    subaccounts = twilio.subaccounts_list()
    for sub in subaccounts:
        # Twilio refuses a suspended subaccount's resources (20005) and has released a
        # closed one's numbers: only active subaccounts are listed.
        if sub.status == "active":
            numbers += [(n, sub.sid) for n in twilio.incoming_numbers_list(account_sid=sub.sid)]
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
    return FleetNumbers(numbers=rows, subaccounts=subaccounts)


def messaging_overrides_list() -> dict[str, MessagingOverride]:
    """Phone number SID -> the override of each number in a Messaging Service whose inbound
    settings replace the number's SMS URL: one list call for the services, one per
    overriding service."""
    overrides: dict[str, MessagingOverride] = {}
    for service in twilio.messaging_services_list():
        if service.use_inbound_webhook_on_number:
            continue
        for sid in twilio.messaging_service_number_sids(service.sid):
            overrides[sid] = MessagingOverride(service.sid, service.friendly_name, service.inbound_request_url)
    return overrides
