"""Addresses (API v2010), which customer profiles' address documents name.

  POST/GET /2010-04-01/Accounts/{AccountSid}/Addresses.json         (create: 20001; list by FriendlyName)
  POST     /2010-04-01/Accounts/{AccountSid}/Addresses/{Sid}.json   (update; 20404)
The app routes them with the A2P objects, not with the other resources under an account:
they are kept with them in the store, and their routes refuse no suspended subaccount.
"""

from __future__ import annotations

from typing import Any

from .accounts import API, Sandbox
from .responses import not_found, page_size, public, v2010_page
from .routing import Answer, Request, Route
from .store import new_sid, now_rfc2822

# The fields an update may change (parameter -> field); the country cannot change (Twilio's
# spec has no IsoCountry on update).
_UPDATABLE = {
    "FriendlyName": "friendly_name",
    "CustomerName": "customer_name",
    "Street": "street",
    "StreetSecondary": "street_secondary",
    "City": "city",
    "Region": "region",
    "PostalCode": "postal_code",
}


def _create(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    form = request.form
    request.require("CustomerName", "Street", "City", "Region", "PostalCode", "IsoCountry")
    sid, now = new_sid("AD"), now_rfc2822()
    address = {
        "account_sid": account,
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
        "uri": f"{sandbox.base(account)}/Addresses/{sid}.json",
        "emergency_enabled": False,
        "validated": True,
        "verified": False,
        "_sandbox": {"kind": "address"},
    }
    sandbox.store.a2p_put(address)
    return 201, public(address)


def _update(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    address = sandbox.store.a2p_get(sid)
    if address is None or address["_sandbox"]["kind"] != "address" or address["account_sid"] != account:
        raise not_found(f"{sandbox.base(account)}/Addresses/{sid}.json")
    changes: dict[str, Any] = {attr: request.form[param] for param, attr in _UPDATABLE.items() if param in request.form}
    changes["date_updated"] = now_rfc2822()
    return 200, public(sandbox.store.a2p_update(sid, changes))


def _list(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    query = request.query
    items = sandbox.store.a2p_list("address", account=account)
    filters = {"FriendlyName": query["FriendlyName"]} if query.get("FriendlyName") else {}
    if filters:
        items = [a for a in items if a["friendly_name"] == filters["FriendlyName"]]
    uri = f"{sandbox.base(account)}/Addresses.json"
    return 200, v2010_page("addresses", uri, page_size(query, default=50), [public(a) for a in items], filters)


_ADDRESSES = rf"{API}/Accounts/(?P<account>AC[0-9a-f]{{32}})/Addresses"
# Whole paths; each acts in the account the path names.
ROUTES = (
    Route("POST", rf"{_ADDRESSES}\.json", _create),
    Route("GET", rf"{_ADDRESSES}\.json", _list),
    Route("POST", rf"{_ADDRESSES}/(?P<sid>AD[0-9a-f]{{32}})\.json", _update),
)
