"""Seeding a fleet in one request: thousands of subaccounts, their numbers, Messaging Services
and A2P objects, as the REST API would have made them, without thousands of requests.

  POST /__sandbox__/seed {
    "accounts": ["<friendly name>", ...],
    "numbers": [<as POST numbers: phone_number, account_sid, webhook fields>, ...],
    "services": [{"account_sid", "friendly_name", "phone_numbers": [numbers of this request],
                  "use_inbound_webhook_on_number", "inbound_request_url"}, ...],
    "a2p": [{"kind": "customer_profile"|"trust_product"|"brand"|"campaign", "account_sid",
             "status", "service": <the campaign's service SID>}, ...]
  }
answers {"accounts": [{"sid", "auth_token"}], "numbers": [sid], "services": [sid], "a2p": [sid]},
each in the order given. Each kind is stored in one transaction. A2P objects are seeded as
decided (no review timer acts on them; POST a2p-decide still can): their status stays as
seeded until changed.
"""

from __future__ import annotations

from typing import Any

from .accounts import Sandbox, subaccount_new
from .brands import BRANDS_URL
from .incoming_numbers import seeded_number
from .messaging_services import MESSAGING_ORIGIN, new_service
from .store import new_sid, now_iso8601
from .trusthub import TRUSTHUB

SEED_KINDS = {"customer_profile": ("BU", "CustomerProfiles"), "trust_product": ("BU", "TrustProducts")}


def seed(sandbox: Sandbox, payload: dict[str, Any]) -> dict[str, Any]:
    """Store what `payload` describes (see the module docstring); the SIDs made, in order."""
    store = sandbox.store
    accounts = [subaccount_new(sandbox, str(name)) for name in payload.get("accounts", [])]
    if accounts:
        store.insert_rows("accounts", accounts)
    numbers = [seeded_number(sandbox, spec) for spec in payload.get("numbers", [])]
    if numbers:
        store.insert_many(numbers)
    sid_of = {n["phone_number"]: n["sid"] for n in numbers}
    services = []
    for spec in payload.get("services", []):
        number_sids = [sid_of[p] for p in spec.get("phone_numbers", [])]
        service = new_service(sandbox, {**spec, "number_sids": number_sids})
        service["account_sid"] = spec.get("account_sid") or sandbox.account_sid
        services.append(service)
    if services:
        store.insert_rows("messaging_services", services)
    objects = [_a2p_object(spec) for spec in payload.get("a2p", [])]
    if objects:
        store.insert_rows("a2p_objects", objects)
    return {
        "accounts": [{"sid": a["sid"], "auth_token": a["auth_token"]} for a in accounts],
        "numbers": [n["sid"] for n in numbers],
        "services": [s["sid"] for s in services],
        "a2p": [o["sid"] for o in objects],
    }


def _a2p_object(spec: dict[str, Any]) -> dict[str, Any]:
    """A bundle, brand or campaign in `spec["status"]`, with the fields the app reads."""
    kind, account, status, now = spec["kind"], spec["account_sid"], spec["status"], now_iso8601()
    common = {"account_sid": account, "date_created": now, "date_updated": now, "errors": []}
    meta = {"kind": kind, "decided": True}
    if kind in SEED_KINDS:
        prefix, collection = SEED_KINDS[kind]
        sid = new_sid(prefix)
        url = f"{TRUSTHUB}/{collection}/{sid}"
        return {
            "sid": sid,
            **common,
            "status": status,
            "friendly_name": spec.get("friendly_name", "Seeded bundle"),
            "policy_sid": "RN" + "0" * 32,
            "email": "seed@dentsignal.example.com",
            "valid_until": None,
            "status_callback": None,
            "url": url,
            "links": {},
            "_sandbox": {**meta, "assigned": []},
        }
    if kind == "brand":
        sid = new_sid("BN")
        return {
            "sid": sid,
            **common,
            "status": status,
            "brand_type": "STANDARD",
            "failure_reason": None,
            "identity_status": "UNVERIFIED",
            "url": f"{BRANDS_URL}/{sid}",
            "links": {},
            "_sandbox": {**meta, "family": "brand"},
        }
    if kind == "campaign":
        sid, service = new_sid("QE"), spec["service"]
        return {
            "sid": sid,
            **common,
            "campaign_status": status,
            "messaging_service_sid": service,
            "brand_registration_sid": spec.get("brand", ""),
            "us_app_to_person_usecase": "LOW_VOLUME",
            "url": f"{MESSAGING_ORIGIN}/v1/Services/{service}/Compliance/Usa2p/{sid}",
            "_sandbox": {**meta, "family": "campaign", "parent": service},
        }
    raise ValueError(f"cannot seed an A2P object of kind {kind!r}")
