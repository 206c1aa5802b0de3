"""A2P campaigns (Messaging API v1): /v1/Services/{MessagingServiceSid}/Compliance/Usa2p.

  POST/GET   .../Compliance/Usa2p          (register on a service of the account, with an
                                            APPROVED brand: 20001, 21717; one per service: 21714)
  GET/DELETE .../Compliance/Usa2p/{Sid}    (fetch; delete, so another can be registered: 204)
A campaign is submitted when registered and decided by its review (reviews.py); it acts in
the account of the credentials, as Trust Hub does.
"""

from __future__ import annotations

import time

from .accounts import Sandbox
from .messaging_services import MESSAGING_ORIGIN, service_of
from .responses import ApiError, not_found, public, v1_public_page
from .reviews import a2p_object, reviewed
from .routing import Answer, Request, Route
from .store import new_sid, now_iso8601


def _url(service: str) -> str:
    return f"{MESSAGING_ORIGIN}/v1/Services/{service}/Compliance/Usa2p"


def _create(sandbox: Sandbox, request: Request, *, account: str, service: str) -> Answer:
    store, form, lists = sandbox.store, request.form, request.lists
    service_of(sandbox, service, account)
    request.require("BrandRegistrationSid", "Description", "MessageFlow", "UsAppToPersonUsecase")
    samples = lists.get("MessageSamples", [])
    if not samples:
        raise ApiError(400, 20001, "Missing required parameter MessageSamples in the post body")
    brand = store.a2p_get(form["BrandRegistrationSid"])
    brand = reviewed(sandbox, brand) if brand and brand.get("account_sid") == account else None
    if brand is None or brand.get("status") != "APPROVED":
        raise ApiError(400, 21717, "Brand Registration SID for US A2P Campaign Use Case is Not Registered or Not Valid")
    if store.a2p_list("campaign", parent=service):
        raise ApiError(409, 21714, "A campaign is already registered for this Messaging Service")
    sid, now = new_sid("QE"), now_iso8601()
    campaign = {
        "sid": sid,
        "account_sid": account,
        "brand_registration_sid": form["BrandRegistrationSid"],
        "messaging_service_sid": service,
        "description": form["Description"],
        "message_samples": samples,
        "us_app_to_person_usecase": form["UsAppToPersonUsecase"],
        "has_embedded_links": form.get("HasEmbeddedLinks", "").lower() == "true",
        "has_embedded_phone": form.get("HasEmbeddedPhone", "").lower() == "true",
        "subscriber_opt_in": form.get("SubscriberOptIn", "").lower() == "true",
        "age_gated": False,
        "direct_lending": False,
        "campaign_status": "IN_PROGRESS",
        "campaign_id": None,
        "is_externally_registered": False,
        "rate_limits": {},
        "message_flow": form["MessageFlow"],
        "opt_in_message": form.get("OptInMessage") or None,
        "opt_out_message": form.get("OptOutMessage") or None,
        "help_message": form.get("HelpMessage") or None,
        "opt_in_keywords": lists.get("OptInKeywords") or None,
        "opt_out_keywords": lists.get("OptOutKeywords") or None,
        "help_keywords": lists.get("HelpKeywords") or None,
        "date_created": now,
        "date_updated": now,
        "url": f"{_url(service)}/{sid}",
        "mock": False,
        "errors": [],
        "_sandbox": {
            "kind": "campaign",
            "parent": service,
            "family": "campaign",
            "submitted_at": time.time(),
            "decided": False,
        },
    }
    store.a2p_put(campaign)
    store.update_service(service, {"us_app_to_person_registered": True, "usecase": form["UsAppToPersonUsecase"]})
    return 201, public(campaign)


def _list(sandbox: Sandbox, request: Request, *, account: str, service: str) -> Answer:
    service_of(sandbox, service, account)
    items = [reviewed(sandbox, c) for c in sandbox.store.a2p_list("campaign", parent=service)]
    return 200, v1_public_page("compliance", _url(service), items, request.query)


def _campaign(sandbox: Sandbox, sid: str, service: str, account: str) -> dict:
    """The campaign `sid` of that service in `account`; 20404 otherwise."""
    campaign = a2p_object(sandbox, sid, "campaign", account)
    if campaign["messaging_service_sid"] != service:
        raise not_found(sid)
    return campaign


def _fetch(sandbox: Sandbox, request: Request, *, account: str, service: str, sid: str) -> Answer:
    return 200, public(_campaign(sandbox, sid, service, account))


def _delete(sandbox: Sandbox, request: Request, *, account: str, service: str, sid: str) -> Answer:
    """Delete a service's campaign (204, empty body), so another can be registered on it."""
    _campaign(sandbox, sid, service, account)
    sandbox.store.a2p_delete(sid)
    sandbox.store.update_service(service, {"us_app_to_person_registered": False})
    return 204, None


_CAMPAIGNS = r"/v1/Services/(?P<service>MG[0-9a-f]{32})/Compliance/Usa2p"
# Whole paths; each acts in the account of the credentials.
ROUTES = (
    Route("POST", _CAMPAIGNS, _create),
    Route("GET", _CAMPAIGNS, _list),
    Route("GET", rf"{_CAMPAIGNS}/(?P<sid>QE[0-9a-f]{{32}})", _fetch),
    Route("DELETE", rf"{_CAMPAIGNS}/(?P<sid>QE[0-9a-f]{{32}})", _delete),
)
