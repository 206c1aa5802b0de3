"""Messaging Services (Messaging API v1), scoped by the credentials: each account sees its own.

  POST/GET /v1/Services                         (create: 20001; list)
  POST/GET /v1/Services/{Sid}/PhoneNumbers      (add a sender of the account: 21710, 21712; list)
  DELETE   /v1/Services/{Sid}/PhoneNumbers/{PN} (take a sender out of the pool: 204; 20404 when not in it)
A message sent with a MessagingServiceSid goes out from the service's first sender (21704
when it has none). The control API's POST messaging-services makes one (in the main account unless it names another).
A service's A2P campaign is in campaigns.py.
"""

from __future__ import annotations

import re
from typing import Any

from .accounts import Sandbox
from .responses import ApiError, method_not_allowed, not_found, page_size, public, v1_page
from .routing import Answer, Request, Route
from .store import new_sid, now_iso8601

MESSAGING_ORIGIN = "https://messaging.twilio.com"


def new_service(sandbox: Sandbox, spec: dict[str, Any]) -> dict[str, Any]:
    """A Messaging Service as `spec` describes it (not stored yet), in its "account_sid" (the main account by default)."""
    sid, now = new_sid("MG"), now_iso8601()
    url = f"{MESSAGING_ORIGIN}/v1/Services/{sid}"
    return {
        "sid": sid,
        "account_sid": spec.get("account_sid") or sandbox.account_sid,
        "friendly_name": spec.get("friendly_name", "Messaging Service"),
        "date_created": now,
        "date_updated": now,
        "inbound_request_url": spec.get("inbound_request_url", "https://example.com/inbound"),
        "inbound_method": "POST",
        "fallback_url": "https://example.com/fallback",
        "fallback_method": "POST",
        "status_callback": "https://example.com/status",
        "sticky_sender": True,
        "mms_converter": True,
        "smart_encoding": True,
        "scan_message_content": "inherit",
        "fallback_to_long_code": True,
        "area_code_geomatch": True,
        "synchronous_validation": False,
        "validity_period": 14400,
        "url": url,
        "links": {"phone_numbers": f"{url}/PhoneNumbers"},
        "usecase": "undeclared",
        "us_app_to_person_registered": False,
        "use_inbound_webhook_on_number": bool(spec.get("use_inbound_webhook_on_number", False)),
        "_sandbox": {"number_sids": list(spec.get("number_sids", []))},
    }


def service_sender(sandbox: Sandbox, service_sid: str) -> str:
    """The number a Messaging Service sends from (its first sender); Twilio's errors otherwise."""
    service = service_of(sandbox, service_sid, None)
    owned = {n["sid"]: n["phone_number"] for n in sandbox.store.owned()}
    senders = [owned[sid] for sid in service["_sandbox"]["number_sids"] if sid in owned]
    if not senders:
        raise ApiError(400, 21704, "The Messaging Service contains no phone numbers")
    return senders[0]


def service_of(sandbox: Sandbox, sid: str, account: str | None) -> dict[str, Any]:
    """The Messaging Service `sid` of `account` (of any account with None); 20404 otherwise."""
    service = sandbox.store.get_service(sid)
    if service is None or (account is not None and service.get("account_sid") != account):
        raise not_found(f"/v1/Services/{sid}")
    return service


def service_reads(sandbox: Sandbox, request: Request) -> Answer:
    """Every /v1/ path that no route serves: the service list and a service's senders.

    Not routes, for the order of the checks: the request is authenticated, then any method
    but GET is a 405, then a bad PageSize a 20007, then any path but these two a 404.
    """
    method, path = request.method, request.path
    account = sandbox.acting_account(request.environ, None)
    if method != "GET":
        raise method_not_allowed(method, path)
    size = page_size(request.query, default=50)
    services = sandbox.store.services_of(account, main=account == sandbox.account_sid)
    if path == "/v1/Services":
        return 200, v1_page("services", MESSAGING_ORIGIN + path, size, [public(s) for s in services])
    match = re.fullmatch(r"/v1/Services/(?P<sid>MG[0-9a-fA-F]{32})/PhoneNumbers", path)
    service = next((s for s in services if match and s["sid"] == match["sid"]), None)
    if service is None:
        raise not_found(path)
    owned = sandbox.store.numbers_by_sid(service["_sandbox"]["number_sids"])
    numbers = [
        _service_number(service, sid, owned[sid]["phone_number"], account, service["date_created"], service["date_updated"])
        for sid in service["_sandbox"]["number_sids"]
        if sid in owned
    ]
    return 200, v1_page("phone_numbers", MESSAGING_ORIGIN + path, size, numbers)


def _service_number(service: dict[str, Any], sid: str, phone_number: str, account: str, created: str, updated: str) -> dict:
    """A sender of a Messaging Service as Messaging v1 returns it."""
    return {
        "sid": sid,
        "account_sid": account,
        "service_sid": service["sid"],
        "date_created": created,
        "date_updated": updated,
        "phone_number": phone_number,
        "country_code": "US",
        "capabilities": ["SMS", "MMS", "Voice"],
        "url": f"{MESSAGING_ORIGIN}/v1/Services/{service['sid']}/PhoneNumbers/{sid}",
    }


def _create(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    form = request.form
    request.require("FriendlyName")
    service = new_service(
        sandbox,
        {
            "friendly_name": form["FriendlyName"],
            "inbound_request_url": form.get("InboundRequestUrl") or None,
            "use_inbound_webhook_on_number": form.get("UseInboundWebhookOnNumber", "").lower() == "true",
        },
    )
    if form.get("StatusCallback"):
        service["status_callback"] = form["StatusCallback"]
    service["account_sid"] = account  # the service lives in the account that created it
    sandbox.store.insert_service(service)
    return 201, public(service)


def _add_number(sandbox: Sandbox, request: Request, *, account: str, service: str) -> Answer:
    store = sandbox.store
    target = service_of(sandbox, service, account)
    phone_sid = request.form.get("PhoneNumberSid", "")
    number = store.get_number(phone_sid)
    if number is None or number.get("account_sid") != account:
        raise not_found(phone_sid)
    for other in store.services():
        if phone_sid in other["_sandbox"]["number_sids"]:
            if other["sid"] == service:
                raise ApiError(409, 21710, "Phone Number is already in the Messaging Service.")
            raise ApiError(409, 21712, "Phone Number or Short Code is associated with another Messaging Service.")
    store.update_service(service, {}, add_number=phone_sid)
    now = now_iso8601()
    return 201, _service_number(target, phone_sid, number["phone_number"], account, now, now)


def _remove_number(sandbox: Sandbox, request: Request, *, account: str, service: str, sid: str) -> Answer:
    """Twilio answers 204 with no body; the number stays on the account."""
    target = service_of(sandbox, service, account)
    if sid not in target["_sandbox"]["number_sids"]:
        raise not_found(f"/v1/Services/{service}/PhoneNumbers/{sid}")
    sandbox.store.update_service(service, {}, remove_number=sid)
    return 204, None


# Whole paths; each acts in the account of the credentials. The reads are service_reads.
ROUTES = (
    Route("POST", r"/v1/Services", _create),
    Route("POST", r"/v1/Services/(?P<service>MG[0-9a-f]{32})/PhoneNumbers", _add_number),
    Route("DELETE", r"/v1/Services/(?P<service>MG[0-9a-f]{32})/PhoneNumbers/(?P<sid>PN[0-9a-f]{32})", _remove_number),
)
