"""A2P brand registrations (Messaging API v1): /v1/a2p/BrandRegistrations.

  POST/GET /v1/a2p/BrandRegistrations          (register with a customer profile and an A2P
                                                trust product of the account: 20001, 20404)
  GET/POST /v1/a2p/BrandRegistrations/{Sid}    (fetch; resubmit a FAILED brand: 202)
A brand is submitted when registered or resubmitted and decided by its review
(reviews.py); it acts in the account of the credentials, as Trust Hub does.
"""

from __future__ import annotations

import time
from typing import Any

from .accounts import Sandbox
from .messaging_services import MESSAGING_ORIGIN
from .responses import ApiError, public, v1_public_page
from .reviews import a2p_object, reviewed
from .routing import Answer, Request, Route
from .store import new_sid, now_iso8601
from .trusthub import BUNDLE_KINDS

BRANDS_URL = f"{MESSAGING_ORIGIN}/v1/a2p/BrandRegistrations"


def _create(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    form = request.form
    request.require("CustomerProfileBundleSid", "A2PProfileBundleSid")
    for key in ("CustomerProfileBundleSid", "A2PProfileBundleSid"):
        bundle = sandbox.store.a2p_get(form[key])
        if bundle is None or bundle["_sandbox"]["kind"] not in BUNDLE_KINDS.values() or bundle["account_sid"] != account:
            raise ApiError(400, 20404, f"{key} {form[key]} was not found")
    sid, now = new_sid("BN"), now_iso8601()
    brand: dict[str, Any] = {
        "sid": sid,
        "account_sid": account,
        "customer_profile_bundle_sid": form["CustomerProfileBundleSid"],
        "a2p_profile_bundle_sid": form["A2PProfileBundleSid"],
        "date_created": now,
        "date_updated": now,
        "brand_type": form.get("BrandType") or "STANDARD",
        "status": "PENDING",
        "tcr_id": None,
        "failure_reason": None,
        "errors": [],
        "url": f"{BRANDS_URL}/{sid}",
        "brand_score": None,
        "brand_feedback": None,
        "identity_status": "UNVERIFIED",
        "russell_3000": False,
        "government_entity": False,
        "tax_exempt_status": None,
        "skip_automatic_sec_vet": form.get("SkipAutomaticSecVet", "").lower() == "true",
        "mock": form.get("Mock", "").lower() == "true",
        "links": {
            "brand_vettings": f"{BRANDS_URL}/{sid}/Vettings",
            "brand_registration_otps": f"{BRANDS_URL}/{sid}/SmsOtp",
        },
        "_sandbox": {"kind": "brand", "family": "brand", "submitted_at": time.time(), "decided": False},
    }
    sandbox.store.a2p_put(brand)
    return 201, public(brand)


def _list(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    items = [reviewed(sandbox, b) for b in sandbox.store.a2p_list("brand", account=account)]
    return 200, v1_public_page("data", BRANDS_URL, items, request.query)


def _fetch(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    return 200, public(a2p_object(sandbox, sid, "brand", account))


def _resubmit(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    brand = a2p_object(sandbox, sid, "brand", account)
    if brand["status"] != "FAILED":
        raise ApiError(400, 20001, f"Only a FAILED brand can be resubmitted; {sid} is {brand['status']}")
    changes: dict[str, Any] = {"status": "PENDING", "failure_reason": None, "errors": [], "date_updated": now_iso8601()}
    meta = {"submitted_at": time.time(), "decided": False}
    return 202, public(sandbox.store.a2p_update(sid, changes, meta=meta))


_BRAND = r"/v1/a2p/BrandRegistrations/(?P<sid>BN[0-9a-f]{32})"
# Whole paths; each acts in the account of the credentials.
ROUTES = (
    Route("POST", r"/v1/a2p/BrandRegistrations", _create),
    Route("GET", r"/v1/a2p/BrandRegistrations", _list),
    Route("GET", _BRAND, _fetch),
    Route("POST", _BRAND, _resubmit),
)
