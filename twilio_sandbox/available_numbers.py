"""Numbers for sale: GET /2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/US/Local.json.

The sandbox sells, per area code, NUMBERS_PER_AREA_CODE lines of the exchange 555 (minus
those owned, and none in an area code the control API emptied). Search filters: AreaCode,
InLocality, InRegion, InPostalCode, Contains, NearNumber, SmsEnabled (see PLACES for where
each area code's numbers are).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from .accounts import Sandbox
from .responses import ApiError, page_size
from .routing import E164, Answer, Request, Route
from .store import Store

NUMBERS_PER_AREA_CODE = 20
AREA_CODE = re.compile(r"^[2-9][0-9]{2}$")
# Where the NANP exchange "555" lines 0100-0199 are fictional; the sandbox sells lines in
# exchanges that libphonenumber accepts as valid (e.g. +1 512 555 01xx).
INVENTORY_EXCHANGE = "555"

# Where the sandbox's numbers are, per area code (locality, region, ZIP, lat, long); an area
# code not listed sells numbers in Springfield, IL. A search without AreaCode looks here.
PLACES: dict[str, tuple[str, str, str, float, float]] = {
    "512": ("Austin", "TX", "78701", 30.2672, -97.7431),
    "737": ("Austin", "TX", "78702", 30.2633, -97.7144),
    "214": ("Dallas", "TX", "75201", 32.7767, -96.7970),
    "312": ("Chicago", "IL", "60601", 41.8857, -87.6182),
    "217": ("Springfield", "IL", "62701", 39.8017, -89.6436),
}
DEFAULT_PLACE = ("Springfield", "IL", "62701", 39.8017, -89.6436)
KEYPAD = {
    letter: digit
    for digit, letters in {
        "2": "abc",
        "3": "def",
        "4": "ghi",
        "5": "jkl",
        "6": "mno",
        "7": "pqrs",
        "8": "tuv",
        "9": "wxyz",
    }.items()
    for letter in letters
}


def place_of(phone_number: str) -> tuple[str, str, str, float, float]:
    """(locality, region, ZIP, lat, long) of a sandbox number (+1 numbers only)."""
    return PLACES.get(phone_number[2:5], DEFAULT_PLACE) if phone_number.startswith("+1") else DEFAULT_PLACE


def contains_pattern(value: str) -> re.Pattern[str]:
    """Twilio's Contains: digits, letters (as on a keypad) and * for any one digit, anywhere in the number."""
    digits = "".join(KEYPAD.get(ch.lower(), ch) for ch in value)
    return re.compile("".join("[0-9]" if ch == "*" else re.escape(ch) for ch in digits))


def inventory(area_code: str) -> list[str]:
    """The numbers the sandbox has for sale in an area code (before removing sold ones)."""
    return [f"+1{area_code}{INVENTORY_EXCHANGE}{line:04d}" for line in range(100, 100 + NUMBERS_PER_AREA_CODE)]


def for_sale(store: Store, area_code: str) -> list[str]:
    """The numbers of an area code nobody here owns (none in an area code emptied by the control API)."""
    if not AREA_CODE.match(area_code) or area_code in store.flags("empty_area_codes"):
        return []
    owned = store.owned_numbers_set()
    # Numbers taken by another account stay listed: a search index is never exact.
    return [n for n in inventory(area_code) if n not in owned]


def friendly_format(phone_number: str) -> str:
    """A US number as people write it, "(512) 555-0100"; any other number as it is."""
    digits = phone_number[2:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}" if phone_number.startswith("+1") and len(digits) == 10 else phone_number


def _available(sandbox: Sandbox, request: Request, *, account: str, country: str) -> Answer:
    query = request.query
    voice_only = sandbox.store.flags("voice_only")
    numbers = _search(sandbox.store, query) if country == "US" else []
    if query.get("SmsEnabled", "").lower() == "true":
        numbers = [n for n in numbers if n not in voice_only]
    size = page_size(query, default=50)
    uri = f"{sandbox.base(account)}/AvailablePhoneNumbers/{country}/Local.json"
    return 200, {
        "available_phone_numbers": [_available_number(n, sms=n not in voice_only) for n in numbers[:size]],
        "end": min(len(numbers), size) - 1 if numbers else 0,
        "first_page_uri": f"{uri}?{urlencode(query)}",
        "next_page_uri": None,
        "page": 0,
        "page_size": size,
        "previous_page_uri": None,
        "start": 0,
        "uri": f"{uri}?{urlencode(query)}",
    }


def _search(store: Store, query: dict) -> list[str]:
    """The numbers for sale matching the AvailablePhoneNumbers Local filters in `query`."""
    area_code = query.get("AreaCode", "")
    near = query.get("NearNumber", "")
    if area_code:
        numbers = for_sale(store, area_code)
    else:
        numbers = [n for code in PLACES for n in for_sale(store, code)]
    if near:
        if not E164.match(near):
            raise ApiError(400, 21452, "No phone numbers found near an invalid NearNumber")
        numbers = [n for n in numbers if place_of(n)[0] == place_of(near)[0]]
    wanted = {
        0: query.get("InLocality", "").strip().lower(),
        1: query.get("InRegion", "").strip().upper(),
        2: query.get("InPostalCode", "").strip(),
    }
    for index, value in wanted.items():
        if value:
            numbers = [n for n in numbers if str(place_of(n)[index]).lower() == value.lower()]
    contains = query.get("Contains", "")
    if contains:
        pattern = contains_pattern(contains)
        numbers = [n for n in numbers if pattern.search(n[1:])]
    return numbers


def _available_number(phone_number: str, *, sms: bool) -> dict[str, Any]:
    locality, region, postal_code, latitude, longitude = place_of(phone_number)
    return {
        "friendly_name": friendly_format(phone_number),
        "phone_number": phone_number,
        "lata": "558",
        "locality": locality,
        "rate_center": locality.upper(),
        "latitude": latitude,
        "longitude": longitude,
        "region": region,
        "postal_code": postal_code,
        "iso_country": "US",
        "address_requirements": "none",
        "beta": False,
        "capabilities": {"voice": True, "sms": sms, "mms": sms, "fax": False},
    }


# Under /2010-04-01/Accounts/{AccountSid}, before ".json".
ROUTES = (Route("GET", r"/AvailablePhoneNumbers/(?P<country>[A-Z]{2})/Local", _available),)
