"""Porting numbers in (Numbers API v1): portability, port-in requests and their numbers.
The porting webhooks are porting_webhooks.py, the utility bill's upload documents.py.

  GET    /v1/Porting/Portability/PhoneNumber/{PhoneNumber}   portable or not, chosen by the number:
           toll-free (8XX)        not portable, MANUAL_PORTING_AVAILABLE 22133 (the spec's example);
           ...0130 .. ...0139     not portable, UNSUPPORTED 22130;
           ...0190 .. ...0199     portable, PIN and account number required;
           already in one of the sandbox's accounts: not portable, account_sid set,
           ALREADY_IN_THE_TARGET_ACCOUNT 22131 (in TargetAccountSid) or
           ALREADY_IN_ONE_OF_YOUR_TWILIO_ACCOUNTS 22136 (another of ours) (those two
           reasons and codes are from a public client's reason table, not a Twilio page);
           any other              portable;
  POST   /v1/Porting/PortIn (JSON)           202; numbers waiting for the LOA (in_review)
  GET    /v1/Porting/PortIn/PortInRequests   the account's requests (CreatedAfter, PortInRequestStatus filters)
  GET    /v1/Porting/PortIn/{KW...}          the request with its numbers
  DELETE /v1/Porting/PortIn/{KW...}          204: cancels it (not once completed or canceled)
  GET    /v1/Porting/PortIn/{KW...}/PhoneNumber/{PU...}
Every request here authenticates as the main account (as the project calls them); a port-in
request names the account it ports into. Statuses are moved on by the control API
(port_in_status_set, port_in_number_status_set; control.py): when a request completes, its
numbers appear among that account's IncomingPhoneNumbers.

Statuses (Twilio's port-in guide names them: In Review, Waiting for Signature, In Progress,
Action Required, Completed, Canceled, Expired; and per number Submitted, Pending, Rejected,
Completed, Canceled) are written in Twilio's API form, e.g. waiting_for_signature.
Objects live in the store's objects table (kinds port_in, port_in_number).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from .accounts import Sandbox
from .incoming_numbers import seeded_number
from .responses import ApiError, not_found, public
from .routing import E164, Answer, Request, Route
from .store import new_sid, now_iso8601

NUMBERS_ORIGIN = "https://numbers.twilio.com"
TOLL_FREE = re.compile(r"^\+18(00|33|44|55|66|77|88)")
MIN_LEAD_DAYS = 7
REQUEST_STATUSES = ("in_review", "waiting_for_signature", "in_progress", "action_required", "completed", "canceled", "expired")
NUMBER_STATUSES = ("in_review", "waiting_for_signature", "submitted", "pending", "rejected", "completed", "canceled")
# The request's status moves its numbers along (a rejected number is set on its own).
NUMBERS_FOLLOW = {
    "waiting_for_signature": "waiting_for_signature",
    "in_progress": "submitted",
    "completed": "completed",
    "canceled": "canceled",
    "expired": "canceled",
}
FINISHED = ("completed", "canceled", "expired")


def portability_of(sandbox: Sandbox, phone_number: str, account: str) -> dict[str, Any]:
    """The Portability resource the sandbox answers for `phone_number` (see the module docstring)."""
    last = phone_number[-4:]
    portable, pin_required, reason, code, kind = True, False, None, None, "LOCAL"
    owner = next((n["account_sid"] for n in sandbox.store.owned() if n["phone_number"] == phone_number), None)
    if owner is not None:
        portable = False
        reason, code = (
            ("ALREADY_IN_THE_TARGET_ACCOUNT", 22131) if owner == account else ("ALREADY_IN_ONE_OF_YOUR_TWILIO_ACCOUNTS", 22136)
        )
    elif TOLL_FREE.match(phone_number):
        portable, reason, code, kind = False, "MANUAL_PORTING_AVAILABLE", 22133, "TOLL-FREE"
    elif last.startswith("013"):
        portable, reason, code = False, "UNSUPPORTED", 22130
    elif last.startswith("019"):
        pin_required = True
    return {
        "phone_number": phone_number,
        "account_sid": owner,
        "portable": portable,
        "pin_and_account_number_required": pin_required,
        "not_portable_reason": reason,
        "not_portable_reason_code": code,
        "number_type": kind,
        "country": "US",
        "url": f"{NUMBERS_ORIGIN}/v1/Porting/Portability/PhoneNumber/{phone_number}",
    }


def _portability(sandbox: Sandbox, request: Request, *, account: str, phone_number: str) -> Answer:
    if not E164.match(phone_number):
        raise ApiError(400, 21211, f"Invalid 'PhoneNumber' Parameter: {phone_number}")
    target = request.query.get("TargetAccountSid") or account
    _require_our_account(sandbox, target)
    return 200, portability_of(sandbox, phone_number, target)


def _require_our_account(sandbox: Sandbox, account: str) -> None:
    if account != sandbox.account_sid and sandbox.store.get_account(account) is None:
        raise ApiError(400, 20001, f"Account {account} is not this account or one of its subaccounts")


def _required(payload: dict[str, Any], *names: str, where: str = "") -> None:
    for name in names:
        if payload.get(name) in (None, "", []):
            raise ApiError(400, 20001, f"Missing required parameter {where}{name}")


def _create(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    payload = request.json()
    _required(payload, "account_sid", "documents", "losing_carrier_information", "phone_numbers")
    carrier = payload["losing_carrier_information"]
    if not isinstance(carrier, dict):
        raise ApiError(400, 20001, "losing_carrier_information must be an object")
    _required(carrier, "customer_name", "authorized_representative", "authorized_representative_email")
    if not carrier.get("address_sid"):
        _required(carrier, "address")
        _required(carrier["address"], "street", "city", "state", "zip", "country", where="address.")
    target = payload["account_sid"]
    _require_our_account(sandbox, target)
    documents = [sandbox.store.a2p_get(str(doc)) for doc in payload["documents"]]
    for doc, found in zip(payload["documents"], documents, strict=True):
        if found is None or found["_sandbox"]["kind"] != "document":
            raise ApiError(400, 20001, f"Document {doc} was not found")
    if not any(d is not None and d["document_type"] == "utility_bill" for d in documents):
        raise ApiError(400, 20001, "At least one document of the type utility_bill is required")
    _check_target_date(payload.get("target_port_in_date"))
    sid, now = new_sid("KW"), now_iso8601()
    numbers = []
    for item in payload["phone_numbers"]:
        number = str((item or {}).get("phone_number", ""))
        if not E164.match(number):
            raise ApiError(400, 22172, "Port in request contains numbers that are not in E.164 format")
        if _in_progress(sandbox, number):
            raise ApiError(400, 22137, "Port is already in progress with one of your Twilio accounts")
        numbers.append(_new_number(sandbox, sid, target, number, pin=str(item.get("pin") or ""), carrier=carrier, now=now))
    port_in: dict[str, Any] = {
        "sid": sid,  # the store's key; PortIn has no `sid` field at Twilio (_view drops it)
        "port_in_request_sid": sid,
        "url": f"{NUMBERS_ORIGIN}/v1/Porting/PortIn/{sid}",
        "account_sid": target,
        "notification_emails": payload.get("notification_emails"),
        "target_port_in_date": payload.get("target_port_in_date"),
        "target_port_in_time_range_start": payload.get("target_port_in_time_range_start"),
        "target_port_in_time_range_end": payload.get("target_port_in_time_range_end"),
        "port_in_request_status": "in_review",
        "order_cancellation_reason": None,
        "losing_carrier_information": carrier,
        "phone_numbers": [],
        "bundle_sid": payload.get("bundle_sid"),
        "portability_advance_carrier": None,
        "auto_cancel_approval_numbers": None,
        "documents": payload["documents"],
        "date_created": now,
        "support_ticket_id": int(sid[-6:], 16),
        "signature_request_url": None,
        "_sandbox": {"kind": "port_in", "numbers": [n["phone_number_sid"] for n in numbers]},
    }
    sandbox.store.a2p_put(port_in)
    for number_obj in numbers:
        sandbox.store.a2p_put(number_obj)
    return 202, port_in_view(sandbox, port_in)


def _list(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    """The list items (port_in_request_list): no numbers, so a caller fetches each to match one."""
    query = request.query
    after, status = query.get("CreatedAfter") or "", query.get("PortInRequestStatus") or ""
    items = [
        {
            "port_in_request_sid": p["port_in_request_sid"],
            "port_in_request_status": p["port_in_request_status"],
            "status_last_updated_timestamp": p["date_created"],
            "phone_numbers_requested": len(p["_sandbox"]["numbers"]),
            "phone_numbers_ported": 0,
            "suggested_action": None,
        }
        for p in sandbox.store.a2p_list("port_in")
        if p["date_created"][:10] >= after[:10] and (not status or p["port_in_request_status"].lower() == status.lower())
    ]
    # Token paging (numbers.v1.port_in_request_list_meta): one page here, so no tokens.
    return 200, {"port_in_requests": items, "meta": {"previous_token": None, "next_token": None}}


def _check_target_date(raw: Any) -> None:
    """Twilio: the target date "must be at least 7 days in the future for US ports"."""
    if raw in (None, ""):
        return
    try:
        day = datetime.date.fromisoformat(str(raw))
    except ValueError:
        raise ApiError(400, 20001, f"Invalid target_port_in_date {raw}: expected YYYY-MM-DD") from None
    if day < datetime.date.today() + datetime.timedelta(days=MIN_LEAD_DAYS):
        raise ApiError(400, 20001, f"target_port_in_date must be at least {MIN_LEAD_DAYS} days in the future")


def _in_progress(sandbox: Sandbox, phone_number: str) -> bool:
    return any(
        n["phone_number"] == phone_number and n["port_in_phone_number_status"] not in ("rejected", "completed", "canceled")
        for n in sandbox.store.a2p_list("port_in_number")
    )


def _new_number(
    sandbox: Sandbox, request_sid: str, account: str, phone_number: str, *, pin: str, carrier: dict, now: str
) -> dict[str, Any]:
    check = portability_of(sandbox, phone_number, account)
    sid = new_sid("PU")
    missing = bool(check["pin_and_account_number_required"] and (not pin or not carrier.get("account_number")))
    return {
        "sid": sid,  # the store's key (_view drops it)
        "port_in_request_sid": request_sid,
        "phone_number_sid": sid,
        "url": f"{NUMBERS_ORIGIN}/v1/Porting/PortIn/{request_sid}/PhoneNumber/{sid}",
        "account_sid": account,
        "phone_number_type": check["number_type"],
        "date_created": now,
        "country": "US",
        "missing_required_fields": missing,
        "last_updated": now,
        "phone_number": phone_number,
        "portable": check["portable"],
        "not_portability_reason": check["not_portable_reason"],
        "not_portability_reason_code": check["not_portable_reason_code"],
        "port_in_phone_number_status": "in_review",
        "port_out_pin": int(pin) if pin.isdigit() else None,
        "rejection_reason": None,
        "rejection_reason_code": None,
        "port_date": None,
        "_sandbox": {"kind": "port_in_number", "parent": request_sid},
    }


def port_in_view(sandbox: Sandbox, port_in: dict[str, Any]) -> dict[str, Any]:
    """The PortIn resource with its numbers as Twilio lists them (phone number results)."""
    numbers = [sandbox.store.a2p_get(sid) for sid in port_in["_sandbox"]["numbers"]]
    results = [
        {
            "phone_number": n["phone_number"],
            "port_in_phone_number_sid": n["phone_number_sid"],
            "port_in_phone_number_status": n["port_in_phone_number_status"],
            "portable": n["portable"],
            "not_portability_reason": n["not_portability_reason"],
            "not_portability_reason_code": n["not_portability_reason_code"],
            "number_type": n["phone_number_type"],
            "rejection_reason": n["rejection_reason"],
            "rejection_reason_code": None if n["rejection_reason_code"] is None else str(n["rejection_reason_code"]),
            "port_date": n["port_date"],
            "status_last_time_updated_timestamp": n["last_updated"],
            "external_porting_vendor_phone_number_id": None,
        }
        for n in numbers
        if n is not None
    ]
    return {**_view(port_in), "phone_numbers": results}


def _view(obj: dict[str, Any]) -> dict[str, Any]:
    """A PortIn or PortIn PhoneNumber as Twilio returns it: without the store's key."""
    return {k: v for k, v in public(obj).items() if k != "sid"}


def _port_in(sandbox: Sandbox, sid: str) -> dict[str, Any]:
    found = sandbox.store.a2p_get(sid)
    if found is None or found["_sandbox"]["kind"] != "port_in":
        raise not_found(sid)
    return found


def _fetch(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    return 200, port_in_view(sandbox, _port_in(sandbox, sid))


def _cancel(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    port_in = _port_in(sandbox, sid)
    if port_in["port_in_request_status"] in FINISHED:
        raise ApiError(400, 20001, f"A port in request that is {port_in['port_in_request_status']} cannot be canceled")
    port_in_status_set(sandbox, sid, "canceled", cancellation_reason="Canceled by the customer")
    return 204, None


def _number_fetch(sandbox: Sandbox, request: Request, *, account: str, sid: str, number_sid: str) -> Answer:
    number = sandbox.store.a2p_get(number_sid)
    if number is None or number["_sandbox"]["kind"] != "port_in_number" or number["port_in_request_sid"] != sid:
        raise not_found(number_sid)
    return 200, _view(number)


def port_in_status_set(sandbox: Sandbox, sid: str, status: str, *, cancellation_reason: str = "") -> dict[str, Any]:
    """Move a port-in request (and its numbers that are not rejected) to `status`; on completed,
    its numbers join the target account's IncomingPhoneNumbers. KeyError for an unknown SID,
    ValueError for an unknown status."""
    if status not in REQUEST_STATUSES:
        raise ValueError(status)
    port_in = sandbox.store.a2p_get(sid)
    if port_in is None or port_in["_sandbox"]["kind"] != "port_in":
        raise KeyError(sid)
    now = now_iso8601()
    changes: dict[str, Any] = {"port_in_request_status": status}
    if status == "waiting_for_signature":
        changes["signature_request_url"] = f"https://sandbox.twilio.invalid/loa/{sid}"
    if status == "canceled":
        changes["order_cancellation_reason"] = cancellation_reason or "Canceled"
    follow = NUMBERS_FOLLOW.get(status)
    for number_sid in port_in["_sandbox"]["numbers"]:
        number = sandbox.store.a2p_get(number_sid)
        if number is None or follow is None or number["port_in_phone_number_status"] in ("rejected", "canceled"):
            continue
        number_changes: dict[str, Any] = {"port_in_phone_number_status": follow, "last_updated": now}
        if follow == "completed":
            number_changes["port_date"] = now
            _join_incoming_numbers(sandbox, number["phone_number"], port_in["account_sid"])
        sandbox.store.a2p_update(number_sid, number_changes)
    return sandbox.store.a2p_update(sid, changes)


def port_in_number_status_set(
    sandbox: Sandbox, number_sid: str, status: str, *, rejection_reason: str = "", rejection_reason_code: int | None = None
) -> dict[str, Any]:
    """Move one number of a port-in request to `status`; a rejected number carries the losing
    carrier's reason and puts its request in action_required. KeyError / ValueError as above."""
    if status not in NUMBER_STATUSES:
        raise ValueError(status)
    number = sandbox.store.a2p_get(number_sid)
    if number is None or number["_sandbox"]["kind"] != "port_in_number":
        raise KeyError(number_sid)
    rejected = status == "rejected"
    changes: dict[str, Any] = {
        "port_in_phone_number_status": status,
        "last_updated": now_iso8601(),
        "rejection_reason": (rejection_reason or "Rejected by the losing carrier") if rejected else None,
        "rejection_reason_code": rejection_reason_code if rejected else None,
    }
    if status == "completed":
        changes["port_date"] = changes["last_updated"]
        _join_incoming_numbers(sandbox, number["phone_number"], number["account_sid"])
    updated = sandbox.store.a2p_update(number_sid, changes)
    if rejected:
        sandbox.store.a2p_update(number["port_in_request_sid"], {"port_in_request_status": "action_required"})
    return updated


def _join_incoming_numbers(sandbox: Sandbox, phone_number: str, account: str) -> None:
    """A ported number is the account's own now: an IncomingPhoneNumber without webhooks yet."""
    if phone_number in sandbox.store.owned_numbers_set():
        return
    sandbox.store.insert_number(seeded_number(sandbox, {"phone_number": phone_number, "account_sid": account}))


_PORT_IN = r"/v1/Porting/PortIn/(?P<sid>KW[0-9a-f]{32})"
# Whole paths; each acts as the account of the credentials (the main account).
ROUTES = (
    Route("GET", r"/v1/Porting/Portability/PhoneNumber/(?P<phone_number>[^/]+)", _portability),
    Route("POST", r"/v1/Porting/PortIn", _create),
    Route("GET", r"/v1/Porting/PortIn/PortInRequests", _list),
    Route("GET", _PORT_IN, _fetch),
    Route("DELETE", _PORT_IN, _cancel),
    Route("GET", _PORT_IN + r"/PhoneNumber/(?P<number_sid>PU[0-9a-f]{32})", _number_fetch),
)
