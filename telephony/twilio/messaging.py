"""Messaging: texts, Messaging Services, and the A2P 10DLC brand and campaign.

API v2010 Messages, and Messaging v1 (messaging.twilio.com) for services, brand registrations
and US A2P campaigns (Twilio's "A2P 10DLC - Standard and Low-Volume Standard Brand Onboarding
Guide for ISVs"; parameters from twilio_messaging_v1.json). The registration calls take the
`account_sid` the clinic registers in and, for a clinic's own subaccount, that subaccount's
`auth_token`: Messaging is scoped by the credentials, not by the URL
(telephony.twilio.client.client_acting_in). The brand's bundles are Trust Hub's: telephony.twilio.trusthub.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telephony.twilio.client import LIST_PAGE_SIZE, account_api, client_acting_in, in_subaccount, main_account_sid
from telephony.twilio.errors import calling, review_errors


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


def message_send(*, from_number: str, to_number: str, body: str, status_callback: str, account_sid: str = "") -> Message:
    """Send an SMS from a number of `account_sid` ("" = main), with status callbacks to `status_callback`."""
    message = calling(
        f"sending an SMS to {to_number}{in_subaccount(account_sid)}",
        lambda: account_api(account_sid).messages.create(
            from_=from_number, to=to_number, body=body, status_callback=status_callback
        ),
    )
    return Message(sid=message.sid, status=message.status)


def message_send_via_service(
    *, account_sid: str, auth_token: str = "", service_sid: str, to_number: str, body: str, status_callback: str
) -> Message:
    """Send an SMS through a Messaging Service (its registered campaign), with status callbacks."""
    message = calling(
        f"sending an SMS to {to_number}",
        lambda: (
            client_acting_in(account_sid, auth_token)
            .api.v2010.accounts(account_sid)
            .messages.create(messaging_service_sid=service_sid, to=to_number, body=body, status_callback=status_callback)
        ),
    )
    return Message(sid=message.sid, status=message.status)


def _service(raw: Any) -> MessagingService:
    return MessagingService(
        sid=raw.sid,
        friendly_name=raw.friendly_name or "",
        use_inbound_webhook_on_number=bool(raw.use_inbound_webhook_on_number),
        inbound_request_url=raw.inbound_request_url or "",
    )


def messaging_services_list(*, account_sid: str = "", auth_token: str = "") -> list[MessagingService]:
    """Every Messaging Service of an account (all pages): the main account's with no
    `account_sid`, a subaccount's with its own auth token (Messaging v1 has no account in its
    URLs; the credentials choose it: client_acting_in)."""
    found = calling(
        "listing Messaging Services" + in_subaccount(account_sid),
        lambda: client_acting_in(account_sid or main_account_sid(), auth_token).messaging.v1.services.list(
            page_size=LIST_PAGE_SIZE
        ),
    )
    return [_service(s) for s in found]


def messaging_service_create(
    *, account_sid: str, auth_token: str = "", friendly_name: str, status_callback: str
) -> MessagingService:
    """A Messaging Service that leaves inbound SMS to the number's own SmsUrl (UseInboundWebhookOnNumber)."""
    return _service(
        calling(
            f"creating the Messaging Service {friendly_name!r}",
            lambda: client_acting_in(account_sid, auth_token).messaging.v1.services.create(
                friendly_name=friendly_name, use_inbound_webhook_on_number=True, status_callback=status_callback
            ),
        )
    )


def messaging_services_find(*, account_sid: str, auth_token: str = "", friendly_name: str) -> list[MessagingService]:
    """Messaging Services named exactly `friendly_name` (all pages, filtered here)."""
    return [
        s for s in messaging_services_list(account_sid=account_sid, auth_token=auth_token) if s.friendly_name == friendly_name
    ]


def messaging_service_number_add(*, account_sid: str, auth_token: str = "", service_sid: str, phone_sid: str) -> None:
    """Put a number in the service's sender pool; TwilioError 21712 when it is in another service."""
    calling(
        "adding the clinic's number to its Messaging Service",
        lambda: (
            client_acting_in(account_sid, auth_token)
            .messaging.v1.services(service_sid)
            .phone_numbers.create(phone_number_sid=phone_sid)
        ),
    )


def messaging_service_number_remove(*, account_sid: str, auth_token: str = "", service_sid: str, phone_sid: str) -> None:
    """Take a number out of the service's sender pool (DELETE /v1/Services/{ServiceSid}/PhoneNumbers/{Sid},
    twilio_messaging_v1.json; the number stays on the account). TwilioError 20404 when it is not in the pool."""
    calling(
        "taking the replaced number out of the Messaging Service",
        lambda: client_acting_in(account_sid, auth_token).messaging.v1.services(service_sid).phone_numbers(phone_sid).delete(),
    )


def messaging_service_numbers(*, account_sid: str, auth_token: str = "", service_sid: str) -> list[str]:
    """The PN SIDs in a service's sender pool (all pages)."""
    found = calling(
        "listing the Messaging Service's numbers",
        lambda: (
            client_acting_in(account_sid, auth_token)
            .messaging.v1.services(service_sid)
            .phone_numbers.list(page_size=LIST_PAGE_SIZE)
        ),
    )
    return [n.sid for n in found]


def _brand(raw: Any) -> BrandRegistration:
    return BrandRegistration(
        sid=raw.sid,
        status=raw.status or "",
        a2p_profile_bundle_sid=raw.a2p_profile_bundle_sid or "",
        failure_reason=raw.failure_reason or "",
        errors=review_errors(raw.errors),
    )


def brand_registration_create(
    *, account_sid: str, auth_token: str = "", customer_profile_sid: str, a2p_profile_sid: str, low_volume: bool = True
) -> BrandRegistration:
    """Register the brand with TCR (a fee). Low-volume standard skips secondary vetting."""
    return _brand(
        calling(
            "registering the brand",
            lambda: client_acting_in(account_sid, auth_token).messaging.v1.brand_registrations.create(
                customer_profile_bundle_sid=customer_profile_sid,
                a2p_profile_bundle_sid=a2p_profile_sid,
                skip_automatic_sec_vet=low_volume,
            ),
        )
    )


def brand_registrations_find(*, account_sid: str, auth_token: str = "", a2p_profile_sid: str) -> list[BrandRegistration]:
    """Brands registered with this A2P trust product (all pages; Twilio has no filter)."""
    found = calling(
        "listing brand registrations",
        lambda: client_acting_in(account_sid, auth_token).messaging.v1.brand_registrations.list(page_size=LIST_PAGE_SIZE),
    )
    return [_brand(b) for b in found if b.a2p_profile_bundle_sid == a2p_profile_sid]


def brand_registration_fetch(*, account_sid: str, auth_token: str = "", sid: str) -> BrandRegistration:
    """A brand as Twilio has it now."""
    return _brand(
        calling(
            "fetching the clinic's brand registration",
            lambda: client_acting_in(account_sid, auth_token).messaging.v1.brand_registrations(sid).fetch(),
        )
    )


def brand_registration_resubmit(*, account_sid: str, auth_token: str = "", sid: str) -> BrandRegistration:
    """Ask Twilio to review a FAILED brand again, after its bundles were corrected (202)."""
    return _brand(
        calling(
            "resubmitting the clinic's brand registration",
            lambda: client_acting_in(account_sid, auth_token).messaging.v1.brand_registrations(sid).update(),
        )
    )


def _campaign(raw: Any) -> Campaign:
    return Campaign(sid=raw.sid, status=raw.campaign_status or "", errors=review_errors(raw.errors))


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
        calling(
            "registering the campaign",
            lambda: (
                client_acting_in(account_sid, auth_token)
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
    found = calling(
        "listing the campaign",
        lambda: client_acting_in(account_sid, auth_token).messaging.v1.services(service_sid).us_app_to_person.list(page_size=50),
    )
    return [_campaign(c) for c in found]


def campaign_fetch(*, account_sid: str, auth_token: str = "", service_sid: str, sid: str) -> Campaign:
    """A campaign as Twilio has it now."""
    return _campaign(
        calling(
            "fetching the clinic's texting campaign",
            lambda: client_acting_in(account_sid, auth_token).messaging.v1.services(service_sid).us_app_to_person(sid).fetch(),
        )
    )


def campaign_delete(*, account_sid: str, auth_token: str = "", service_sid: str, sid: str) -> None:
    """Delete a service's campaign (204): Twilio's way to register a rejected campaign again.

    Twilio does not review a FAILED campaign twice ("A2P 10DLC Campaign Approval Requirements":
    delete it, then create it again on the same Messaging Service, with a new vetting fee).
    TwilioError 404 when it is already gone.
    """
    calling(
        "deleting the clinic's texting campaign",
        lambda: client_acting_in(account_sid, auth_token).messaging.v1.services(service_sid).us_app_to_person(sid).delete(),
    )
