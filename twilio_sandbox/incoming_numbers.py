"""Owned numbers: /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.

  GET    IncomingPhoneNumbers.json          (paged by PageToken, PageSize <= 1000; PhoneNumber, FriendlyName)
  POST   IncomingPhoneNumbers.json          (buy by PhoneNumber or AreaCode: 21421, 21422, 21450, 21452)
  GET/POST/DELETE IncomingPhoneNumbers/{Sid}.json (20404; POST AccountSid=... transfers it
         between the parent and a subaccount: 21472, 21473, and 21474 checked by the app)
A number belongs to the account in the path; another account's number is 20404.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .accounts import Sandbox
from .available_numbers import for_sale, friendly_format, inventory
from .responses import ApiError, not_found, page_size, public
from .routing import E164, Answer, Request, Route
from .store import new_sid, now_rfc2822

# The number's fields a request may set (parameter -> field), at purchase or update.
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
# The fields the control API's POST numbers may seed (field -> parameter).
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


def seeded_number(sandbox: Sandbox, spec: dict[str, Any]) -> dict[str, Any]:
    """A number as the control API's POST numbers describes it (not stored yet)."""
    caps = spec.get("capabilities") or {}
    form = {key: spec[field] for field, key in _SEED_FIELDS.items() if field in spec}
    extra = {"_sandbox": {"messaging_service_sid": spec.get("messaging_service_sid")}}
    return _new_number(
        sandbox,
        spec["phone_number"],
        form,
        sms=caps.get("sms", True),
        voice=caps.get("voice", True),
        extra=extra,
        account=spec.get("account_sid"),
    )


def _uri(sandbox: Sandbox, account: str | None, sid: str) -> str:
    return f"{sandbox.base(account)}/IncomingPhoneNumbers/{sid}.json"


def _list(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    query = request.query
    size = page_size(query, default=50)
    page = int(query.get("Page", "0") or 0) if query.get("Page", "0").isdigit() else 0
    after = (
        int(query["PageToken"][2:]) if query.get("PageToken", "").startswith("PT") and query["PageToken"][2:].isdigit() else -1
    )
    rows = sandbox.store.owned_page(
        after_seq=after,
        limit=size,
        phone_number=query.get("PhoneNumber"),
        friendly_name=query.get("FriendlyName"),
        account_sid=account,
    )
    items, more = rows[:size], len(rows) > size
    uri = f"{sandbox.base(account)}/IncomingPhoneNumbers.json"
    filters: dict[str, str] = {k: query[k] for k in ("PhoneNumber", "FriendlyName") if k in query}
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


def _buy(sandbox: Sandbox, request: Request, *, account: str) -> Answer:
    store, form = sandbox.store, request.form
    phone_number = form.get("PhoneNumber", "")
    area_code = form.get("AreaCode", "")
    if not phone_number and not area_code:
        raise ApiError(400, 21450, "Phone number or area code is required")
    if not phone_number:
        candidates = [n for n in for_sale(store, area_code) if n not in store.flags("taken")]
        if not candidates:
            raise ApiError(400, 21452, f"No phone numbers found in area code {area_code}")
        phone_number = candidates[0]
    if not E164.match(phone_number):
        raise ApiError(400, 21421, f"PhoneNumber {phone_number} is invalid")
    area = phone_number[2:5] if phone_number.startswith("+1") else ""
    if phone_number not in inventory(area) or area in store.flags("empty_area_codes"):
        raise ApiError(400, 21422, f"PhoneNumber {phone_number} is not available")
    number = _new_number(sandbox, phone_number, form, sms=phone_number not in store.flags("voice_only"), account=account)
    if not store.insert_number(number):
        raise ApiError(400, 21422, f"PhoneNumber {phone_number} is not available")
    return 201, public(number)


def _new_number(
    sandbox: Sandbox,
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
        "account_sid": account or sandbox.account_sid,
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
        "friendly_name": friendly_format(phone_number),
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
        "uri": _uri(sandbox, account, sid),
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
        # The sandbox's own bookkeeping, never sent in API answers (see responses.public).
        "_sandbox": {"messaging_service_sid": None},
    }
    number.update(_changes(form))
    number.update(extra or {})
    return number


def _changes(form: dict[str, str]) -> dict[str, Any]:
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


def _number_of(sandbox: Sandbox, sid: str, account: str) -> dict[str, Any]:
    """The number `sid` if `account` owns it; another account's number is 20404, as at Twilio."""
    number = sandbox.store.get_number(sid)
    if number is None or number["account_sid"] != account:
        raise not_found(_uri(sandbox, account, sid))
    return number


def _fetch(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    return 200, public(_number_of(sandbox, sid, account))


def _update(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    form = request.form
    _number_of(sandbox, sid, account)
    if "AccountSid" in form and form["AccountSid"] != account:
        return 200, public(_transfer(sandbox, sid, owner=account, to_account=form["AccountSid"]))
    number = sandbox.store.update_number(sid, _changes(form))
    if number is None:
        raise not_found(_uri(sandbox, account, sid))
    return 200, public(number)


def _transfer(sandbox: Sandbox, sid: str, *, owner: str, to_account: str) -> dict[str, Any]:
    """Exchange a number between the parent and one of its subaccounts (Twilio:
    https://www.twilio.com/docs/iam/api/subaccounts#exchanging-numbers): only the parent's
    credentials may (21474, checked by the app before routing), only between the parent and
    one of its subaccounts (21473), only to an active account (21472). The number keeps its
    SID; its URI names the new account."""
    main = sandbox.account_sid
    # Between the parent and a subaccount only (never subaccount to subaccount).
    related = main in (owner, to_account) and (to_account == main or sandbox.store.get_account(to_account))
    target = sandbox.account(to_account) if related and owner != to_account else None
    if target is None:
        raise ApiError(
            400, 21473, "AccountSid you are transferring to is not related to the originating owner of the phone number"
        )
    if target["status"] != "active":
        raise ApiError(400, 21472, "Account is not active")
    number = sandbox.store.update_number(sid, {"account_sid": to_account, "uri": _uri(sandbox, to_account, sid)})
    if number is None:
        raise not_found(_uri(sandbox, None, sid))
    return number


def _delete(sandbox: Sandbox, request: Request, *, account: str, sid: str) -> Answer:
    _number_of(sandbox, sid, account)
    if not sandbox.store.delete_number(sid):
        raise not_found(_uri(sandbox, account, sid))
    return 204, None


_SID = r"(?P<sid>PN[0-9a-fA-F]{32})"
# Under /2010-04-01/Accounts/{AccountSid}, before ".json".
ROUTES = (
    Route("GET", r"/IncomingPhoneNumbers", _list),
    Route("POST", r"/IncomingPhoneNumbers", _buy),
    Route("GET", rf"/IncomingPhoneNumbers/{_SID}", _fetch),
    Route("POST", rf"/IncomingPhoneNumbers/{_SID}", _update),
    Route("DELETE", rf"/IncomingPhoneNumbers/{_SID}", _delete),
)
