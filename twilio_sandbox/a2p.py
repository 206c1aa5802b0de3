"""The sandbox's A2P 10DLC slice: Trust Hub v1, Messaging v1 brands/campaigns, API v2010 Addresses.

Stateful (objects kept in the Store's `a2p_objects` table), with Twilio's JSON shapes
(checked against twilio_trusthub_v1.json / twilio_messaging_v1.json / twilio_api_v2010.json
in tests/sandbox) and Twilio's error codes. Reviews are controlled through the control API:

  POST /__sandbox__/a2p-review {"mode": "approve"|"reject"|"manual", "code": 30909, "after_seconds": 30}
       how every submitted bundle, brand and campaign is decided (default: approve after 30 s);
  POST /__sandbox__/a2p-decide {"sid": "BU...|BN...|QE...", "outcome": "approve"|"reject", "code": 30909}
       decide one object now;
  GET  /__sandbox__/a2p-state   every object;
  GET  /__sandbox__/callbacks   every callback sent (URL, form, the app's HTTP status or why not sent).

A review's time is kept by the server's review timer too (server.py), not only when an
object is read. When a customer profile or trust product is decided, its StatusCallback
(given at create or update) is POSTed, signed like Twilio's (callbacks.py), with
AccountSid, BundleSid and Status; brands and campaigns have no StatusCallback at Twilio.

Objects are kept per account, as Twilio keeps them. Trust Hub and Messaging URLs name no
account: the credentials do, so a request authenticated as a clinic's subaccount (its own
SID and auth token) acts in that subaccount and sees only its objects, and the main
account's credentials act in the main account (the API v2010 Addresses name the account
in the path). The request log records who authenticated (`auth`, the user name only).
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

from .accounts import Sandbox
from .callbacks import callback_send
from .messaging_services import new_service
from .responses import ApiError, not_found, page_size, public, v1_public_page, v2010_page
from .routing import Request
from .store import new_sid, now_iso8601, now_rfc2822

TRUSTHUB = "https://trusthub.twilio.com/v1"
MESSAGING = "https://messaging.twilio.com/v1"
DEFAULT_REVIEW: dict[str, Any] = {"mode": "approve", "after_seconds": 30, "code": 30909}
SID = "[A-Z]{2}[0-9a-fA-F]{32}"
BUNDLE_KINDS = {"CustomerProfiles": "customer_profile", "TrustProducts": "trust_product"}
DECIDED = {"approve": {"bundle": "twilio-approved", "brand": "APPROVED", "campaign": "VERIFIED"}}
REJECTED = {"bundle": "twilio-rejected", "brand": "FAILED", "campaign": "FAILED"}
PENDING = {"bundle": "pending-review", "brand": "PENDING", "campaign": "IN_PROGRESS"}


class A2PApi:
    """Routes for the A2P endpoints; `handle` returns None for a path it does not serve."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.store = sandbox.store
        self._local = threading.local()

    @property
    def acting(self) -> str:
        """The account the current request acts in (set by `handle` after authentication)."""
        return str(getattr(self._local, "account", "") or self.sandbox.account_sid)

    def _mine(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The objects of the acting account only."""
        return [i for i in items if i.get("account_sid") == self.acting]

    # ------------------------------------------------------------------ routing

    def handle(self, request: Request) -> tuple[int, Any] | None:
        method, path, query, form, lists = request.method, request.path, request.query, request.form, request.lists

        routes: list[tuple[str, str, Any]] = [
            ("POST", r"/v1/(?P<coll>CustomerProfiles|TrustProducts)", self._bundle_create),
            ("GET", r"/v1/(?P<coll>CustomerProfiles|TrustProducts)", self._bundle_list),
            ("GET", r"/v1/(?P<coll>CustomerProfiles|TrustProducts)/(?P<sid>BU[0-9a-f]{32})", self._bundle_fetch),
            ("POST", r"/v1/(?P<coll>CustomerProfiles|TrustProducts)/(?P<sid>BU[0-9a-f]{32})", self._bundle_update),
            ("POST", r"/v1/(?P<coll>CustomerProfiles|TrustProducts)/(?P<sid>BU[0-9a-f]{32})/EntityAssignments", self._assign),
            ("GET", r"/v1/(?P<coll>CustomerProfiles|TrustProducts)/(?P<sid>BU[0-9a-f]{32})/EntityAssignments", self._assigned),
            ("POST", r"/v1/(?P<coll>CustomerProfiles|TrustProducts)/(?P<sid>BU[0-9a-f]{32})/Evaluations", self._evaluate),
            ("POST", r"/v1/(?P<coll>EndUsers|SupportingDocuments)", self._object_create),
            ("GET", r"/v1/(?P<coll>EndUsers|SupportingDocuments)", self._object_list),
            ("POST", r"/v1/(?P<coll>EndUsers|SupportingDocuments)/(?P<sid>(IT|RD)[0-9a-f]{32})", self._object_update),
            ("POST", r"/v1/a2p/BrandRegistrations", self._brand_create),
            ("GET", r"/v1/a2p/BrandRegistrations", self._brand_list),
            ("GET", r"/v1/a2p/BrandRegistrations/(?P<sid>BN[0-9a-f]{32})", self._brand_fetch),
            ("POST", r"/v1/a2p/BrandRegistrations/(?P<sid>BN[0-9a-f]{32})", self._brand_resubmit),
            ("POST", r"/v1/Services", self._service_create),
            ("POST", r"/v1/Services/(?P<service>MG[0-9a-f]{32})/Compliance/Usa2p", self._campaign_create),
            ("GET", r"/v1/Services/(?P<service>MG[0-9a-f]{32})/Compliance/Usa2p", self._campaign_list),
            ("GET", r"/v1/Services/(?P<service>MG[0-9a-f]{32})/Compliance/Usa2p/(?P<sid>QE[0-9a-f]{32})", self._campaign_fetch),
            (
                "DELETE",
                r"/v1/Services/(?P<service>MG[0-9a-f]{32})/Compliance/Usa2p/(?P<sid>QE[0-9a-f]{32})",
                self._campaign_delete,
            ),
            ("POST", r"/v1/Services/(?P<service>MG[0-9a-f]{32})/PhoneNumbers", self._number_add),
            ("POST", r"/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})/Addresses\.json", self._address_create),
            ("GET", r"/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})/Addresses\.json", self._address_list),
            (
                "POST",
                r"/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})/Addresses/(?P<sid>AD[0-9a-f]{32})\.json",
                self._address_update,
            ),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                self._local.account = self.sandbox.acting_account(request.environ, match.groupdict().get("account"))
                result: tuple[int, Any] = handler(**match.groupdict(), query=query, form=form, lists=lists)
                return result
        if re.match(r"/v1/(CustomerProfiles|TrustProducts|EndUsers|SupportingDocuments|a2p)", path):
            raise not_found(path)
        return None

    # ------------------------------------------------------------------ helpers

    def _get(self, sid: str, kind: str) -> dict[str, Any]:
        obj = self.store.a2p_get(sid)
        if obj is None or obj["_sandbox"]["kind"] != kind or obj.get("account_sid") != self.acting:
            raise not_found(sid)
        return self._reviewed(obj)

    def _reviewed(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Apply the configured review to a submitted object once its time has come."""
        meta = obj["_sandbox"]
        family, submitted_at = meta.get("family"), meta.get("submitted_at")
        if family is None or submitted_at is None or meta.get("decided"):
            return obj
        review = self.store.a2p_review() or DEFAULT_REVIEW
        if review["mode"] == "manual" or time.time() < submitted_at + float(review.get("after_seconds", 0)):
            return obj
        decided = self.decide(obj["sid"], review["mode"], int(review.get("code") or 30909), pending_since=submitted_at)
        return decided or self.store.a2p_get(obj["sid"]) or obj

    def review_due(self) -> None:
        """Decide every submitted object whose review time has come (the server's review
        timer calls this, so a review ends, and calls back, without anybody reading it)."""
        for obj in self.store.a2p_all():
            if obj["_sandbox"].get("submitted_at") and not obj["_sandbox"].get("decided"):
                self._reviewed(obj)

    def decide(self, sid: str, outcome: str, code: int, *, pending_since: float | None = None) -> dict[str, Any] | None:
        """Approve or reject one submitted object now, and call back a bundle's StatusCallback.

        With `pending_since` (its review's time has come), None when that submission was
        decided meanwhile (by the timer, or a request that read it).
        """
        obj = self.store.a2p_get(sid)
        if obj is None or obj["_sandbox"].get("family") is None:
            raise KeyError(sid)
        family = obj["_sandbox"]["family"]
        changes: dict[str, Any] = {"date_updated": self._date(family)}
        if outcome == "approve":
            changes["errors"] = [] if family != "bundle" else None
            changes[self._status_field(family)] = DECIDED["approve"][family]
            if family == "brand":
                changes.update(tcr_id="B" + sid[-6:].upper(), identity_status="VERIFIED", failure_reason=None)
        else:
            error = {"code": code, "description": f"Rejected in the sandbox review (Twilio error {code}).", "fields": []}
            changes["errors"] = [error]
            changes[self._status_field(family)] = REJECTED[family]
            if family == "brand":
                changes["failure_reason"] = error["description"]
        decided = self.store.a2p_decide(sid, changes, pending_since=pending_since)
        if decided is not None and family == "bundle" and decided.get("status_callback"):
            self._call_back(decided)
        return decided

    def _call_back(self, bundle: dict[str, Any]) -> None:
        """POST the bundle's new status to its StatusCallback, signed with its account's token.

        Twilio documents the parameter, not the request; the sandbox sends the bundle's
        account, SID and status (the app uses the SID and fetches the status itself).
        Brands and campaigns have no StatusCallback at Twilio, so none here.
        """
        account = bundle["account_sid"]
        sub = self.store.get_account(account) if account != self.sandbox.account_sid else None
        token = sub["auth_token"] if sub is not None else self.sandbox.auth_token
        form = {"AccountSid": account, "BundleSid": bundle["sid"], "Status": bundle["status"]}
        callback_send(self.store, url=bundle["status_callback"], form=form, auth_token=token)

    @staticmethod
    def _status_field(family: str) -> str:
        return "campaign_status" if family == "campaign" else "status"

    @staticmethod
    def _date(family: str) -> str:
        return now_iso8601()

    def _required(self, form: dict, *names: str) -> None:
        missing = [n for n in names if not form.get(n)]
        if missing:
            raise ApiError(400, 20001, f"Missing required parameter {missing[0]} in the post body")

    # ------------------------------------------------------------------ Trust Hub bundles

    def _bundle_create(self, *, coll: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        self._required(form, "FriendlyName", "Email", "PolicySid")
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
            "account_sid": self.acting,
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
        self.store.a2p_put(bundle)
        return 201, public(bundle)

    def _bundle_list(self, *, coll: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        kind = BUNDLE_KINDS[coll]
        items = [self._reviewed(b) for b in self._mine(self.store.a2p_list(kind))]
        if query.get("FriendlyName"):
            items = [b for b in items if b["friendly_name"] == query["FriendlyName"]]
        return 200, v1_public_page("results", f"{TRUSTHUB}/{coll}", items, query)

    def _bundle_fetch(self, *, coll: str, sid: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        return 200, public(self._get(sid, BUNDLE_KINDS[coll]))

    def _bundle_update(self, *, coll: str, sid: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        bundle = self._get(sid, BUNDLE_KINDS[coll])
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
        return 200, public(self.store.a2p_update(sid, changes, meta=meta))

    def _assign(self, *, coll: str, sid: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        kind = BUNDLE_KINDS[coll]
        bundle = self._get(sid, kind)
        object_sid = form.get("ObjectSid", "")
        known = self.store.a2p_get(object_sid)
        foreign = known is not None and known.get("account_sid") != self.acting and not object_sid.startswith("BU")
        if (known is None and not object_sid.startswith("BU")) or foreign:
            raise ApiError(400, 22208, f"ObjectSid {object_sid} is not a known Trust Hub object")
        if object_sid in bundle["_sandbox"]["assigned"]:
            raise ApiError(400, 22215, f"{object_sid} is already assigned to {sid}")
        self.store.a2p_update(sid, {}, meta={"assigned": [*bundle["_sandbox"]["assigned"], object_sid]})
        return 201, self._assignment(coll, sid, object_sid)

    def _assignment(self, coll: str, sid: str, object_sid: str) -> dict[str, Any]:
        kind = BUNDLE_KINDS[coll]
        assignment_sid = "BV" + object_sid[2:]
        return {
            "sid": assignment_sid,
            f"{kind}_sid": sid,
            "account_sid": self.acting,
            "object_sid": object_sid,
            "date_created": now_iso8601(),
            "url": f"{TRUSTHUB}/{coll}/{sid}/EntityAssignments/{assignment_sid}",
        }

    def _assigned(self, *, coll: str, sid: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        bundle = self._get(sid, BUNDLE_KINDS[coll])
        items = [self._assignment(coll, sid, o) for o in bundle["_sandbox"]["assigned"]]
        return 200, v1_public_page("results", f"{TRUSTHUB}/{coll}/{sid}/EntityAssignments", items, query)

    def _evaluate(self, *, coll: str, sid: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        kind = BUNDLE_KINDS[coll]
        bundle = self._get(sid, kind)
        types = {(self.store.a2p_get(o) or {}).get("type") for o in bundle["_sandbox"]["assigned"]}
        primary = any(o.startswith("BU") for o in bundle["_sandbox"]["assigned"])
        if kind == "customer_profile":
            needed = {"customer_profile_business_information", "authorized_representative_1", "customer_profile_address"}
            compliant = needed <= types and primary
        else:
            compliant = "us_a2p_messaging_profile_information" in types and primary
        self.store.a2p_update(sid, {}, meta={"evaluated_compliant": compliant})
        evaluation_sid = new_sid("EL")
        return 201, {
            "sid": evaluation_sid,
            "account_sid": self.acting,
            "policy_sid": form.get("PolicySid", bundle["policy_sid"]),
            f"{kind}_sid": sid,
            "status": "compliant" if compliant else "noncompliant",
            "results": [],
            "date_created": now_iso8601(),
            "url": f"{TRUSTHUB}/{coll}/{sid}/Evaluations/{evaluation_sid}",
        }

    # ------------------------------------------------------------------ end users, documents

    def _object_create(self, *, coll: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        self._required(form, "FriendlyName", "Type")
        prefix, kind = ("IT", "end_user") if coll == "EndUsers" else ("RD", "supporting_document")
        sid, now = new_sid(prefix), now_iso8601()
        try:
            attributes = json.loads(form.get("Attributes") or "{}")
        except ValueError:
            attributes = {}
        obj: dict[str, Any] = {
            "sid": sid,
            "account_sid": self.acting,
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
        self.store.a2p_put(obj)
        return 201, public(obj)

    def _object_update(self, *, coll: str, sid: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        kind = "end_user" if coll == "EndUsers" else "supporting_document"
        self._get(sid, kind)
        changes: dict[str, Any] = {"date_updated": now_iso8601()}
        if "FriendlyName" in form:
            changes["friendly_name"] = form["FriendlyName"]
        if "Attributes" in form:
            try:
                changes["attributes"] = json.loads(form["Attributes"] or "{}")
            except ValueError:
                raise ApiError(400, 20001, "Attributes must be a JSON object") from None
        return 200, public(self.store.a2p_update(sid, changes))

    def _object_list(self, *, coll: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        kind = "end_user" if coll == "EndUsers" else "supporting_document"
        return 200, v1_public_page("results", f"{TRUSTHUB}/{coll}", self._mine(self.store.a2p_list(kind)), query)

    # ------------------------------------------------------------------ addresses (API v2010)

    def _address_create(self, *, account: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        self._required(form, "CustomerName", "Street", "City", "Region", "PostalCode", "IsoCountry")
        sid, now = new_sid("AD"), now_rfc2822()
        address = {
            "account_sid": self.acting,
            "city": form["City"],
            "customer_name": form["CustomerName"],
            "date_created": now,
            "date_updated": now,
            "friendly_name": form.get("FriendlyName") or None,
            "iso_country": form["IsoCountry"],
            "postal_code": form["PostalCode"],
            "region": form["Region"],
            "sid": sid,
            "street": form["Street"],
            "street_secondary": form.get("StreetSecondary") or None,
            "uri": f"/2010-04-01/Accounts/{self.acting}/Addresses/{sid}.json",
            "emergency_enabled": False,
            "validated": True,
            "verified": False,
            "_sandbox": {"kind": "address"},
        }
        self.store.a2p_put(address)
        return 201, public(address)

    def _address_update(self, *, account: str, sid: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        """POST .../Addresses/{Sid}.json: the named fields change; the country cannot (Twilio's spec
        has no IsoCountry on update)."""
        address = self.store.a2p_get(sid)
        if address is None or address["_sandbox"]["kind"] != "address" or address["account_sid"] != self.acting:
            resource = f"/2010-04-01/Accounts/{account}/Addresses/{sid}.json"
            raise not_found(resource)
        fields = {
            "FriendlyName": "friendly_name",
            "CustomerName": "customer_name",
            "Street": "street",
            "StreetSecondary": "street_secondary",
            "City": "city",
            "Region": "region",
            "PostalCode": "postal_code",
        }
        changes: dict[str, Any] = {attr: form[param] for param, attr in fields.items() if param in form}
        changes["date_updated"] = now_rfc2822()
        return 200, public(self.store.a2p_update(sid, changes))

    def _address_list(self, *, account: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        items = self._mine(self.store.a2p_list("address"))
        filters = {"FriendlyName": query["FriendlyName"]} if query.get("FriendlyName") else {}
        if filters:
            items = [a for a in items if a["friendly_name"] == filters["FriendlyName"]]
        uri = f"/2010-04-01/Accounts/{self.acting}/Addresses.json"
        return 200, v2010_page("addresses", uri, page_size(query, default=50), [public(a) for a in items], filters)

    # ------------------------------------------------------------------ brands

    def _brand_create(self, *, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        self._required(form, "CustomerProfileBundleSid", "A2PProfileBundleSid")
        for key in ("CustomerProfileBundleSid", "A2PProfileBundleSid"):
            bundle = self.store.a2p_get(form[key])
            if bundle is None or bundle["_sandbox"]["kind"] not in BUNDLE_KINDS.values() or bundle["account_sid"] != self.acting:
                raise ApiError(400, 20404, f"{key} {form[key]} was not found")
        sid, now = new_sid("BN"), now_iso8601()
        brand = {
            "sid": sid,
            "account_sid": self.acting,
            "customer_profile_bundle_sid": form["CustomerProfileBundleSid"],
            "a2p_profile_bundle_sid": form["A2PProfileBundleSid"],
            "date_created": now,
            "date_updated": now,
            "brand_type": form.get("BrandType") or "STANDARD",
            "status": "PENDING",
            "tcr_id": None,
            "failure_reason": None,
            "errors": [],
            "url": f"{MESSAGING}/a2p/BrandRegistrations/{sid}",
            "brand_score": None,
            "brand_feedback": None,
            "identity_status": "UNVERIFIED",
            "russell_3000": False,
            "government_entity": False,
            "tax_exempt_status": None,
            "skip_automatic_sec_vet": form.get("SkipAutomaticSecVet", "").lower() == "true",
            "mock": form.get("Mock", "").lower() == "true",
            "links": {
                "brand_vettings": f"{MESSAGING}/a2p/BrandRegistrations/{sid}/Vettings",
                "brand_registration_otps": f"{MESSAGING}/a2p/BrandRegistrations/{sid}/SmsOtp",
            },
            "_sandbox": {"kind": "brand", "family": "brand", "submitted_at": time.time(), "decided": False},
        }
        self.store.a2p_put(brand)
        return 201, public(brand)

    def _brand_list(self, *, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        items = [self._reviewed(b) for b in self._mine(self.store.a2p_list("brand"))]
        return 200, v1_public_page("data", f"{MESSAGING}/a2p/BrandRegistrations", items, query)

    def _brand_fetch(self, *, sid: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        return 200, public(self._get(sid, "brand"))

    def _brand_resubmit(self, *, sid: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        brand = self._get(sid, "brand")
        if brand["status"] != "FAILED":
            raise ApiError(400, 20001, f"Only a FAILED brand can be resubmitted; {sid} is {brand['status']}")
        changes: dict[str, Any] = {"status": "PENDING", "failure_reason": None, "errors": [], "date_updated": now_iso8601()}
        meta = {"submitted_at": time.time(), "decided": False}
        return 202, public(self.store.a2p_update(sid, changes, meta=meta))

    # ------------------------------------------------------------------ services, campaigns, senders

    def _service_create(self, *, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        self._required(form, "FriendlyName")
        service = new_service(
            self.sandbox,
            {
                "friendly_name": form["FriendlyName"],
                "inbound_request_url": form.get("InboundRequestUrl") or None,
                "use_inbound_webhook_on_number": form.get("UseInboundWebhookOnNumber", "").lower() == "true",
            },
        )
        if form.get("StatusCallback"):
            service["status_callback"] = form["StatusCallback"]
        service["account_sid"] = self.acting  # the service lives in the account that created it
        self.store.insert_service(service)
        return 201, public(service)

    def _service(self, sid: str) -> dict[str, Any]:
        service = next((s for s in self.store.services() if s["sid"] == sid), None)
        if service is None or service.get("account_sid") != self.acting:
            raise not_found(f"/v1/Services/{sid}")
        return service

    def _campaign_create(self, *, service: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        self._service(service)
        self._required(form, "BrandRegistrationSid", "Description", "MessageFlow", "UsAppToPersonUsecase")
        samples = lists.get("MessageSamples", [])
        if not samples:
            raise ApiError(400, 20001, "Missing required parameter MessageSamples in the post body")
        brand = self.store.a2p_get(form["BrandRegistrationSid"])
        brand = self._reviewed(brand) if brand and brand.get("account_sid") == self.acting else None
        if brand is None or brand.get("status") != "APPROVED":
            raise ApiError(
                400,
                21717,
                "Brand Registration SID for US A2P Campaign Use Case is Not Registered or Not Valid",
            )
        if self.store.a2p_list("campaign", parent=service):
            raise ApiError(409, 21714, "A campaign is already registered for this Messaging Service")
        sid, now = new_sid("QE"), now_iso8601()
        url = f"{MESSAGING}/Services/{service}/Compliance/Usa2p/{sid}"
        campaign = {
            "sid": sid,
            "account_sid": self.acting,
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
            "url": url,
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
        self.store.a2p_put(campaign)
        self.store.update_service(service, {"us_app_to_person_registered": True, "usecase": form["UsAppToPersonUsecase"]})
        return 201, public(campaign)

    def _campaign_list(self, *, service: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        self._service(service)
        items = [self._reviewed(c) for c in self.store.a2p_list("campaign", parent=service)]
        return 200, v1_public_page("compliance", f"{MESSAGING}/Services/{service}/Compliance/Usa2p", items, query)

    def _campaign_fetch(self, *, service: str, sid: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        campaign = self._get(sid, "campaign")
        if campaign["messaging_service_sid"] != service:
            raise not_found(sid)
        return 200, public(campaign)

    def _campaign_delete(self, *, service: str, sid: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        """Delete a service's campaign (204, empty body), so another can be registered on it."""
        campaign = self._get(sid, "campaign")
        if campaign["messaging_service_sid"] != service:
            raise not_found(sid)
        self.store.a2p_delete(sid)
        self.store.update_service(service, {"us_app_to_person_registered": False})
        return 204, None

    def _number_add(self, *, service: str, query: dict, form: dict, lists: dict) -> tuple[int, Any]:
        target = self._service(service)
        phone_sid = form.get("PhoneNumberSid", "")
        number = self.store.get_number(phone_sid)
        if number is None or number.get("account_sid") != self.acting:
            raise not_found(phone_sid)
        for other in self.store.services():
            if phone_sid in other["_sandbox"]["number_sids"]:
                if other["sid"] == service:
                    raise ApiError(409, 21710, "Phone Number is already in the Messaging Service.")
                raise ApiError(409, 21712, "Phone Number or Short Code is associated with another Messaging Service.")
        self.store.update_service(service, {}, add_number=phone_sid)
        now = now_iso8601()
        return 201, {
            "sid": phone_sid,
            "account_sid": self.acting,
            "service_sid": target["sid"],
            "date_created": now,
            "date_updated": now,
            "phone_number": number["phone_number"],
            "country_code": "US",
            "capabilities": ["SMS", "MMS", "Voice"],
            "url": f"{MESSAGING}/Services/{service}/PhoneNumbers/{phone_sid}",
        }
