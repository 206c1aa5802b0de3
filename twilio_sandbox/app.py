"""The sandbox Twilio as a WSGI app: REST API v2010 (the slice we use) + a control API.

REST API (HTTP Basic auth with the sandbox account, or a subaccount's own SID and token
for its own resources; Twilio's JSON shapes and errors):
  GET/POST /2010-04-01/Accounts.json                                      (subaccounts: list by FriendlyName/Status, create)
  GET/POST /2010-04-01/Accounts/{AccountSid}.json                         (fetch; update FriendlyName/Status: 21477, 21479)
  Under a suspended subaccount every other resource is 20005 (Account not active), under a
  closed one 20404; closing a subaccount releases its numbers.
  GET    /2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/US/Local.json
  Numbers and messages belong to the account in the path: the main account, or one of
  its subaccounts (an unknown or other account's SID is 20404).
  GET    /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json       (paged, PageSize <= 1000)
  POST   /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json       (buy: 21422, 21452)
  GET/POST/DELETE /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json (20404;
                 POST AccountSid=... transfers it between parent and subaccount: 21472, 21473, 21474)
  POST   /2010-04-01/Accounts/{AccountSid}/Messages.json                   (21610, 21211, 21606)
  GET    /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json
  GET    /2010-04-01/Accounts/{AccountSid}/Usage/Records/ThisMonth.json    (calls, sms, totalprice from its own counts)
  GET    /v1/Services, /v1/Services/{Sid}/PhoneNumbers                    (Messaging API v1)
  GET    /v1/PhoneNumbers/Countries/{IsoCountry}                           (Pricing API v1; US only)
Number search filters: AreaCode, InLocality, InRegion, InPostalCode, Contains, NearNumber,
SmsEnabled (see PLACES for where each area code's numbers are).

Control API (no auth, JSON), for tests and demos, under /__sandbox__/; it answers only
requests from a loopback address (403 otherwise), whatever interface the server binds:
  POST reset; POST/DELETE faults {"method", "path", "mode", "status", "code", "message", "delay",
  "times", "probability", "retry_after"}: the next `times` matching requests (each with `probability`) fail;
  POST area-codes {"area_code", "empty"};
  POST voice-only {"numbers"}; POST taken {"numbers"}; POST numbers {"numbers": [...]};
  POST messaging-services {"friendly_name", "inbound_request_url", "use_inbound_webhook_on_number", "number_sids"};
  DELETE numbers/{sid}; POST unsubscribed {"numbers"}; GET/DELETE requests;
  POST calls {"account_sid", "count"} (calls counted in that account's usage this month);
  GET state (numbers, messages, and subaccounts with their auth tokens, so tests can sign as one);
  A2P reviews and the callbacks they send: see a2p.py.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlencode

from . import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from .a2p import A2PApi, request_user
from .responses import ApiError, method_not_allowed, not_found, page_size, public, v1_page, v2010_page
from .store import Store, new_sid, now_rfc2822

API = "/2010-04-01"
MESSAGING_ORIGIN = "https://messaging.twilio.com"
NUMBERS_PER_AREA_CODE = 20
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
AREA_CODE = re.compile(r"^[2-9][0-9]{2}$")

# The sandbox's own prices (USD) for its usage records: one minute per call, one segment per SMS.
USAGE_PRICE = {"calls": 0.0085, "sms": 0.0079}

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
# The local monthly price the sandbox's Pricing API answers (Twilio's US list price).
LOCAL_PRICE, TOLL_FREE_PRICE = "1.15", "2.15"
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


class SandboxApp:
    """WSGI callable; all state lives in the Store (SQLite file)."""

    def __init__(self, db_path: str, *, account_sid: str = SANDBOX_ACCOUNT_SID, auth_token: str = SANDBOX_AUTH_TOKEN) -> None:
        self.store = Store(db_path)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.a2p = A2PApi(self)

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"].upper()
        path = environ.get("PATH_INFO", "")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        body = _read_body(environ)
        if path.startswith("/__sandbox__/"):
            if not is_loopback(environ.get("REMOTE_ADDR", "")):
                # Faults, seeded numbers and the request log are for the machine's own
                # tests and demo, never for whoever can reach the port.
                return _respond(start_response, 403, {"error": "the sandbox's control API answers loopback clients only"})
            status, payload = self._control(method, path[len("/__sandbox__/") :], body)
            return _respond(start_response, status, payload)
        form_lists = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        form = {k: v[-1] for k, v in form_lists.items()}
        environ["sandbox.form_lists"] = form_lists  # repeated parameters (MessageSamples, keywords)
        fault = self.store.take_fault(method, path)
        try:
            if fault and fault.get("mode", "error") == "error":
                raise ApiError(
                    int(fault.get("status", 500)),
                    int(fault.get("code") or fault.get("status", 500)),
                    fault.get("message") or "Injected fault",
                )
            if fault and fault.get("mode") == "delay_before":
                time.sleep(float(fault.get("delay", 1.0)))
            status, payload = self._api(method, path, query, form, environ)
        except ApiError as exc:
            status, payload = exc.status, exc.body()
        self.store.log_request(
            {
                "method": method,
                "path": path,
                "query": query,
                "form": form,
                "status": status,
                "fault": fault.get("mode") if fault else None,
                # Who authenticated (the account SID only): tests check which account acted.
                "auth": request_user(environ),
            }
        )
        if fault and fault.get("mode") == "delay_after":
            time.sleep(float(fault.get("delay", 1.0)))
        if fault and fault.get("mode") == "drop_after":
            environ["sandbox.drop_connection"]()
            return []
        # A fault may carry Twilio's Retry-After (seconds), as Twilio sends with a 429.
        retry_after = (("Retry-After", str(int(fault["retry_after"]))),) if fault and fault.get("retry_after") else ()
        return _respond(start_response, status, payload, extra_headers=retry_after)

    # ------------------------------------------------------------------ REST API

    def _api(self, method: str, path: str, query: dict, form: dict, environ: dict) -> tuple[int, Any]:
        if path.startswith("/v1/PhoneNumbers/"):
            return self._pricing_api(method, path, environ)
        # A2P 10DLC: Trust Hub, brands, campaigns, senders, Addresses (twilio_sandbox/a2p.py).
        a2p = self.a2p.handle(method, path, query, form, environ)
        if a2p is not None:
            return a2p
        if path.startswith("/v1/"):
            return self._messaging_api(method, path, query, environ)
        if path == f"{API}/Accounts.json":
            return self._accounts_api(method, query, form, environ)
        match = re.fullmatch(rf"{API}/Accounts/(?P<account>[^/]+?)(?P<rest>/.*)?\.json", path)
        if not match:
            raise not_found(path)
        account = match["account"]
        caller = self._authenticate(environ, account)
        rest = match["rest"] or ""
        if rest:
            self._require_active(account, path)
        if method == "POST" and "AccountSid" in form and rest.startswith("/IncomingPhoneNumbers/") and caller != self.account_sid:
            raise ApiError(400, 21474, "API User must be the parent account to transfer phone numbers.")
        routes: list[tuple[str, str, Callable[..., tuple[int, Any]]]] = [
            ("GET", r"", lambda query, form, account: (200, self._account(account))),
            ("POST", r"", self._update_account),
            ("GET", r"/AvailablePhoneNumbers/(?P<country>[A-Z]{2})/Local", self._available),
            ("GET", r"/IncomingPhoneNumbers", self._list_numbers),
            ("POST", r"/IncomingPhoneNumbers", self._buy),
            ("GET", r"/IncomingPhoneNumbers/(?P<sid>PN[0-9a-fA-F]{32})", self._fetch_number),
            ("POST", r"/IncomingPhoneNumbers/(?P<sid>PN[0-9a-fA-F]{32})", self._update_number),
            ("DELETE", r"/IncomingPhoneNumbers/(?P<sid>PN[0-9a-fA-F]{32})", self._delete_number),
            ("POST", r"/Messages", self._send_message),
            ("GET", r"/Messages/(?P<sid>(SM|MM)[0-9a-fA-F]{32})", self._fetch_message),
            ("GET", r"/Usage/Records/ThisMonth", self._usage_this_month),
        ]
        path_matched = False
        for route_method, pattern, handler in routes:
            route = re.fullmatch(pattern, rest)
            if route is None:
                continue
            path_matched = True
            if route_method == method:
                return handler(**route.groupdict(), query=query, form=form, account=account)
        if path_matched:
            raise method_not_allowed(method, path)
        raise not_found(path)

    def _authenticate(self, environ: dict, account: str) -> str:
        """The main account may act on itself and its subaccounts; a subaccount (with its
        own token) on itself only; any other account in the path is 20003."""
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":") if scheme.lower() == "basic" else ("", "", "")
        except (binascii.Error, UnicodeDecodeError):
            user, password = "", ""
        if hmac.compare_digest(user, self.account_sid) and hmac.compare_digest(password, self.auth_token):
            if account != self.account_sid and self.store.get_account(account) is None:
                # Not ours (nor one of our subaccounts): Twilio does not say whether it exists.
                raise ApiError(401, 20003, "Authenticate")
            return user
        sub = self.store.get_account(user) if user.startswith("AC") else None
        if sub is None or not hmac.compare_digest(password, sub["auth_token"]) or account != user:
            raise ApiError(401, 20003, "Authenticate")
        return user

    def _base(self, account: str | None = None) -> str:
        return f"{API}/Accounts/{account or self.account_sid}"

    def _account(self, account: str | None = None) -> dict[str, Any]:
        if account and account != self.account_sid:
            sub = self.store.get_account(account)
            if sub is None:
                raise not_found(f"{self._base(account)}.json")
            return sub
        now = now_rfc2822()
        return {
            "auth_token": self.auth_token,
            "date_created": now,
            "date_updated": now,
            "friendly_name": "DentSignal sandbox",
            "owner_account_sid": self.account_sid,
            "sid": self.account_sid,
            "status": "active",
            "type": "Full",
            "subresource_uris": {
                "incoming_phone_numbers": f"{self._base()}/IncomingPhoneNumbers.json",
                "messages": f"{self._base()}/Messages.json",
            },
            "uri": f"{self._base()}.json",
        }

    # subaccounts ---------------------------------------------------------------
    # https://www.twilio.com/docs/iam/api/subaccounts: created by the main account, listed
    # with the main account first, filtered by exact FriendlyName and Status; the create
    # and fetch answers carry the subaccount's auth token.

    def _accounts_api(self, method: str, query: dict, form: dict, environ: dict) -> tuple[int, Any]:
        self._authenticate(environ, self.account_sid)
        if method == "POST":
            return 201, self._create_account(form)
        if method != "GET":
            raise method_not_allowed(method, f"{API}/Accounts.json")
        accounts = [self._account(), *self.store.accounts()]
        if "FriendlyName" in query:
            accounts = [a for a in accounts if a["friendly_name"] == query["FriendlyName"]]
        if "Status" in query:
            accounts = [a for a in accounts if a["status"] == query["Status"]]
        filters = {k: query[k] for k in ("FriendlyName", "Status") if k in query}
        return 200, v2010_page("accounts", f"{API}/Accounts.json", page_size(query, default=50), accounts, filters)

    def _create_account(self, form: dict) -> dict[str, Any]:
        sid, now = new_sid("AC"), now_rfc2822()
        base = self._base(sid)
        account = {
            "auth_token": secrets.token_hex(16),
            "date_created": now,
            "date_updated": now,
            # Twilio names an unnamed subaccount "SubAccount Created at {date}".
            "friendly_name": form.get("FriendlyName") or f"SubAccount Created at {now}",
            "owner_account_sid": self.account_sid,
            "sid": sid,
            "status": "active",
            "type": "Full",
            "subresource_uris": {
                "incoming_phone_numbers": f"{base}/IncomingPhoneNumbers.json",
                "messages": f"{base}/Messages.json",
            },
            "uri": f"{base}.json",
        }
        self.store.insert_account(account)
        return account

    def _update_account(self, *, query: dict, form: dict, account: str) -> tuple[int, Any]:
        if account == self.account_sid:
            if "Status" in form:
                raise ApiError(400, 21477, "Unable to update Status for parent accounts")
            return 200, self._account()
        current = self._account(account)
        changes: dict[str, Any] = {}
        if "Status" in form:
            if form["Status"] not in ("active", "suspended", "closed"):
                raise ApiError(400, 20001, f"Status must be active, suspended or closed, not {form['Status']!r}")
            if current["status"] == "closed" and form["Status"] != "closed":
                raise ApiError(400, 21479, "Unable to update Status for subaccount, subaccount has been closed.")
            changes["status"] = form["Status"]
            if form["Status"] == "closed":
                self._release_all(account)
        if "FriendlyName" in form:
            changes["friendly_name"] = form["FriendlyName"]
        return 200, self.store.update_account(account, changes)

    def _require_active(self, account: str, path: str) -> None:
        """Resources under a subaccount that is not active are refused, as at Twilio: a
        suspended one with 20005 "Account not active" (https://www.twilio.com/docs/api/errors/20005;
        the HTTP status is the sandbox's choice, 403), a closed one as gone (20404)."""
        sub = self.store.get_account(account) if account != self.account_sid else None
        if sub is None or sub["status"] == "active":
            return
        if sub["status"] == "closed":
            raise not_found(path)
        raise ApiError(403, 20005, "Account not active")

    def _release_all(self, account: str) -> None:
        """Closing a subaccount releases every number in it (Twilio: "Twilio will release all
        phone numbers assigned to it", https://www.twilio.com/docs/iam/api/subaccounts)."""
        for number in self.store.owned():
            if number["account_sid"] == account:
                self.store.delete_number(number["sid"])

    # numbers for sale --------------------------------------------------------

    def _for_sale(self, area_code: str) -> list[str]:
        if not AREA_CODE.match(area_code) or area_code in self.store.flags("empty_area_codes"):
            return []
        owned = self.store.owned_numbers_set()
        # Numbers taken by another account stay listed: a search index is never exact.
        return [n for n in inventory(area_code) if n not in owned]

    def _available(self, *, country: str, query: dict, form: dict, account: str) -> tuple[int, Any]:
        voice_only = self.store.flags("voice_only")
        numbers = self._search(query) if country == "US" else []
        if query.get("SmsEnabled", "").lower() == "true":
            numbers = [n for n in numbers if n not in voice_only]
        size = page_size(query, default=50)
        uri = f"{self._base(account)}/AvailablePhoneNumbers/{country}/Local.json"
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

    def _search(self, query: dict) -> list[str]:
        """The numbers for sale matching the AvailablePhoneNumbers Local filters in `query`."""
        area_code = query.get("AreaCode", "")
        near = query.get("NearNumber", "")
        if area_code:
            numbers = self._for_sale(area_code)
        else:
            numbers = [n for code in PLACES for n in self._for_sale(code)]
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

    # ------------------------------------------------------------------ Pricing API v1

    def _pricing_api(self, method: str, path: str, environ: dict) -> tuple[int, Any]:
        self._authenticate(environ, self.account_sid)
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

    # owned numbers ------------------------------------------------------------

    def _list_numbers(self, *, query: dict, form: dict, account: str) -> tuple[int, Any]:
        size = page_size(query, default=50)
        page = int(query.get("Page", "0") or 0) if query.get("Page", "0").isdigit() else 0
        after = (
            int(query["PageToken"][2:])
            if query.get("PageToken", "").startswith("PT") and query["PageToken"][2:].isdigit()
            else -1
        )
        rows = self.store.owned_page(
            after_seq=after,
            limit=size,
            phone_number=query.get("PhoneNumber"),
            friendly_name=query.get("FriendlyName"),
            account_sid=account,
        )
        items, more = rows[:size], len(rows) > size
        uri = f"{self._base(account)}/IncomingPhoneNumbers.json"
        filters = {k: query[k] for k in ("PhoneNumber", "FriendlyName") if k in query}
        next_uri = None
        if more:
            next_uri = f"{uri}?{urlencode({**filters, 'PageSize': size, 'Page': page + 1, 'PageToken': f'PT{items[-1][0]}'})}"
        return 200, {
            "incoming_phone_numbers": [public(data) for _, data in items],
            "end": page * size + max(len(items) - 1, 0),
            "start": page * size,
            "first_page_uri": f"{uri}?{urlencode({**filters, 'PageSize': size, 'Page': 0})}",
            "next_page_uri": next_uri,
            "page": page,
            "page_size": size,
            "previous_page_uri": None if page == 0 else f"{uri}?{urlencode({**filters, 'PageSize': size, 'Page': page - 1})}",
            "uri": f"{uri}?{urlencode({**filters, 'PageSize': size, 'Page': page})}",
        }

    def _buy(self, *, query: dict, form: dict, account: str) -> tuple[int, Any]:
        phone_number = form.get("PhoneNumber", "")
        area_code = form.get("AreaCode", "")
        if not phone_number and not area_code:
            raise ApiError(400, 21450, "Phone number or area code is required")
        if not phone_number:
            candidates = [n for n in self._for_sale(area_code) if n not in self.store.flags("taken")]
            if not candidates:
                raise ApiError(400, 21452, f"No phone numbers found in area code {area_code}")
            phone_number = candidates[0]
        if not E164.match(phone_number):
            raise ApiError(400, 21421, f"PhoneNumber {phone_number} is invalid")
        area = phone_number[2:5] if phone_number.startswith("+1") else ""
        if phone_number not in inventory(area) or area in self.store.flags("empty_area_codes"):
            raise ApiError(400, 21422, f"PhoneNumber {phone_number} is not available")
        number = self._new_number(phone_number, form, sms=phone_number not in self.store.flags("voice_only"), account=account)
        if not self.store.insert_number(number):
            raise ApiError(400, 21422, f"PhoneNumber {phone_number} is not available")
        return 201, public(number)

    def _new_number(
        self,
        phone_number: str,
        form: dict,
        *,
        sms: bool = True,
        voice: bool = True,
        extra: dict | None = None,
        account: str | None = None,
    ) -> dict:
        sid, now = new_sid("PN"), now_rfc2822()
        number = {
            "account_sid": account or self.account_sid,
            "address_sid": None,
            "address_requirements": "none",
            "api_version": "2010-04-01",
            "beta": False,
            "capabilities": {"voice": voice, "sms": sms, "mms": sms, "fax": False},
            "date_created": now,
            "date_updated": now,
            "emergency_status": "Inactive",
            "emergency_address_sid": None,
            "emergency_address_status": "unregistered",
            "friendly_name": _format_friendly(phone_number),
            "identity_sid": None,
            "origin": "twilio",
            "phone_number": phone_number,
            "sid": sid,
            "sms_application_sid": None,
            "sms_fallback_method": "POST",
            "sms_fallback_url": "",
            "sms_method": "POST",
            "sms_url": "",
            "status_callback": "",
            "status_callback_method": "POST",
            "trunk_sid": None,
            "uri": f"{self._base(account)}/IncomingPhoneNumbers/{sid}.json",
            "voice_receive_mode": "voice",
            "voice_application_sid": None,
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": "",
            "voice_method": "POST",
            "voice_url": "",
            "bundle_sid": None,
            "status": "in-use",
            "type": "local",
            # The sandbox's own bookkeeping, never sent in API answers (see _public).
            "_sandbox": {"messaging_service_sid": None},
        }
        number.update(_number_changes(form))
        number.update(extra or {})
        return number

    def _number_of(self, sid: str, account: str) -> dict[str, Any]:
        """The number `sid` if `account` owns it; another account's number is 20404, as at Twilio."""
        number = self.store.get_number(sid)
        if number is None or number["account_sid"] != account:
            raise not_found(f"{self._base(account)}/IncomingPhoneNumbers/{sid}.json")
        return number

    def _fetch_number(self, *, sid: str, query: dict, form: dict, account: str) -> tuple[int, Any]:
        return 200, public(self._number_of(sid, account))

    def _update_number(self, *, sid: str, query: dict, form: dict, account: str) -> tuple[int, Any]:
        self._number_of(sid, account)
        if "AccountSid" in form and form["AccountSid"] != account:
            return 200, public(self._transfer(sid, owner=account, to_account=form["AccountSid"]))
        number = self.store.update_number(sid, _number_changes(form))
        if number is None:
            raise not_found(f"{self._base(account)}/IncomingPhoneNumbers/{sid}.json")
        return 200, public(number)

    def _transfer(self, sid: str, *, owner: str, to_account: str) -> dict[str, Any]:
        """Exchange a number between the parent and one of its subaccounts (Twilio:
        https://www.twilio.com/docs/iam/api/subaccounts#exchanging-numbers): only the parent's
        credentials may (21474, checked in _api), only between the parent and one of its subaccounts (21473), only to an
        active account (21472). The number keeps its SID; its URI names the new account."""
        # Between the parent and a subaccount only (never subaccount to subaccount).
        related = self.account_sid in (owner, to_account) and (
            to_account == self.account_sid or self.store.get_account(to_account)
        )
        target = self._account(to_account) if related and owner != to_account else None
        if target is None:
            raise ApiError(
                400, 21473, "AccountSid you are transferring to is not related to the originating owner of the phone number"
            )
        if target["status"] != "active":
            raise ApiError(400, 21472, "Account is not active")
        number = self.store.update_number(
            sid, {"account_sid": to_account, "uri": f"{self._base(to_account)}/IncomingPhoneNumbers/{sid}.json"}
        )
        if number is None:
            raise not_found(f"{self._base()}/IncomingPhoneNumbers/{sid}.json")
        return number

    def _delete_number(self, *, sid: str, query: dict, form: dict, account: str) -> tuple[int, Any]:
        self._number_of(sid, account)
        if not self.store.delete_number(sid):
            raise not_found(f"{self._base(account)}/IncomingPhoneNumbers/{sid}.json")
        return 204, None

    # usage -----------------------------------------------------------------------
    # GET /Accounts/{sid}/Usage/Records/ThisMonth.json (https://www.twilio.com/docs/usage/api/usage-record):
    # the sandbox's own counts this month, at its own fixed prices: `calls` (recorded by the
    # control API's POST calls), `sms` (messages sent from the account), `totalprice`.

    def _usage_this_month(self, *, query: dict, form: dict, account: str) -> tuple[int, Any]:
        month = time.strftime("%Y-%m", time.gmtime())
        calls = self.store.calls_count(account)
        sms = sum(1 for m in self.store.messages() if m["account_sid"] == account and _rfc2822_month(m["date_created"]) == month)
        prices = {"calls": round(calls * USAGE_PRICE["calls"], 4), "sms": round(sms * USAGE_PRICE["sms"], 4)}
        records = [
            self._usage_record(account, "calls", "Voice Minutes", str(calls), "calls", str(calls), "minutes", prices["calls"]),
            self._usage_record(account, "sms", "SMS Messages", str(sms), "messages", str(sms), "messages", prices["sms"]),
            self._usage_record(
                account, "totalprice", "Total Price", "", "", str(sum(prices.values())), "usd", sum(prices.values())
            ),
        ]
        if "Category" in query:
            records = [r for r in records if r["category"] == query["Category"]]
        uri = f"{self._base(account)}/Usage/Records/ThisMonth.json"
        filters = {k: query[k] for k in ("Category",) if k in query}
        return 200, v2010_page("usage_records", uri, page_size(query, default=50), records, filters)

    def _usage_record(
        self,
        account: str,
        category: str,
        description: str,
        count: str,
        count_unit: str,
        usage: str,
        usage_unit: str,
        price: float,
    ) -> dict[str, Any]:
        today = time.strftime("%Y-%m-%d", time.gmtime())
        base = f"{self._base(account)}/Usage/Records"
        return {
            "account_sid": account,
            "api_version": "2010-04-01",
            "as_of": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            "category": category,
            "count": count,
            "count_unit": count_unit,
            "description": description,
            "end_date": today,
            "price": round(price, 4),
            "price_unit": "usd",
            "start_date": today[:8] + "01",
            "subresource_uris": {"this_month": f"{base}/ThisMonth.json?Category={category}"},
            "uri": f"{base}/ThisMonth.json?Category={category}",
            "usage": usage,
            "usage_unit": usage_unit,
        }

    # messages -------------------------------------------------------------------

    def _send_message(self, *, query: dict, form: dict, account: str) -> tuple[int, Any]:
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        service_sid = form.get("MessagingServiceSid") or None
        if service_sid and not sender:
            sender = self.a2p.service_sender(service_sid)
        if not E164.match(to):
            raise ApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not body and not form.get("MediaUrl"):
            raise ApiError(400, 21602, "Message body is required.")
        owned = {n["phone_number"]: n for n in self.store.owned() if n["account_sid"] == account}
        if sender not in owned or not owned[sender]["capabilities"].get("sms"):
            raise ApiError(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone number "
                "or short code for your account.",
            )
        if to in self.store.flags("unsubscribed"):
            raise ApiError(400, 21610, "Attempt to send to unsubscribed recipient")
        sid, now = new_sid("SM"), now_rfc2822()
        message = {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service_sid,
            "num_media": "0",
            "num_segments": str(max(1, (len(body) + 152) // 153)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{self._base(account)}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"{self._base(account)}/Messages/{sid}.json",
            "_sandbox": {"status_callback": form.get("StatusCallback")},
        }
        self.store.insert_message(message)
        return 201, public(message)

    def _fetch_message(self, *, sid: str, query: dict, form: dict, account: str) -> tuple[int, Any]:
        message = self.store.get_message(sid)
        if message is None or message["account_sid"] != account:
            raise not_found(f"{self._base(account)}/Messages/{sid}.json")
        return 200, public(message)

    # ------------------------------------------------------------------ Messaging API v1

    def _messaging_api(self, method: str, path: str, query: dict, environ: dict) -> tuple[int, Any]:
        # Messaging v1 is scoped by the credentials: each account sees its own services.
        account = self.a2p._authenticate_acting(environ, None)
        if method != "GET":
            raise method_not_allowed(method, path)
        size = page_size(query, default=50)
        services = [s for s in self.store.services() if s.get("account_sid", self.account_sid) == account]
        if path == "/v1/Services":
            return 200, v1_page("services", MESSAGING_ORIGIN + path, size, [public(s) for s in services])
        match = re.fullmatch(r"/v1/Services/(?P<sid>MG[0-9a-fA-F]{32})/PhoneNumbers", path)
        service = next((s for s in services if match and s["sid"] == match["sid"]), None)
        if service is None:
            raise not_found(path)
        owned = {n["sid"]: n for n in self.store.owned()}
        numbers = [
            {
                "sid": sid,
                "account_sid": account,
                "service_sid": service["sid"],
                "date_created": service["date_created"],
                "date_updated": service["date_updated"],
                "phone_number": owned[sid]["phone_number"],
                "country_code": "US",
                "capabilities": ["SMS", "MMS", "Voice"],
                "url": f"https://messaging.twilio.com/v1/Services/{service['sid']}/PhoneNumbers/{sid}",
            }
            for sid in service["_sandbox"]["number_sids"]
            if sid in owned
        ]
        return 200, v1_page("phone_numbers", MESSAGING_ORIGIN + path, size, numbers)

    def _new_service(self, spec: dict[str, Any]) -> dict[str, Any]:
        sid, now = new_sid("MG"), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        url = f"https://messaging.twilio.com/v1/Services/{sid}"
        return {
            "sid": sid,
            "account_sid": self.account_sid,
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

    # ------------------------------------------------------------------ control API

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        try:
            payload = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return 400, {"error": "body is not JSON"}
        store = self.store
        if (method, path) == ("POST", "reset"):
            store.reset()
            return 200, {"ok": True}
        if path == "faults" and method == "POST":
            store.add_fault(payload.get("method", "*"), payload.get("path", ""), payload, int(payload.get("times", 1)))
            return 200, {"ok": True}
        if path == "faults" and method == "DELETE":
            store.clear_faults()
            return 200, {"ok": True}
        if (method, path) == ("POST", "area-codes"):
            store.set_flag("empty_area_codes", str(payload["area_code"]), bool(payload.get("empty", True)))
            return 200, {"ok": True}
        flag_tables = {"taken": "taken", "voice-only": "voice_only", "unsubscribed": "unsubscribed"}
        if method == "POST" and path in flag_tables:
            for number in payload.get("numbers", []):
                store.set_flag(flag_tables[path], number, True)
            return 200, {"ok": True}
        if (method, path) == ("POST", "messaging-services"):
            service = self._new_service(payload)
            store.insert_service(service)
            return 200, {"sid": service["sid"]}
        if (method, path) == ("POST", "numbers"):
            numbers = [self._seeded(spec) for spec in payload.get("numbers", [])]
            store.insert_many(numbers)
            return 200, {"sids": [n["sid"] for n in numbers]}
        if method == "DELETE" and path.startswith("numbers/"):
            return (200, {"ok": True}) if store.delete_number(path.split("/", 1)[1]) else (404, {"error": "no such number"})
        if path == "requests" and method == "GET":
            return 200, {"requests": store.requests()}
        if path == "requests" and method == "DELETE":
            store.clear_requests()
            return 200, {"ok": True}
        if (method, path) == ("POST", "a2p-review"):
            if payload.get("mode") not in ("approve", "reject", "manual"):
                return 400, {"error": "mode must be approve, reject or manual"}
            store.a2p_review_set(payload)
            return 200, {"ok": True}
        if (method, path) == ("POST", "a2p-decide"):
            if payload.get("outcome") not in ("approve", "reject"):
                return 400, {"error": "outcome must be approve or reject"}
            try:
                decided = self.a2p.decide(str(payload.get("sid", "")), payload["outcome"], int(payload.get("code") or 30909))
            except KeyError:
                decided = None
            if decided is None:
                return 404, {"error": "no submitted bundle, brand or campaign with that sid"}
            return 200, {"sid": decided["sid"]}
        if (method, path) == ("GET", "a2p-state"):
            return 200, {"objects": store.a2p_all(), "services": store.services()}
        if (method, path) == ("GET", "callbacks"):
            return 200, {"callbacks": store.callbacks()}
        if (method, path) == ("POST", "calls"):
            store.insert_calls(str(payload["account_sid"]), int(payload.get("count", 1)))
            return 200, {"ok": True}
        if (method, path) == ("GET", "state"):
            return 200, {"incoming_phone_numbers": store.owned(), "messages": store.messages(), "accounts": store.accounts()}
        return 404, {"error": f"no control endpoint {method} /__sandbox__/{path}"}

    def _seeded(self, spec: dict[str, Any]) -> dict[str, Any]:
        caps = spec.get("capabilities") or {}
        form = {key: spec[field] for field, key in _SEED_FIELDS.items() if field in spec}
        extra = {"_sandbox": {"messaging_service_sid": spec.get("messaging_service_sid")}}
        return self._new_number(
            spec["phone_number"],
            form,
            sms=caps.get("sms", True),
            voice=caps.get("voice", True),
            extra=extra,
            account=spec.get("account_sid"),
        )


_SEED_FIELDS = {
    "friendly_name": "FriendlyName",
    "voice_url": "VoiceUrl",
    "voice_method": "VoiceMethod",
    "sms_url": "SmsUrl",
    "sms_method": "SmsMethod",
    "status_callback": "StatusCallback",
    "status_callback_method": "StatusCallbackMethod",
    "voice_fallback_url": "VoiceFallbackUrl",
    "voice_fallback_method": "VoiceFallbackMethod",
    "sms_fallback_url": "SmsFallbackUrl",
    "sms_fallback_method": "SmsFallbackMethod",
}
_UPDATABLE = {
    "FriendlyName": "friendly_name",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "SmsFallbackUrl": "sms_fallback_url",
    "SmsFallbackMethod": "sms_fallback_method",
    "VoiceCallerIdLookup": "voice_caller_id_lookup",
    "VoiceReceiveMode": "voice_receive_mode",
}


def _number_changes(form: dict[str, str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for param, field in _UPDATABLE.items():
        if param in form:
            value: Any = form[param]
            if field.endswith("_method"):
                value = value.upper()
            if field == "voice_caller_id_lookup":
                value = value.lower() == "true"
            changes[field] = value
    return changes


def _rfc2822_month(date: str) -> str:
    """'YYYY-MM' of an RFC 2822 date as the sandbox writes them ('' if unreadable)."""
    try:
        return time.strftime("%Y-%m", time.strptime(date, "%a, %d %b %Y %H:%M:%S +0000"))
    except ValueError:
        return ""


def _format_friendly(phone_number: str) -> str:
    digits = phone_number[2:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}" if phone_number.startswith("+1") and len(digits) == 10 else phone_number


def _available_number(phone_number: str, *, sms: bool) -> dict[str, Any]:
    locality, region, postal_code, latitude, longitude = place_of(phone_number)
    return {
        "friendly_name": _format_friendly(phone_number),
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


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.0.0.1); False for anything else."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _respond(start_response: Callable, status: int, payload: Any, *, extra_headers: tuple = ()) -> list[bytes]:
    if status == 204 or payload is None:
        start_response(f"{status} {STATUS_TEXT.get(status, '')}", [("Content-Length", "0"), *extra_headers])
        return [b""]
    data = json.dumps(payload).encode()
    start_response(
        f"{status} {STATUS_TEXT.get(status, '')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *extra_headers],
    )
    return [data]
