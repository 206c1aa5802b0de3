"""A2P reviews: how and when submitted bundles, brands and campaigns are decided, and the
callbacks that follow.

A bundle (trusthub.py) is submitted when its Status is set to pending-review, a brand
(brands.py) or campaign (campaigns.py) when it is created or resubmitted. The control API
says how every submission is decided:

  POST /__sandbox__/a2p-review {"mode": "approve"|"reject"|"manual", "code": 30909, "after_seconds": 30}
       how every submitted bundle, brand and campaign is decided (default: approve after 30 s);
  POST /__sandbox__/a2p-decide {"sid": "BU...|BN...|QE...", "outcome": "approve"|"reject", "code": 30909}
       decide one object now;
  GET  /__sandbox__/a2p-state   every object;
  GET  /__sandbox__/callbacks   every callback sent (URL, form, the app's HTTP status or why not sent).

A review's time is kept by the server's review timer (server.py), and by every read of
the object. When a customer profile or trust product is decided, its StatusCallback
(given at create or update) is POSTed, signed like Twilio's (callbacks.py), with
AccountSid, BundleSid and Status; brands and campaigns have no StatusCallback at Twilio.
"""

from __future__ import annotations

import time
from typing import Any

from .accounts import Sandbox
from .callbacks import callback_send
from .responses import not_found
from .store import now_iso8601

DEFAULT_REVIEW: dict[str, Any] = {"mode": "approve", "after_seconds": 30, "code": 30909}
# The status a decision gives, per family of object.
APPROVED = {"bundle": "twilio-approved", "brand": "APPROVED", "campaign": "VERIFIED"}
REJECTED = {"bundle": "twilio-rejected", "brand": "FAILED", "campaign": "FAILED"}


def a2p_object(sandbox: Sandbox, sid: str, kind: str, account: str) -> dict[str, Any]:
    """The A2P object `sid` of that kind in `account`, reviewed if its time has come; 20404 otherwise."""
    obj = sandbox.store.a2p_get(sid)
    if obj is None or obj["_sandbox"]["kind"] != kind or obj.get("account_sid") != account:
        raise not_found(sid)
    return reviewed(sandbox, obj)


def reviewed(sandbox: Sandbox, obj: dict[str, Any]) -> dict[str, Any]:
    """Apply the configured review to a submitted object once its time has come."""
    meta = obj["_sandbox"]
    family, submitted_at = meta.get("family"), meta.get("submitted_at")
    if family is None or submitted_at is None or meta.get("decided"):
        return obj
    review = sandbox.store.a2p_review() or DEFAULT_REVIEW
    if review["mode"] == "manual" or time.time() < submitted_at + float(review.get("after_seconds", 0)):
        return obj
    decided = decide(sandbox, obj["sid"], review["mode"], int(review.get("code") or 30909), pending_since=submitted_at)
    return decided or sandbox.store.a2p_get(obj["sid"]) or obj


def review_due(sandbox: Sandbox) -> None:
    """Decide every submitted object whose review time has come (the server's review
    timer calls this, so a review ends, and calls back, without anybody reading it)."""
    if (sandbox.store.a2p_review() or DEFAULT_REVIEW)["mode"] == "manual":
        return  # decided by a2p-decide alone: nothing to look at (a fleet holds tens of thousands)
    for obj in sandbox.store.a2p_undecided():
        reviewed(sandbox, obj)


def decide(sandbox: Sandbox, sid: str, outcome: str, code: int, *, pending_since: float | None = None) -> dict[str, Any] | None:
    """Approve or reject one submitted object now, and call back a bundle's StatusCallback.

    KeyError when `sid` is no bundle, brand or campaign ever submitted. With
    `pending_since` (its review's time has come), None when that submission was decided
    meanwhile (by the timer, or a request that read it).
    """
    obj = sandbox.store.a2p_get(sid)
    if obj is None or obj["_sandbox"].get("family") is None:
        raise KeyError(sid)
    family = obj["_sandbox"]["family"]
    status_field = "campaign_status" if family == "campaign" else "status"
    changes: dict[str, Any] = {"date_updated": now_iso8601()}
    if outcome == "approve":
        changes["errors"] = [] if family != "bundle" else None
        changes[status_field] = APPROVED[family]
        if family == "brand":
            changes.update(tcr_id="B" + sid[-6:].upper(), identity_status="VERIFIED", failure_reason=None)
    else:
        error = {"code": code, "description": f"Rejected in the sandbox review (Twilio error {code}).", "fields": []}
        changes["errors"] = [error]
        changes[status_field] = REJECTED[family]
        if family == "brand":
            changes["failure_reason"] = error["description"]
    decided = sandbox.store.a2p_decide(sid, changes, pending_since=pending_since)
    if decided is not None and family == "bundle" and decided.get("status_callback"):
        _call_back(sandbox, decided)
    return decided


def _call_back(sandbox: Sandbox, bundle: dict[str, Any]) -> None:
    """POST the bundle's new status to its StatusCallback, signed with its account's token.

    Twilio documents the parameter, not the request; the sandbox sends the bundle's
    account, SID and status (the app uses the SID and fetches the status itself).
    Brands and campaigns have no StatusCallback at Twilio, so none here.
    """
    account = bundle["account_sid"]
    sub = sandbox.store.get_account(account) if account != sandbox.account_sid else None
    token = sub["auth_token"] if sub is not None else sandbox.auth_token
    form = {"AccountSid": account, "BundleSid": bundle["sid"], "Status": bundle["status"]}
    callback_send(sandbox.store, url=bundle["status_callback"], form=form, auth_token=token)
