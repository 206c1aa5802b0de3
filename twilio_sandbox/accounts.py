"""Accounts: the main account (the sandbox's own credentials), its subaccounts, and who may act in which.

Every other resource lives in an account, so every resource module works on a Sandbox:
the state and the main account, which authenticates a request and says which account it
acts in. The main account may act on itself and its subaccounts; a subaccount, with its
own SID and auth token, on itself only.

Subaccounts (https://www.twilio.com/docs/iam/api/subaccounts): created by the main
account, listed with the main account first, filtered by exact FriendlyName and Status;
the create and fetch answers carry the subaccount's auth token. Long lists are paged
(PageSize up to 1000, next_page_uri with a PageToken), as thousands of subaccounts are.
  GET/POST /2010-04-01/Accounts.json                 (list, create)
  GET/POST /2010-04-01/Accounts/{AccountSid}.json    (fetch; update FriendlyName/Status: 21477, 21479)
Under a suspended subaccount every other resource is 20005 (Account not active), under a
closed one 20404; closing a subaccount releases its numbers.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .responses import ApiError, method_not_allowed, not_found, page_size, v2010_page
from .routing import Answer, Request, Route
from .store import Store, new_sid, now_rfc2822

API = "/2010-04-01"
ACCOUNTS_PATH = f"{API}/Accounts.json"


def credentials(environ: dict) -> tuple[str, str]:
    """The Basic-auth user name and password a request was sent with (empty without)."""
    scheme, _, encoded = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


def request_user(environ: dict) -> str:
    """The Basic-auth user name (an account SID) a request was sent with ("" if none); never the password."""
    return credentials(environ)[0]


@dataclass(frozen=True)
class Sandbox:
    """The sandbox Twilio that every resource works on: its state and its main account."""

    store: Store
    account_sid: str
    auth_token: str

    def base(self, account: str | None = None) -> str:
        """The path under which an account's (by default the main account's) v2010 resources live."""
        return f"{API}/Accounts/{account or self.account_sid}"

    def authenticate(self, environ: dict, account: str) -> str:
        """The account SID the request authenticated as, if it may act in `account`; 20003 otherwise."""
        user, password = credentials(environ)
        if hmac.compare_digest(user, self.account_sid) and hmac.compare_digest(password, self.auth_token):
            if account != self.account_sid and self.store.get_account(account) is None:
                # Not ours (nor one of our subaccounts): Twilio does not say whether it exists.
                raise ApiError(401, 20003, "Authenticate")
            return user
        sub = self.store.get_account(user) if user.startswith("AC") else None
        if sub is None or not hmac.compare_digest(password, sub["auth_token"]) or account != user:
            raise ApiError(401, 20003, "Authenticate")
        return user

    def acting_account(self, environ: dict, path_account: str | None) -> str:
        """Authenticate the request and return the account it acts in.

        v2010 paths name the account (the main account may act in its subaccounts there);
        Trust Hub and Messaging act in the account whose credentials were sent.
        """
        if path_account:
            self.authenticate(environ, path_account)
            return path_account
        user = request_user(environ)
        own = user != self.account_sid and user.startswith("AC") and self.store.get_account(user) is not None
        account = user if own else self.account_sid
        self.authenticate(environ, account)
        return account

    def require_active(self, account: str, path: str) -> None:
        """Resources under a subaccount that is not active are refused, as at Twilio: a
        suspended one with 20005 "Account not active" (https://www.twilio.com/docs/api/errors/20005;
        the HTTP status is the sandbox's choice, 403), a closed one as gone (20404)."""
        sub = self.store.get_account(account) if account != self.account_sid else None
        if sub is None or sub["status"] == "active":
            return
        if sub["status"] == "closed":
            raise not_found(path)
        raise ApiError(403, 20005, "Account not active")

    def account(self, account: str | None = None) -> dict[str, Any]:
        """The Account resource of the main account (by default) or of one of its subaccounts; 20404 otherwise."""
        if account and account != self.account_sid:
            sub = self.store.get_account(account)
            if sub is None:
                raise not_found(f"{self.base(account)}.json")
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
                "incoming_phone_numbers": f"{self.base()}/IncomingPhoneNumbers.json",
                "messages": f"{self.base()}/Messages.json",
            },
            "uri": f"{self.base()}.json",
        }


def accounts_collection(sandbox: Sandbox, request: Request) -> Answer:
    """/2010-04-01/Accounts.json: the main account lists its subaccounts (itself first) or creates one."""
    sandbox.authenticate(request.environ, sandbox.account_sid)
    if request.method == "POST":
        return 201, _create(sandbox, request.form)
    if request.method != "GET":
        raise method_not_allowed(request.method, ACCOUNTS_PATH)
    query = request.query
    size = page_size(query, default=50)
    filters: dict[str, str] = {k: query[k] for k in ("FriendlyName", "Status") if k in query}
    token = query.get("PageToken", "")
    after = int(token[2:]) if token.startswith("PT") and token[2:].isdigit() else -1
    page = int(query["Page"]) if query.get("Page", "").isdigit() and after >= 0 else 0
    main = sandbox.account()
    main_listed = after < 0 and all(main[key] == query[name] for name, key in LIST_FILTERS.items() if name in query)
    rows = sandbox.store.accounts_page(
        after_seq=after, limit=size - main_listed, friendly_name=query.get("FriendlyName"), status=query.get("Status")
    )
    more = len(rows) > size - main_listed
    rows = rows[: size - main_listed]
    accounts = [main] * main_listed + [data for _, data in rows]
    listing = v2010_page("accounts", ACCOUNTS_PATH, size, accounts, filters)
    if more:
        # Twilio pages long lists; the next page goes on after the last subaccount on this one.
        listing["next_page_uri"] = (
            f"{ACCOUNTS_PATH}?{urlencode({**filters, 'PageSize': size, 'Page': page + 1, 'PageToken': f'PT{rows[-1][0]}'})}"
        )
    listing.update(page=page, start=page * size, end=page * size + max(len(accounts) - 1, 0))
    return 200, listing


# The list's filters (query parameter -> the account's field); the main account is listed first when it matches.
LIST_FILTERS = {"FriendlyName": "friendly_name", "Status": "status"}


def _create(sandbox: Sandbox, form: dict) -> dict[str, Any]:
    account = subaccount_new(sandbox, form.get("FriendlyName", ""))
    sandbox.store.insert_account(account)
    return account


def subaccount_new(sandbox: Sandbox, friendly_name: str) -> dict[str, Any]:
    """A new active subaccount of the main account, as Twilio creates it (not stored yet)."""
    sid, now = new_sid("AC"), now_rfc2822()
    base = sandbox.base(sid)
    return {
        "auth_token": secrets.token_hex(16),
        "date_created": now,
        "date_updated": now,
        # Twilio names an unnamed subaccount "SubAccount Created at {date}".
        "friendly_name": friendly_name or f"SubAccount Created at {now}",
        "owner_account_sid": sandbox.account_sid,
        "sid": sid,
        "status": "active",
        "type": "Full",
        "subresource_uris": {
            "incoming_phone_numbers": f"{base}/IncomingPhoneNumbers.json",
            "messages": f"{base}/Messages.json",
        },
        "uri": f"{base}.json",
    }


def _fetch(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    return 200, sandbox.account(account)


def _update(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    form = request.form
    if account == sandbox.account_sid:
        if "Status" in form:
            raise ApiError(400, 21477, "Unable to update Status for parent accounts")
        return 200, sandbox.account()
    current = sandbox.account(account)
    changes: dict[str, Any] = {}
    if "Status" in form:
        if form["Status"] not in ("active", "suspended", "closed"):
            raise ApiError(400, 20001, f"Status must be active, suspended or closed, not {form['Status']!r}")
        if current["status"] == "closed" and form["Status"] != "closed":
            raise ApiError(400, 21479, "Unable to update Status for subaccount, subaccount has been closed.")
        changes["status"] = form["Status"]
        if form["Status"] == "closed":
            _release_all(sandbox, account)
    if "FriendlyName" in form:
        changes["friendly_name"] = form["FriendlyName"]
    return 200, sandbox.store.update_account(account, changes)


def _release_all(sandbox: Sandbox, account: str) -> None:
    """Closing a subaccount releases every number in it (Twilio: "Twilio will release all
    phone numbers assigned to it", https://www.twilio.com/docs/iam/api/subaccounts)."""
    for number in sandbox.store.owned():
        if number["account_sid"] == account:
            sandbox.store.delete_number(number["sid"])


# Under /2010-04-01/Accounts/{AccountSid}, before ".json".
ROUTES = (
    Route("GET", r"", _fetch),
    Route("POST", r"", _update),
)
