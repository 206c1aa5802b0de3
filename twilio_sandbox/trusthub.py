"""Trust Hub v1: customer profiles and trust products (bundles), and the end users and
supporting documents assigned to them.

  POST/GET  /v1/{CustomerProfiles|TrustProducts}                       (create: 20001; list by FriendlyName)
  GET/POST  /v1/{CustomerProfiles|TrustProducts}/{Sid}                 (fetch; update, submit with
            Status=pending-review once evaluated compliant: 22219)
  POST/GET  /v1/{CustomerProfiles|TrustProducts}/{Sid}/EntityAssignments (22208, 22215)
  POST      /v1/{CustomerProfiles|TrustProducts}/{Sid}/Evaluations
  POST/GET  /v1/{EndUsers|SupportingDocuments}, POST /v1/{EndUsers|SupportingDocuments}/{Sid}
A customer profile is compliant with a business information end user, an authorized
representative, an address document and a primary profile (a BU SID) assigned; a trust
product with the A2P messaging profile information and a primary profile. A submitted
bundle is decided by its review (reviews.py).

Objects are kept per account, as Twilio keeps them. Trust Hub URLs name no account: the
credentials do, so a request authenticated as a clinic's subaccount (its own SID and auth
token) acts in that subaccount and sees only its objects; the main account's credentials
act in the main account.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from .accounts import Sandbox
from .responses import ApiError, public, v1_public_page
from .reviews import a2p_object, reviewed
from .routing import Answer, Request, Route
from .store import new_sid, now_iso8601

TRUSTHUB = "https://trusthub.twilio.com/v1"
BUNDLE_KINDS = {"CustomerProfiles": "customer_profile", "TrustProducts": "trust_product"}
# The SID prefix and the kind of the objects assigned to bundles, per collection.
OBJECT_KINDS = {"EndUsers": ("IT", "end_user"), "SupportingDocuments": ("RD", "supporting_document")}


def _bundle_create(sandbox: Sandbox, request: Request, *, account: str, coll: str) -> Answer:
    form = request.form
    request.require("FriendlyName", "Email", "PolicySid")
    if not re.fullmatch(r"RN[0-9a-fA-F]{32}", form["PolicySid"]):
        raise ApiError(400, 20001, f"Invalid PolicySid {form['PolicySid']}")
    sid, now, kind = new_sid("BU"), now_iso8601(), BUNDLE_KINDS[coll]
    url = f"{TRUSTHUB}/{coll}/{sid}"
    links = {
        f"{kind}s_entity_assignments": f"{url}/EntityAssignments",
        f"{kind}s_evaluations": f"{url}/Evaluations",
        f"{kind}s_channel_endpoint_assignment": f"{url}/ChannelEndpointAssignments",
    }
    bundle = {
        "sid": sid,
        "account_sid": account,
        "policy_sid": form["PolicySid"],
        "friendly_name": form["FriendlyName"],
        "status": "draft",
        "valid_until": None,
        "email": form["Email"],
        "status_callback": form.get("StatusCallback") or None,
        "date_created": now,
        "date_updated": now,
        "url": url,
        "links": links,
        "errors": None,
        "_sandbox": {"kind": kind, "assigned": []},
    }
    sandbox.store.a2p_put(bundle)
    return 201, public(bundle)


def _bundle_list(sandbox: Sandbox, request: Request, *, account: str, coll: str) -> Answer:
    query = request.query
    items = [reviewed(sandbox, b) for b in sandbox.store.a2p_list(BUNDLE_KINDS[coll], account=account)]
    if query.get("FriendlyName"):
        items = [b for b in items if b["friendly_name"] == query["FriendlyName"]]
    return 200, v1_public_page("results", f"{TRUSTHUB}/{coll}", items, query)


def _bundle_fetch(sandbox: Sandbox, request: Request, *, account: str, coll: str, sid: str) -> Answer:
    return 200, public(a2p_object(sandbox, sid, BUNDLE_KINDS[coll], account))


def _bundle_update(sandbox: Sandbox, request: Request, *, account: str, coll: str, sid: str) -> Answer:
    form = request.form
    bundle = a2p_object(sandbox, sid, BUNDLE_KINDS[coll], account)
    changes: dict[str, Any] = {k.lower(): form[k] for k in ("FriendlyName", "Email") if k in form}
    changes = {("friendly_name" if k == "friendlyname" else k): v for k, v in changes.items()}
    if form.get("StatusCallback"):
        changes["status_callback"] = form["StatusCallback"]
    meta: dict[str, Any] = {}
    if form.get("Status") == "pending-review":
        if bundle["status"] in ("draft", "twilio-rejected"):
            if not bundle["_sandbox"].get("evaluated_compliant"):
                raise ApiError(400, 22219, "The bundle must be evaluated as compliant before it is submitted.")
            changes.update(status="pending-review", errors=None)
            meta = {"family": "bundle", "submitted_at": time.time(), "decided": False}
    elif form.get("Status"):
        raise ApiError(400, 20001, f"Status {form['Status']} cannot be set")
    changes["date_updated"] = now_iso8601()
    return 200, public(sandbox.store.a2p_update(sid, changes, meta=meta))


def _assign(sandbox: Sandbox, request: Request, *, account: str, coll: str, sid: str) -> Answer:
    bundle = a2p_object(sandbox, sid, BUNDLE_KINDS[coll], account)
    object_sid = request.form.get("ObjectSid", "")
    known = sandbox.store.a2p_get(object_sid)
    foreign = known is not None and known.get("account_sid") != account and not object_sid.startswith("BU")
    if (known is None and not object_sid.startswith("BU")) or foreign:
        raise ApiError(400, 22208, f"ObjectSid {object_sid} is not a known Trust Hub object")
    if object_sid in bundle["_sandbox"]["assigned"]:
        raise ApiError(400, 22215, f"{object_sid} is already assigned to {sid}")
    sandbox.store.a2p_update(sid, {}, meta={"assigned": [*bundle["_sandbox"]["assigned"], object_sid]})
    return 201, _assignment(account, coll, sid, object_sid)


def _assignment(account: str, coll: str, sid: str, object_sid: str) -> dict[str, Any]:
    assignment_sid = "BV" + object_sid[2:]
    return {
        "sid": assignment_sid,
        f"{BUNDLE_KINDS[coll]}_sid": sid,
        "account_sid": account,
        "object_sid": object_sid,
        "date_created": now_iso8601(),
        "url": f"{TRUSTHUB}/{coll}/{sid}/EntityAssignments/{assignment_sid}",
    }


def _assigned(sandbox: Sandbox, request: Request, *, account: str, coll: str, sid: str) -> Answer:
    bundle = a2p_object(sandbox, sid, BUNDLE_KINDS[coll], account)
    items = [_assignment(account, coll, sid, o) for o in bundle["_sandbox"]["assigned"]]
    return 200, v1_public_page("results", f"{TRUSTHUB}/{coll}/{sid}/EntityAssignments", items, request.query)


def _evaluate(sandbox: Sandbox, request: Request, *, account: str, coll: str, sid: str) -> Answer:
    kind = BUNDLE_KINDS[coll]
    bundle = a2p_object(sandbox, sid, kind, account)
    types = {(sandbox.store.a2p_get(o) or {}).get("type") for o in bundle["_sandbox"]["assigned"]}
    primary = any(o.startswith("BU") for o in bundle["_sandbox"]["assigned"])
    if kind == "customer_profile":
        needed = {"customer_profile_business_information", "authorized_representative_1", "customer_profile_address"}
        compliant = needed <= types and primary
    else:
        compliant = "us_a2p_messaging_profile_information" in types and primary
    sandbox.store.a2p_update(sid, {}, meta={"evaluated_compliant": compliant})
    evaluation_sid = new_sid("EL")
    return 201, {
        "sid": evaluation_sid,
        "account_sid": account,
        "policy_sid": request.form.get("PolicySid", bundle["policy_sid"]),
        f"{kind}_sid": sid,
        "status": "compliant" if compliant else "noncompliant",
        "results": [],
        "date_created": now_iso8601(),
        "url": f"{TRUSTHUB}/{coll}/{sid}/Evaluations/{evaluation_sid}",
    }


def _object_create(sandbox: Sandbox, request: Request, *, account: str, coll: str) -> Answer:
    form = request.form
    request.require("FriendlyName", "Type")
    prefix, kind = OBJECT_KINDS[coll]
    sid, now = new_sid(prefix), now_iso8601()
    try:
        attributes = json.loads(form.get("Attributes") or "{}")
    except ValueError:
        attributes = {}
    obj: dict[str, Any] = {
        "sid": sid,
        "account_sid": account,
        "friendly_name": form["FriendlyName"],
        "type": form["Type"],
        "attributes": attributes,
        "date_created": now,
        "date_updated": now,
        "url": f"{TRUSTHUB}/{coll}/{sid}",
        "_sandbox": {"kind": kind},
    }
    if kind == "supporting_document":
        obj.update(mime_type=None, status="DRAFT")
    sandbox.store.a2p_put(obj)
    return 201, public(obj)


def _object_update(sandbox: Sandbox, request: Request, *, account: str, coll: str, sid: str) -> Answer:
    form = request.form
    a2p_object(sandbox, sid, OBJECT_KINDS[coll][1], account)
    changes: dict[str, Any] = {"date_updated": now_iso8601()}
    if "FriendlyName" in form:
        changes["friendly_name"] = form["FriendlyName"]
    if "Attributes" in form:
        try:
            changes["attributes"] = json.loads(form["Attributes"] or "{}")
        except ValueError:
            raise ApiError(400, 20001, "Attributes must be a JSON object") from None
    return 200, public(sandbox.store.a2p_update(sid, changes))


def _object_list(sandbox: Sandbox, request: Request, *, account: str, coll: str) -> Answer:
    items = sandbox.store.a2p_list(OBJECT_KINDS[coll][1], account=account)
    return 200, v1_public_page("results", f"{TRUSTHUB}/{coll}", items, request.query)


_BUNDLES = r"/v1/(?P<coll>CustomerProfiles|TrustProducts)"
_BUNDLE = rf"{_BUNDLES}/(?P<sid>BU[0-9a-f]{{32}})"
_OBJECTS = r"/v1/(?P<coll>EndUsers|SupportingDocuments)"
# Whole paths; each acts in the account of the credentials.
ROUTES = (
    Route("POST", _BUNDLES, _bundle_create),
    Route("GET", _BUNDLES, _bundle_list),
    Route("GET", _BUNDLE, _bundle_fetch),
    Route("POST", _BUNDLE, _bundle_update),
    Route("POST", f"{_BUNDLE}/EntityAssignments", _assign),
    Route("GET", f"{_BUNDLE}/EntityAssignments", _assigned),
    Route("POST", f"{_BUNDLE}/Evaluations", _evaluate),
    Route("POST", _OBJECTS, _object_create),
    Route("GET", _OBJECTS, _object_list),
    Route("POST", rf"{_OBJECTS}/(?P<sid>(IT|RD)[0-9a-f]{{32}})", _object_update),
)
