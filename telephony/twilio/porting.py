"""Porting a clinic's published number in: portability, port-in requests, their numbers,
the porting webhooks and the utility bill (Numbers API v1, public beta, US non-toll-free only).

Endpoints and parameters from Twilio's twilio_numbers_v1.json (npm @twilio/cli-core) and
Twilio's "Port phone numbers using Twilio APIs" guide (https://www.twilio.com/docs/phone-numbers/port-in):
  GET    /v1/Porting/Portability/PhoneNumber/{PhoneNumber}?TargetAccountSid=   portability_check
  POST   /v1/Porting/PortIn (JSON body)                                       port_in_create
  GET    /v1/Porting/PortIn/{Sid}, DELETE (cancel)                            port_in_fetch, port_in_cancel
  GET    /v1/Porting/PortIn/PortInRequests?CreatedAfter= (+ GET each)         port_ins_find
  GET    /v1/Porting/PortIn/{Sid}/PhoneNumber/{PhoneNumberSid}                port_in_number_fetch
  POST   /v1/Porting/Configuration/Webhook (JSON), GET, DELETE .../{Type}     porting_webhooks_*
  POST   https://numbers-upload.twilio.com/v1/Documents (multipart)           utility_bill_upload
The Documents API is in no OpenAPI description: its host, form fields (document_type,
friendly_name, File) and answer (sid, document_type, status, mime_type, ...) are from
https://www.twilio.com/docs/phone-numbers/document-apis; the SDK has no resource for it, so
it goes through the SDK client's own request() (same credentials, same configured origins).

Every call is made with the main account's credentials: the port-in request names the
clinic's subaccount in `account_sid` (the portability check in TargetAccountSid), and "the
parent account receives all webhooks for any port-in requests created on the parent account
or any subaccounts" (https://www.twilio.com/docs/phone-numbers/port-in/porting-webhooks).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

from twilio.base.exceptions import TwilioRestException
from urllib3 import encode_multipart_formdata

from telephony.twilio.client import JsonBody, get_client
from telephony.twilio.errors import calling
from telephony.twilio.http import TWILIO_NUMBERS_ORIGIN, TWILIO_NUMBERS_UPLOAD_ORIGIN

# Twilio: "This date must be at least 7 days in the future for US ports" (PortIn target_port_in_date).
PORT_IN_MIN_LEAD_DAYS = 7
DOCUMENTS_URL = f"{TWILIO_NUMBERS_UPLOAD_ORIGIN}/v1/Documents"
PORT_IN_LIST_URL = f"{TWILIO_NUMBERS_ORIGIN}/v1/Porting/PortIn/PortInRequests"
UTILITY_BILL = "utility_bill"
# The porting webhook events of a port-in request and its numbers (porting webhooks page, "Webhook types").
PORT_IN_EVENTS = (
    "PortInWaitingForSignature",
    "PortInInProgress",
    "PortInCompleted",
    "PortInActionRequired",
    "PortInCanceled",
    "PortInExpired",
    "PortInPhoneNumberWaitingForSignature",
    "PortInPhoneNumberSubmitted",
    "PortInPhoneNumberPending",
    "PortInPhoneNumberCompleted",
    "PortInPhoneNumberRejected",
)


@dataclass(frozen=True)
class Portability:
    """Whether Twilio can port a number in through the API, and what a port needs."""

    phone_number: str
    portable: bool
    pin_and_account_number_required: bool
    not_portable_reason: str = ""
    not_portable_reason_code: int | None = None
    number_type: str = ""
    account_sid: str = ""  # set only when the number is already in one of our accounts


@dataclass(frozen=True)
class LosingCarrierInfo:
    """The clinic as the losing carrier's customer service record has it: the LOA is made from
    this, and most rejections are a mismatch with that record."""

    customer_name: str
    authorized_representative: str
    authorized_representative_email: str
    street: str
    city: str
    state: str
    zip: str
    customer_type: str = "Business"
    account_number: str = ""
    account_telephone_number: str = ""
    street_2: str = ""
    country: str = "US"

    def as_json(self) -> dict[str, Any]:
        """The `losing_carrier_information` object of POST /v1/Porting/PortIn (empty optional fields left out)."""
        address = {"street": self.street, "city": self.city, "state": self.state, "zip": self.zip, "country": self.country}
        if self.street_2:
            address["street_2"] = self.street_2
        out: dict[str, Any] = {
            "customer_type": self.customer_type,
            "customer_name": self.customer_name,
            "authorized_representative": self.authorized_representative,
            "authorized_representative_email": self.authorized_representative_email,
            "address": address,
        }
        if self.account_number:
            out["account_number"] = self.account_number
        if self.account_telephone_number:
            out["account_telephone_number"] = self.account_telephone_number
        return out


@dataclass(frozen=True)
class PortInNumber:
    """One number of a port-in request (PU...), with the losing carrier's rejection if any."""

    sid: str
    phone_number: str
    status: str
    rejection_reason: str = ""
    rejection_reason_code: int | None = None
    port_date: str = ""
    portable: bool | None = None
    not_portability_reason: str = ""
    not_portability_reason_code: int | None = None


@dataclass(frozen=True)
class PortInRequest:
    """A port-in request (KW...) for a clinic's subaccount."""

    sid: str
    account_sid: str
    status: str
    target_port_in_date: str
    signature_request_url: str
    order_cancellation_reason: str
    numbers: tuple[PortInNumber, ...]
    documents: tuple[str, ...]


@dataclass(frozen=True)
class PortingWebhooks:
    """Where Twilio sends the porting events of our account and all its subaccounts."""

    port_in_target_url: str
    port_out_target_url: str
    notifications_of: tuple[str, ...]


@dataclass(frozen=True)
class PortingDocument:
    """An uploaded document (RD...): the utility bill a US port-in request needs.
    An empty `mime_type` means Twilio received no content (Documents API page)."""

    sid: str
    document_type: str
    status: str
    mime_type: str


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _numbers_v1() -> Any:
    return get_client().numbers.v1


def portability_check(*, phone_number: str, target_account_sid: str) -> Portability:
    """Can `phone_number` be ported into `target_account_sid` (the clinic's subaccount)?"""
    raw = calling(
        f"checking whether {phone_number} can be ported to Twilio",
        lambda: _numbers_v1().porting_portabilities(phone_number).fetch(target_account_sid=target_account_sid),
    )
    return Portability(
        phone_number=raw.phone_number or phone_number,
        portable=bool(raw.portable),
        pin_and_account_number_required=bool(raw.pin_and_account_number_required),
        not_portable_reason=raw.not_portable_reason or "",
        not_portable_reason_code=_int_or_none(raw.not_portable_reason_code),
        number_type=str(raw.number_type or ""),
        account_sid=raw.account_sid or "",
    )


def _number(raw: dict[str, Any]) -> PortInNumber:
    """A number as the PortIn resource lists it (`port_in_phone_number_sid`) or as its own
    resource has it (`phone_number_sid`)."""
    return PortInNumber(
        sid=raw.get("port_in_phone_number_sid") or raw.get("phone_number_sid") or "",
        phone_number=raw.get("phone_number") or "",
        status=raw.get("port_in_phone_number_status") or "",
        rejection_reason=raw.get("rejection_reason") or "",
        rejection_reason_code=_int_or_none(raw.get("rejection_reason_code")),
        port_date=str(raw.get("port_date") or ""),
        portable=raw.get("portable"),
        not_portability_reason=raw.get("not_portability_reason") or "",
        not_portability_reason_code=_int_or_none(raw.get("not_portability_reason_code")),
    )


def _request(raw: Any) -> PortInRequest:
    return PortInRequest(
        sid=raw.port_in_request_sid or "",
        account_sid=raw.account_sid or "",
        status=raw.port_in_request_status or "",
        target_port_in_date=str(raw.target_port_in_date or ""),
        signature_request_url=raw.signature_request_url or "",
        order_cancellation_reason=raw.order_cancellation_reason or "",
        numbers=tuple(_number(n) for n in raw.phone_numbers or () if isinstance(n, dict)),
        documents=tuple(raw.documents or ()),
    )


def port_in_create(
    *,
    account_sid: str,
    phone_number: str,
    losing_carrier: LosingCarrierInfo,
    document_sids: tuple[str, ...],
    target_port_in_date: datetime.date,
    pin: str = "",
    notification_emails: tuple[str, ...] = (),
) -> PortInRequest:
    """Ask Twilio to port `phone_number` into `account_sid` (the clinic's subaccount) on
    `target_port_in_date` (at least PORT_IN_MIN_LEAD_DAYS ahead, or Twilio refuses).

    Twilio then e-mails the LOA to the authorized representative (and its
    `signature_request_url` is on the request): nothing moves until it is signed.
    """
    number: dict[str, Any] = {"phone_number": phone_number}
    if pin:
        number["pin"] = pin
    body: dict[str, Any] = {
        "account_sid": account_sid,
        "phone_numbers": [number],
        "losing_carrier_information": losing_carrier.as_json(),
        "documents": list(document_sids),
        "target_port_in_date": target_port_in_date.isoformat(),
    }
    if notification_emails:
        body["notification_emails"] = list(notification_emails)
    v1 = _numbers_v1()
    raw = calling(
        f"asking Twilio to port {phone_number} in",
        lambda: v1.porting_port_ins.create(JsonBody(body)),
    )
    return _request(raw)


def port_in_fetch(*, sid: str) -> PortInRequest:
    """A port-in request as Twilio has it now (its status, its numbers' statuses)."""
    return _request(calling("fetching the port-in request", lambda: _numbers_v1().porting_port_ins(sid).fetch()))


def port_ins_find(*, phone_number: str, account_sid: str, created_after: datetime.date) -> list[PortInRequest]:
    """The port-in requests for `phone_number` into `account_sid` created since `created_after`:
    a create whose answer was lost is found here before another is made. Twilio's list has no
    numbers (port_in_request_list), so each listed request is fetched. The SDK's list cannot
    read this answer (its `meta` holds tokens, not the page URLs the SDK's Page expects), so
    it is a plain request; one page of up to 100 (Size's maximum) is plenty for a few minutes."""
    listed = calling(
        "looking up the port-in requests made",
        lambda: _raw_json("GET", PORT_IN_LIST_URL, params={"CreatedAfter": created_after.isoformat(), "Size": 100}),
    )
    found = []
    for item in listed.get("port_in_requests") or ():
        sid = item.get("port_in_request_sid") if isinstance(item, dict) else None
        if not sid:
            continue
        request = port_in_fetch(sid=sid)
        if request.account_sid == account_sid and any(n.phone_number == phone_number for n in request.numbers):
            found.append(request)
    return found


def port_in_cancel(*, sid: str) -> None:
    """Cancel a port-in request (Twilio allows it until the port is completed)."""
    calling("cancelling the port-in request", lambda: _numbers_v1().porting_port_ins(sid).delete())


def port_in_number_fetch(*, request_sid: str, number_sid: str) -> PortInNumber:
    """One number of a port-in request: its status and the losing carrier's rejection, if any."""
    raw = calling(
        "fetching a number of the port-in request",
        lambda: _numbers_v1().porting_port_in_phone_number(request_sid, number_sid).fetch(),
    )
    return _number(
        {
            "phone_number_sid": raw.phone_number_sid,
            "phone_number": raw.phone_number,
            "port_in_phone_number_status": raw.port_in_phone_number_status,
            "rejection_reason": raw.rejection_reason,
            "rejection_reason_code": raw.rejection_reason_code,
            "port_date": raw.port_date.isoformat() if isinstance(raw.port_date, datetime.datetime) else raw.port_date,
            "portable": raw.portable,
            "not_portability_reason": raw.not_portability_reason,
            "not_portability_reason_code": raw.not_portability_reason_code,
        }
    )


def _webhooks(raw: Any) -> PortingWebhooks:
    return PortingWebhooks(
        port_in_target_url=raw.port_in_target_url or "",
        port_out_target_url=raw.port_out_target_url or "",
        notifications_of=tuple(raw.notifications_of or ()),
    )


def porting_webhooks_set(*, port_in_url: str, events: tuple[str, ...] = PORT_IN_EVENTS) -> PortingWebhooks:
    """Point the account's port-in events (its subaccounts' too) at `port_in_url`; harmless to repeat."""
    body = {"port_in_target_url": port_in_url, "notifications_of": list(events)}
    v1 = _numbers_v1()
    return _webhooks(
        calling(
            "setting where Twilio reports port-in progress",
            lambda: v1.porting_webhook_configurations.create(JsonBody(body)),
        )
    )


def porting_webhooks_fetch() -> PortingWebhooks:
    """Where Twilio sends porting events now (empty URLs when none is configured)."""
    return _webhooks(calling("reading where Twilio reports port-in progress", lambda: _numbers_v1().webhook.fetch()))


def porting_webhooks_delete(*, webhook_type: str = "PORT_IN") -> None:
    """Stop the porting events of one type (PORT_IN or PORT_OUT)."""
    calling(
        "removing the port-in progress webhook",
        lambda: _numbers_v1().porting_webhook_configurations_delete(webhook_type).delete(),
    )


def _raw_json(method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    """A request the SDK has no working resource for, through the SDK client's own request()
    (same credentials, same configured origins); the JSON object answered, or TwilioRestException."""
    response = get_client().request(method, url, **kwargs)
    try:
        answer = json.loads(response.text or "{}")
    except ValueError:
        answer = {}
    answer = answer if isinstance(answer, dict) else {}
    if response.status_code >= 400:
        code = answer.get("code")
        raise TwilioRestException(
            response.status_code,
            url,
            msg=answer.get("message") or f"HTTP {response.status_code}",
            code=code if isinstance(code, int) else None,
        )
    return answer


def utility_bill_upload(*, friendly_name: str, filename: str, content: bytes, content_type: str) -> PortingDocument:
    """Upload the clinic's utility bill (an image or PDF, at most 10 MB, dated within 30 days)
    for a port-in request; its SID goes into the request's `documents`."""
    body, multipart_type = encode_multipart_formdata(
        {
            "document_type": UTILITY_BILL,
            "friendly_name": friendly_name,
            "File": (filename, content, content_type),
        }
    )

    raw = calling(
        "uploading the clinic's utility bill",
        lambda: _raw_json("POST", DOCUMENTS_URL, data=body, headers={"Content-Type": multipart_type}),
    )
    return PortingDocument(
        sid=raw.get("sid") or "",
        document_type=raw.get("document_type") or "",
        status=raw.get("status") or "",
        mime_type=raw.get("mime_type") or "",
    )
