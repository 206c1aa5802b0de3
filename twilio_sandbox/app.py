"""The sandbox Twilio as a WSGI app: the slice of Twilio's REST APIs we use, and a control API.

REST API (HTTP Basic auth with the sandbox account, or a subaccount's own SID and token
for its own resources; Twilio's JSON shapes and errors), one module per resource:
  /2010-04-01/Accounts.json, /2010-04-01/Accounts/{AccountSid}.json     accounts.py
  .../AvailablePhoneNumbers/US/Local.json                                available_numbers.py
  .../IncomingPhoneNumbers.json, .../IncomingPhoneNumbers/{Sid}.json     incoming_numbers.py
  .../Messages.json, .../Messages/{Sid}.json                             messages.py
  .../Calls/{Sid}.json (deleting a call record)                          calls.py
  .../Usage/Records/ThisMonth.json                                       usage.py
  .../Addresses.json, .../Addresses/{Sid}.json                           addresses.py
  /v1/Services, /v1/Services/{Sid}/PhoneNumbers (Messaging API v1)       messaging_services.py
  /v1/a2p/BrandRegistrations (Messaging API v1)                          brands.py
  /v1/Services/{Sid}/Compliance/Usa2p (Messaging API v1)                 campaigns.py
  /v1/CustomerProfiles, TrustProducts, EndUsers, SupportingDocuments     trusthub.py
  /v1/PhoneNumbers/Countries/{IsoCountry} (Pricing API v1)               pricing.py
  /v1/Porting/Portability, /v1/Porting/PortIn (Numbers API v1)           porting.py
  /v1/Porting/Configuration/Webhook (Numbers API v1)                     porting_webhooks.py
  /v1/Documents (numbers-upload.twilio.com)                              documents.py
  /v2/HostedNumber/Orders (Numbers API v2)                               hosted_numbers.py
The reviews of A2P submissions, and the callbacks they send, are in reviews.py.
Resources under /2010-04-01/Accounts/{AccountSid} belong to the account in the path: the
main account, or one of its subaccounts (an unknown or other account's SID is 20404).

Control API (no auth, JSON), for tests and demos, under /__sandbox__/ (control.py); it
answers only requests from a loopback address (403 otherwise). The faults it queues are
applied here, around the REST request they match, and so are the latency and per-account
limits it sets (throttle.py): a request beyond a limit is 429 before any fault or change.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from . import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    accounts,
    addresses,
    available_numbers,
    brands,
    calls,
    campaigns,
    documents,
    hosted_numbers,
    incoming_numbers,
    messages,
    messaging_services,
    porting,
    porting_webhooks,
    pricing,
    trusthub,
    usage,
)
from .accounts import ACCOUNTS_PATH, API, Sandbox, accounts_collection, request_user
from .control import control
from .responses import ApiError, method_not_allowed, not_found
from .routing import Answer, Request, Router
from .store import Store
from .throttle import Throttle

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
    503: "Service Unavailable",
}
CONTROL_PREFIX = "/__sandbox__/"
UNDER_ACCOUNT = re.compile(rf"{API}/Accounts/(?P<account>[^/]+?)(?P<rest>/.*)?\.json")
# The A2P and Numbers APIs' paths: one that no route serves is a 404, before authentication.
A2P_PATHS = re.compile(
    r"/v1/(CustomerProfiles|TrustProducts|EndUsers|SupportingDocuments|a2p|Porting|HostedNumber|Documents)|/v2/"
)


class SandboxApp:
    """WSGI callable; all state lives in the Store (SQLite file)."""

    def __init__(
        self,
        db_path: str,
        *,
        account_sid: str = SANDBOX_ACCOUNT_SID,
        auth_token: str = SANDBOX_AUTH_TOKEN,
        throttle: Throttle | None = None,
    ) -> None:
        self.sandbox = Sandbox(Store(db_path), account_sid, auth_token)
        self.throttle = throttle or Throttle()
        # Routed on the whole path, acting in the account of the credentials (or of the path).
        self.routes = Router(
            trusthub.ROUTES,
            brands.ROUTES,
            messaging_services.ROUTES,
            campaigns.ROUTES,
            addresses.ROUTES,
            porting.ROUTES,
            porting_webhooks.ROUTES,
            documents.ROUTES,
            hosted_numbers.ROUTES,
        )
        # The resources under /2010-04-01/Accounts/{AccountSid}, routed on the rest of the path.
        self.under_account = Router(
            accounts.ROUTES, available_numbers.ROUTES, incoming_numbers.ROUTES, messages.ROUTES, calls.ROUTES, usage.ROUTES
        )

    @property
    def store(self) -> Store:
        """The sandbox's state (tests read it directly)."""
        return self.sandbox.store

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"].upper()
        path = environ.get("PATH_INFO", "")
        body = _read_body(environ)
        if path.startswith(CONTROL_PREFIX):
            if not is_loopback(environ.get("REMOTE_ADDR", "")):
                # Faults, seeded numbers and the request log are for the machine's own
                # tests and demo, never for whoever can reach the port.
                return _respond(start_response, 403, {"error": "the sandbox's control API answers loopback clients only"})
            status, payload = control(self.sandbox, method, path[len(CONTROL_PREFIX) :], body, self.throttle)
            return _respond(start_response, status, payload)
        environ["sandbox.arrived"] = time.time()
        account = self._limited_account(path, environ)
        try:
            self.throttle.enter(account)
        except ApiError as exc:
            self.throttle.delay()
            entry = {"method": method, "path": path, "query": {}, "form": {}, "json": None, "status": 429}
            self.store.log_request({**entry, "fault": "throttle", "auth": request_user(environ)})
            return _respond(
                start_response, exc.status, exc.body(), extra_headers=(("Retry-After", str(self.throttle.limits.retry_after)),)
            )
        try:
            self.throttle.delay()
            return self._rest(method, path, body, environ, start_response)
        finally:
            self.throttle.leave(account)

    def _limited_account(self, path: str, environ: dict[str, Any]) -> str:
        """The account whose limits a REST request counts against: the one in a v2010 path,
        else the one whose credentials were sent (throttle.py)."""
        match = UNDER_ACCOUNT.fullmatch(path)
        return match["account"] if match else (request_user(environ) or self.sandbox.account_sid)

    def _rest(self, method: str, path: str, body: bytes, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        form_lists = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        form = {k: v[-1] for k, v in form_lists.items()}
        request = Request(method, path, query, form, form_lists, environ, body)
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
            status, payload = self._answer(request)
        except ApiError as exc:
            status, payload = exc.status, exc.body()
        self.store.log_request(
            {
                "method": method,
                "path": path,
                "query": query,
                "form": form,
                # A JSON body (the Numbers API's PortIn and webhook configuration), so tests see what was sent.
                "json": _json_body(environ, body),
                "status": status,
                "fault": fault.get("mode") if fault else None,
                # Who authenticated (the account SID only): tests check which account acted.
                "auth": request_user(environ),
                # When it arrived (epoch seconds): benchmarks check each account's pace.
                "at": environ.get("sandbox.arrived", time.time()),
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

    def _answer(self, request: Request) -> Answer:
        """The answer to a REST request. The APIs are tried in this order, which decides where
        their paths overlap: Pricing; the routes on whole paths (Trust Hub, brands, campaigns,
        Messaging Service writes, Addresses), then a 404 for any other A2P path; the Messaging
        Service reads (any other /v1/ path); Accounts.json; the resources under an account."""
        path = request.path
        if path.startswith(pricing.PATH_PREFIX):
            return pricing.phone_number_prices(self.sandbox, request)
        found = self.routes.find(request.method, path)
        if found is not None:
            handler, groups = found
            account = self.sandbox.acting_account(request.environ, groups.get("account"))
            return handler(self.sandbox, request, **{**groups, "account": account})
        if A2P_PATHS.match(path):
            raise not_found(path)
        if path.startswith("/v1/"):
            return messaging_services.service_reads(self.sandbox, request)
        if path == ACCOUNTS_PATH:
            return accounts_collection(self.sandbox, request)
        return self._under_account(request)

    def _under_account(self, request: Request) -> Answer:
        """A resource under /2010-04-01/Accounts/{AccountSid}: authenticated for that account
        first, then refused under an inactive subaccount, then routed (405 or 404 if no route)."""
        method, path, sandbox = request.method, request.path, self.sandbox
        match = UNDER_ACCOUNT.fullmatch(path)
        if not match:
            raise not_found(path)
        account = match["account"]
        caller = sandbox.authenticate(request.environ, account)
        rest = match["rest"] or ""
        if rest:
            sandbox.require_active(account, path)
        # Moving a number to another account takes the parent's credentials (incoming_numbers.py).
        if (
            method == "POST"
            and "AccountSid" in request.form
            and rest.startswith("/IncomingPhoneNumbers/")
            and caller != sandbox.account_sid
        ):
            raise ApiError(400, 21474, "API User must be the parent account to transfer phone numbers.")
        found = self.under_account.find(method, rest)
        if found is not None:
            handler, groups = found
            return handler(sandbox, request, account=account, **groups)
        if self.under_account.knows(rest):
            raise method_not_allowed(method, path)
        raise not_found(path)


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.0.0.1); False for anything else."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _json_body(environ: dict[str, Any], body: bytes) -> Any:
    if "json" not in environ.get("CONTENT_TYPE", ""):
        return None
    try:
        return json.loads(body or b"null")
    except ValueError:
        return None


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
