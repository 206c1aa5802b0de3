"""Prices of phone numbers: GET /v1/PhoneNumbers/Countries/{IsoCountry} (Pricing API v1; US only)."""

from __future__ import annotations

import re

from .accounts import Sandbox
from .responses import method_not_allowed, not_found
from .routing import Answer, Request

# The app sends every path under this prefix here (authenticated first, then 405 or 404).
PATH_PREFIX = "/v1/PhoneNumbers/"
# The monthly prices the sandbox answers (Twilio's US list prices).
LOCAL_PRICE, TOLL_FREE_PRICE = "1.15", "2.15"


def phone_number_prices(sandbox: Sandbox, request: Request) -> Answer:
    """The US prices of a local and a toll-free number, for the main account's credentials."""
    method, path = request.method, request.path
    sandbox.authenticate(request.environ, sandbox.account_sid)
    if method != "GET":
        raise method_not_allowed(method, path)
    match = re.fullmatch(r"/v1/PhoneNumbers/Countries/(?P<country>[A-Z]{2})", path)
    if match is None or match["country"] != "US":
        raise not_found(path)
    return 200, {
        "country": "United States",
        "iso_country": "US",
        "phone_number_prices": [
            {"number_type": "local", "base_price": LOCAL_PRICE, "current_price": LOCAL_PRICE},
            {"number_type": "toll free", "base_price": TOLL_FREE_PRICE, "current_price": TOLL_FREE_PRICE},
        ],
        "price_unit": "USD",
        "url": f"https://pricing.twilio.com{path}",
    }
