"""Hosted number orders (Numbers API v2): text-enabling a number whose calls stay with its carrier.

  POST   /v1/HostedNumber/Eligibility     200 (JSON {"phone_numbers": [{"phone_number", "hosting_account_sid"}]}):
                                          ELIGIBLE, or INELIGIBLE with the spec example's tokens: a number
                                          not in E.164 NUMBER_FORMAT_INELIGIBLE / EDIT_INELIGIBLE_NUMBER, a
                                          number already in one of our accounts ALREADY_IN_TWILIO
                                          ("Numbers already owned by a Twilio account for voice services
                                          cannot be hosted", Hosted Numbers FAQ)
  POST   /v2/HostedNumber/Orders          201 (PhoneNumber, ContactPhoneNumber, AddressSid, Email;
                                          AccountSid: the main account or a subaccount)
  GET    /v2/HostedNumber/Orders          filtered by PhoneNumber, FriendlyName, Status
  GET    /v2/HostedNumber/Orders/{HR...}
  DELETE /v2/HostedNumber/Orders/{HR...}  204 while the order is `received`; else 400 (the spec:
                                          "Cancel the HostedNumberOrder (only available when the
                                          status is in `received`)"; Twilio documents no error code
                                          for the refusal, so the sandbox uses 20001)
An order starts twilio-processing; the control API moves it on (hosted_order_status_set,
control.py) through received, pending-verification, verified, pending-loa,
carrier-processing, testing to completed, or to failed / action-required with a
failure_reason. When completed, the number joins the order's account as an
IncomingPhoneNumber with SMS only, its SmsUrl and SmsFallbackUrl copied from the order.
Objects live in the store's objects table (kind hosted_order).
"""

from __future__ import annotations

from typing import Any

from .accounts import Sandbox
from .incoming_numbers import seeded_number
from .porting import TOLL_FREE
from .responses import ApiError, not_found, public, v1_public_page
from .routing import E164, Answer, Request, Route
from .store import new_sid, now_iso8601

ORDERS_URL = "https://numbers.twilio.com/v2/HostedNumber/Orders"
STATUSES = (
    "twilio-processing",
    "received",
    "pending-verification",
    "verified",
    "pending-loa",
    "carrier-processing",
    "testing",
    "completed",
    "failed",
    "action-required",
)


def _eligibility(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    numbers = request.json().get("phone_numbers")
    if not isinstance(numbers, list) or not numbers:
        raise ApiError(400, 20001, "Missing required parameter phone_numbers")
    owned = {n["phone_number"]: n["account_sid"] for n in sandbox.store.owned()}
    results = []
    for item in numbers:
        number = str((item or {}).get("phone_number", ""))
        result: dict[str, Any] = {
            "phone_number": number,
            "account_sid": (item or {}).get("hosting_account_sid") or account,
            "eligibility_status": "ELIGIBLE",
            "eligibility_sub_status": None,
            "ineligibility_reason": None,
            "next_step": None,
            "voice_provider": None,
            "messaging_provider": None,
            "phone_number_type": "TOLL_FREE" if TOLL_FREE.match(number) else "LOCAL",
            "hosting_order_sid": None,
            "hosting_order_status": None,
            "iso_country_code": "US",
            "inventory_status": None,
            "inventory_account_sid": None,
        }
        if not E164.match(number):
            result.update(
                eligibility_status="INELIGIBLE",
                eligibility_sub_status="NUMBER_FORMAT_INELIGIBLE",
                ineligibility_reason="NUMBER_FORMAT_INELIGIBLE",
                next_step="EDIT_INELIGIBLE_NUMBER",
                phone_number_type=None,
                iso_country_code=None,
            )
        elif number in owned:
            result.update(
                eligibility_status="INELIGIBLE",
                eligibility_sub_status="ALREADY_IN_TWILIO",
                ineligibility_reason="ALREADY_IN_TWILIO",
                next_step="CONTACT_SUPPORT_INELIGIBLE_INVENTORY_STATUS",
                inventory_status="in-use",
                inventory_account_sid=owned[number],
            )
        results.append(result)
    return 200, {"results": results}


def _create(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    form = request.form
    request.require("PhoneNumber", "ContactPhoneNumber", "AddressSid", "Email")
    for key in ("PhoneNumber", "ContactPhoneNumber"):
        if not E164.match(form[key]):
            raise ApiError(400, 21211, f"Invalid '{key}' Parameter: {form[key]}")
    target = form.get("AccountSid") or account
    if target != sandbox.account_sid and sandbox.store.get_account(target) is None:
        raise ApiError(400, 20001, f"AccountSid {target} is not this account or one of its subaccounts")
    sid, now = new_sid("HR"), now_iso8601()
    order: dict[str, Any] = {
        "sid": sid,
        "account_sid": target,
        "incoming_phone_number_sid": None,
        "address_sid": form["AddressSid"],
        "signing_document_sid": None,
        "phone_number": form["PhoneNumber"],
        "capabilities": {"sms": True, "voice": False, "mms": False, "fax": False},
        "friendly_name": form.get("FriendlyName") or form["PhoneNumber"],
        "status": "twilio-processing",
        "failure_reason": None,
        "date_created": now,
        "date_updated": now,
        "email": form["Email"],
        "cc_emails": request.lists.get("CcEmails") or [],
        "url": f"{ORDERS_URL}/{sid}",
        "contact_title": form.get("ContactTitle"),
        "contact_phone_number": form["ContactPhoneNumber"],
        "bulk_hosting_request_sid": None,
        "next_step": None,
        "verification_attempts": 0,
        "verification_call_sids": [],
        "verification_call_delay": 0,
        "verification_call_extension": None,
        "verification_code": None,
        "verification_type": "phone-call",
        "_sandbox": {
            "kind": "hosted_order",
            "sms_url": form.get("SmsUrl"),
            "sms_method": form.get("SmsMethod") or "POST",
            "sms_fallback_url": form.get("SmsFallbackUrl"),
            "sms_fallback_method": form.get("SmsFallbackMethod") or "POST",
            "status_callback": form.get("StatusCallbackUrl"),
        },
    }
    sandbox.store.a2p_put(order)
    return 201, public(order)


def _order(sandbox: Sandbox, sid: str) -> dict[str, Any]:
    found = sandbox.store.a2p_get(sid)
    if found is None or found["_sandbox"]["kind"] != "hosted_order":
        raise not_found(sid)
    return found


def _list(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    query = request.query
    filters = {"PhoneNumber": "phone_number", "FriendlyName": "friendly_name", "Status": "status"}
    items = [
        o
        for o in sandbox.store.a2p_list("hosted_order")
        if all(o.get(field) == query[param] for param, field in filters.items() if query.get(param))
    ]
    return 200, v1_public_page("items", ORDERS_URL, items, query)


def _fetch(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    return 200, public(_order(sandbox, sid))


def _delete(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    order = _order(sandbox, sid)
    if order["status"] != "received":
        raise ApiError(400, 20001, "A hosted number order can be cancelled only while its status is received")
    sandbox.store.a2p_delete(sid)
    return 204, None


def hosted_order_status_set(sandbox: Sandbox, sid: str, status: str, *, failure_reason: str = "") -> dict[str, Any]:
    """Move a hosted number order to `status`: pending-loa gets its authorization document,
    completed puts the number (SMS only) among its account's IncomingPhoneNumbers, failed and
    action-required carry `failure_reason`. KeyError for an unknown SID, ValueError for an unknown status."""
    if status not in STATUSES:
        raise ValueError(status)
    order = sandbox.store.a2p_get(sid)
    if order is None or order["_sandbox"]["kind"] != "hosted_order":
        raise KeyError(sid)
    changes: dict[str, Any] = {"status": status, "date_updated": now_iso8601(), "failure_reason": None}
    if status in ("failed", "action-required"):
        changes["failure_reason"] = failure_reason or "The authorization document was not signed"
    if status == "pending-loa" and not order["signing_document_sid"]:
        changes["signing_document_sid"] = new_sid("PX")
    if status == "completed" and not order["incoming_phone_number_sid"]:
        meta = order["_sandbox"]
        spec = {
            "phone_number": order["phone_number"],
            "account_sid": order["account_sid"],
            "friendly_name": order["friendly_name"],
            "sms_url": meta.get("sms_url"),
            "sms_method": meta.get("sms_method"),
            "sms_fallback_url": meta.get("sms_fallback_url"),
            "sms_fallback_method": meta.get("sms_fallback_method"),
            "capabilities": {"sms": True, "voice": False},
        }
        number = seeded_number(sandbox, {k: v for k, v in spec.items() if v is not None})
        if sandbox.store.insert_number(number):
            changes["incoming_phone_number_sid"] = number["sid"]
    return sandbox.store.a2p_update(sid, changes)


_ORDER = r"/v2/HostedNumber/Orders/(?P<sid>HR[0-9a-f]{32})"
# Whole paths; each acts in the account of the credentials (AccountSid may name a subaccount).
ROUTES = (
    Route("POST", r"/v1/HostedNumber/Eligibility", _eligibility),
    Route("POST", r"/v2/HostedNumber/Orders", _create),
    Route("GET", r"/v2/HostedNumber/Orders", _list),
    Route("GET", _ORDER, _fetch),
    Route("DELETE", _ORDER, _delete),
)
