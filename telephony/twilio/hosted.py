"""Hosted SMS: text-enabling a clinic's existing landline while its calls stay with its carrier
(Numbers API v2 HostedNumber Orders).

Endpoints and parameters from Twilio's twilio_numbers_v2.json (npm @twilio/cli-core) and
"HostedNumberOrder resource" (https://www.twilio.com/docs/phone-numbers/hosted-numbers/hosted-numbers-api/hosted-number-order-resource):
  POST   /v1/HostedNumber/Eligibility     hosted_eligibility_check (JSON; Numbers v1)
  POST   /v2/HostedNumber/Orders          hosted_order_create (SmsUrl, SmsFallbackUrl, AccountSid)
  GET    /v2/HostedNumber/Orders          hosted_orders_find (by PhoneNumber and/or FriendlyName)
  GET    /v2/HostedNumber/Orders/{Sid}    hosted_order_fetch
  DELETE /v2/HostedNumber/Orders/{Sid}    hosted_order_cancel
An order's status runs twilio-processing, received, pending-verification, verified,
pending-loa, carrier-processing, testing, completed; or failed, or action-required (its
`failure_reason` says why). Twilio documents this API as not open to new customers until it
is generally available: callers keep it behind a setting.

The eligibility check's body ({"friendly_name", "phone_numbers": [{"phone_number",
"hosting_account_sid"}]}) is from "Eligibility Resource"
(https://www.twilio.com/docs/phone-numbers/hosted-numbers/hosted-numbers-api/eligibility-resource);
the spec leaves it open. Orders are made with the main account's credentials, in the clinic's subaccount through
AccountSid ("This can be provided to specify a subaccount to add the HostedNumberOrder to").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telephony.twilio.client import LIST_PAGE_SIZE, JsonBody, get_client
from telephony.twilio.errors import calling


@dataclass(frozen=True)
class HostedNumberOrder:
    """A hosted number order (HR...): the clinic's number being text-enabled at Twilio."""

    sid: str
    account_sid: str
    phone_number: str
    friendly_name: str
    status: str
    failure_reason: str
    signing_document_sid: str  # the LOA to be signed (PX...), once Twilio made it
    incoming_phone_number_sid: str  # the number's IncomingPhoneNumber (PN...), once hosted
    next_step: str


@dataclass(frozen=True)
class HostedEligibility:
    """Whether Twilio can host texting for a number, and if not why and what to do next."""

    phone_number: str
    eligible: bool
    status: str  # ELIGIBLE or INELIGIBLE
    sub_status: str
    ineligibility_reason: str
    next_step: str


def hosted_eligibility_check(*, phone_number: str, hosting_account_sid: str) -> HostedEligibility:
    """Can texting for `phone_number` be hosted in `hosting_account_sid` (the clinic's subaccount)?"""
    body = {
        "friendly_name": f"DentSignal eligibility {phone_number}",
        "phone_numbers": [{"phone_number": phone_number, "hosting_account_sid": hosting_account_sid}],
    }
    v1 = get_client().numbers.v1
    raw = calling(
        f"checking whether Twilio can text-enable {phone_number}",
        lambda: v1.eligibilities.create(JsonBody(body)),
    )
    results = [r for r in raw.results or () if isinstance(r, dict)]
    mine = next((r for r in results if r.get("phone_number") == phone_number), results[0] if results else {})
    status = str(mine.get("eligibility_status") or "")
    return HostedEligibility(
        phone_number=phone_number,
        eligible=status.upper() == "ELIGIBLE",
        status=status,
        sub_status=str(mine.get("eligibility_sub_status") or ""),
        ineligibility_reason=str(mine.get("ineligibility_reason") or ""),
        next_step=str(mine.get("next_step") or ""),
    )


def _order(raw: Any) -> HostedNumberOrder:
    return HostedNumberOrder(
        sid=raw.sid or "",
        account_sid=raw.account_sid or "",
        phone_number=raw.phone_number or "",
        friendly_name=raw.friendly_name or "",
        status=str(raw.status or ""),
        failure_reason=raw.failure_reason or "",
        signing_document_sid=raw.signing_document_sid or "",
        incoming_phone_number_sid=raw.incoming_phone_number_sid or "",
        next_step=raw.next_step or "",
    )


def _orders() -> Any:
    return get_client().numbers.v2.hosted_number_orders


def hosted_order_create(
    *,
    account_sid: str,
    phone_number: str,
    friendly_name: str,
    contact_phone_number: str,
    contact_title: str,
    email: str,
    address_sid: str,
    sms_url: str,
    sms_fallback_url: str,
    status_callback_url: str = "",
) -> HostedNumberOrder:
    """Order SMS hosting of `phone_number` in `account_sid` (the clinic's subaccount), its texts
    sent to `sms_url` (POST) and, on our failure, to `sms_fallback_url`; Twilio copies these onto
    the IncomingPhoneNumber it makes. `email` receives the authorization document (LOA) to sign.
    Name it `friendly_name` so a retry finds it (hosted_orders_find) instead of ordering twice."""
    optional: dict[str, Any] = {}
    if status_callback_url:
        optional.update(status_callback_url=status_callback_url, status_callback_method="POST")
    raw = calling(
        f"ordering texting for {phone_number} at Twilio (hosted SMS)",
        lambda: _orders().create(
            phone_number=phone_number,
            contact_phone_number=contact_phone_number,
            contact_title=contact_title,
            address_sid=address_sid,
            email=email,
            account_sid=account_sid,
            friendly_name=friendly_name,
            sms_capability=True,
            sms_url=sms_url,
            sms_method="POST",
            sms_fallback_url=sms_fallback_url,
            sms_fallback_method="POST",
            **optional,
        ),
    )
    return _order(raw)


def hosted_order_fetch(*, sid: str) -> HostedNumberOrder:
    """A hosted number order as Twilio has it now (its status, why it needs action)."""
    return _order(calling("fetching the hosted SMS order", lambda: _orders()(sid).fetch()))


def hosted_orders_find(*, phone_number: str = "", friendly_name: str = "") -> list[HostedNumberOrder]:
    """The orders for `phone_number` and/or named exactly `friendly_name` (all pages)."""
    filters: dict[str, Any] = {}
    if phone_number:
        filters["phone_number"] = phone_number
    if friendly_name:
        filters["friendly_name"] = friendly_name
    found = calling(
        "looking up hosted SMS orders",
        lambda: _orders().list(page_size=LIST_PAGE_SIZE, **filters),
    )
    orders = [_order(o) for o in found]
    return [
        o
        for o in orders
        if (not phone_number or o.phone_number == phone_number) and (not friendly_name or o.friendly_name == friendly_name)
    ]


def hosted_order_cancel(*, sid: str) -> None:
    """Cancel (delete) a hosted number order. Twilio allows it only while the order's status
    is `received` (numbers v2 spec, DELETE /v2/HostedNumber/Orders/{Sid}); else TwilioError."""
    calling("cancelling the hosted SMS order", lambda: _orders()(sid).delete())
