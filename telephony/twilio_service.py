"""The Twilio-facing API of DentSignal: every call to Twilio's REST API is made here.

Public functions keep the seed's names and result shapes. Each returns a dict with
`success`; a failure carries `error` (a sentence a person can act on), `code` (Twilio's
error code or None) and `retryable` (True for rate limits, Twilio 5xx and network
errors, which the Celery tasks retry with backoff; never for other 4xx).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from clinics import services as clinic_services
from clinics.models import Clinic
from clinics.phone import area_code_validate
from clinics.selectors import clinics_by_numbers

from .twilio_http import RedirectingHttpClient
from .webhook_urls import webhook_params, webhook_urls

logger = logging.getLogger(__name__)

# Twilio error codes this module acts on.
ERR_AUTH = 20003
ERR_NOT_FOUND = 20404
ERR_TOO_MANY_REQUESTS = 20429
ERR_NUMBER_UNAVAILABLE = 21422
ERR_NO_NUMBERS_IN_AREA_CODE = 21452
ERR_UNSUBSCRIBED_RECIPIENT = 21610

# How many candidates one search asks for; later ones are tried if earlier ones are
# sold to someone else between the search and the purchase.
SEARCH_LIMIT = 10
LIST_PAGE_SIZE = 1000
FRIENDLY_NAME_MAX = 64
_CLINIC_TAG_RE = re.compile(r"\(clinic #(\d+)\)\s*$")


# --------------------------------------------------------------------------- client


@functools.lru_cache(maxsize=4)
def _client_for(account_sid: str, auth_token: str, base_url: str, messaging_base_url: str, timeout: float) -> Client:
    http_client = RedirectingHttpClient(base_url=base_url, messaging_base_url=messaging_base_url, timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)


def get_client() -> Client:
    """The SDK client for the configured account and API origin (built once per config)."""
    return _client_for(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.TWILIO_API_BASE_URL,
        settings.TWILIO_MESSAGING_API_BASE_URL,
        float(settings.TWILIO_HTTP_TIMEOUT),
    )


# --------------------------------------------------------------------------- helpers


def clinic_friendly_name(*, clinic_id: int, name: str) -> str:
    """A Twilio friendly name (max 64 chars) that always names the clinic's id."""
    tag = f" (clinic #{clinic_id})"
    return (name.strip()[: FRIENDLY_NAME_MAX - len(tag)].rstrip() or "DentSignal") + tag


def clinic_id_from_friendly_name(friendly_name: str | None) -> int | None:
    """The clinic id a number's friendly name identifies, if it was bought by us."""
    match = _CLINIC_TAG_RE.search(friendly_name or "")
    return int(match.group(1)) if match else None


def _failure(error: str, code: int | None = None, *, retryable: bool = False) -> dict[str, Any]:
    return {"success": False, "error": error, "code": code, "retryable": retryable}


def _as_rest_exception(exc: TwilioException) -> TwilioRestException:
    """The SDK raises a bare TwilioException("Unable to fetch page", response) for list
    pages; give it the status and Twilio error code of the response like the others."""
    response = exc.args[1] if len(exc.args) > 1 else None
    status = getattr(response, "status_code", 500)
    try:
        body = json.loads(getattr(response, "text", "") or "{}")
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    return TwilioRestException(status, "", msg=body.get("message") or str(exc.args[0]), code=body.get("code"))


def _failure_from_exception(exc: Exception, *, doing: str) -> dict[str, Any]:
    """Turn an SDK or network error into a failure result a person can act on."""
    if isinstance(exc, TwilioException) and not isinstance(exc, TwilioRestException):
        exc = _as_rest_exception(exc)
    if isinstance(exc, TwilioRestException):
        code = exc.code if isinstance(exc.code, int) else None
        if exc.status == 429 or code == ERR_TOO_MANY_REQUESTS:
            return _failure(f"Twilio is rate-limiting us while {doing}.", code or ERR_TOO_MANY_REQUESTS, retryable=True)
        if exc.status >= 500:
            return _failure(f"Twilio had a server error ({exc.status}) while {doing}.", code, retryable=True)
        if code == ERR_AUTH or exc.status == 401:
            return _failure(
                f"Twilio did not accept our credentials while {doing}: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.",
                code or ERR_AUTH,
            )
        return _failure(f"Twilio refused {doing}: {exc.msg} (Twilio error {code}).", code)
    if isinstance(exc, requests.Timeout):
        return _failure(f"Twilio did not answer in time while {doing}.", retryable=True)
    return _failure(f"Could not reach Twilio while {doing} ({type(exc).__name__}).", retryable=True)


_TWILIO_ERRORS = (TwilioException, requests.RequestException)


def _webhooks_of(number: Any) -> dict[str, str]:
    return {"voice": number.voice_url, "sms": number.sms_url, "status_callback": number.status_callback}


def _webhook_fields(number: Any) -> dict[str, str]:
    """The number's six webhook settings, keyed like webhook_params()."""
    return {field: getattr(number, field, None) or "" for field in webhook_params()}


def _webhooks_match(number: Any) -> bool:
    return _webhook_fields(number) == webhook_params()


def _capabilities(capabilities: Any) -> dict[str, bool]:
    # Available numbers spell them "SMS"/"MMS", owned numbers "sms"/"mms".
    caps = {str(key).lower(): value for key, value in (capabilities or {}).items()}
    return {key: bool(caps.get(key)) for key in ("voice", "sms", "mms")}


def _area_code_of(e164: str) -> str:
    return e164[2:5] if e164.startswith("+1") else ""


# --------------------------------------------------------------------------- public API


def list_available_numbers(area_code: str) -> dict[str, Any]:
    """Numbers for sale in `area_code` that can do both voice and SMS (one Twilio call)."""
    try:
        area_code = area_code_validate(area_code)
    except ValidationError as exc:
        return _failure(exc.messages[0])
    try:
        found = _search(area_code, limit=SEARCH_LIMIT)
    except _TWILIO_ERRORS as exc:
        return _failure_from_exception(exc, doing=f"searching numbers in area code {area_code}")
    return {
        "success": True,
        "area_code": area_code,
        "numbers": [
            {
                "phone_number": n.phone_number,
                "friendly_name": n.friendly_name,
                "locality": n.locality,
                "region": n.region,
                "postal_code": n.postal_code,
                "capabilities": _capabilities(n.capabilities),
            }
            for n in found
        ],
    }


def _search(area_code: str, *, limit: int) -> list[Any]:
    return (
        get_client()
        .available_phone_numbers(settings.TWILIO_NUMBER_COUNTRY)
        .local.list(area_code=int(area_code), voice_enabled=True, sms_enabled=True, limit=limit)
    )


def _find_owned(client: Client, *, clinic_id: int, phone_number: str | None, friendly_name: str) -> Any | None:
    """The account's own number bought for this clinic: by number, else by friendly name.

    Only a number whose friendly name identifies this clinic counts: a number the
    account bought for another clinic is not ours to adopt.
    """
    candidates = []
    if phone_number:
        candidates += [
            n for n in client.incoming_phone_numbers.list(phone_number=phone_number, limit=5) if n.phone_number == phone_number
        ]
    if not candidates:
        candidates += [
            n
            for n in client.incoming_phone_numbers.list(friendly_name=friendly_name, limit=5)
            if n.friendly_name == friendly_name
        ]
    return next((n for n in candidates if clinic_id_from_friendly_name(n.friendly_name) == clinic_id), None)


def provision_clinic_number(clinic_id: int, area_code: str, friendly_name: str | None = None) -> dict[str, Any]:
    """Buy one voice+SMS number in `area_code` for the clinic, webhooks set in the purchase.

    Two Twilio calls on the normal path: a search filtered to voice+SMS, then the
    purchase of that exact number, which is committed on the clinic row first. A rerun
    (retry, redelivery, second click) resumes with that number: if Twilio says it is
    unavailable (21422) and the account owns it, it is adopted; a second number is never
    bought. Invalid input buys nothing and says why.
    """
    try:
        area_code = area_code_validate(area_code)
    except ValidationError as exc:
        return _failure(exc.messages[0])
    try:
        clinic = clinic_services.clinic_number_provision_begin(
            clinic_id=clinic_id, area_code=area_code, friendly_name=friendly_name or ""
        )
    except clinic_services.ClinicNumberError as exc:
        return _failure(str(exc))
    name = clinic_friendly_name(clinic_id=clinic.id, name=friendly_name or clinic.requested_friendly_name or clinic.name)
    client = get_client()
    doing = f"buying a number in area code {area_code}"
    try:
        number, adopted = _buy_or_adopt(client, clinic=clinic, area_code=area_code, friendly_name=name)
    except _TWILIO_ERRORS as exc:
        result = _failure_from_exception(exc, doing=doing)
        if not result["retryable"]:
            clinic_services.clinic_number_provision_fail(clinic_id=clinic.id, error=result["error"], code=result["code"])
        return result
    except _ProvisionFailed as exc:
        clinic_services.clinic_number_provision_fail(clinic_id=clinic.id, error=exc.error, code=exc.code)
        return _failure(exc.error, exc.code)
    except _RetryLater as exc:
        return _failure(f"Waiting to buy a number: {exc}.", retryable=True)
    except clinic_services.ClinicNumberError as exc:
        return _failure(str(exc))
    clinic_services.clinic_number_activate(
        clinic_id=clinic.id,
        phone_number=number.phone_number,
        phone_sid=number.sid,
        webhooks=_webhooks_of(number),
        adopted=adopted,
    )
    return {"success": True, "phone_number": number.phone_number, "sid": number.sid, "webhooks": _webhooks_of(number)}


class _RetryLater(Exception):
    """Nothing went wrong, but the purchase must wait (handled like a rate limit)."""


class _ProvisionFailed(Exception):
    def __init__(self, error: str, code: int | None = None) -> None:
        super().__init__(error)
        self.error, self.code = error, code


def _buy_or_adopt(client: Client, *, clinic: Clinic, area_code: str, friendly_name: str) -> tuple[Any, bool]:
    """Return (incoming number, adopted?) for the clinic; see provision_clinic_number."""
    pending = clinic.pending_number
    if pending and _area_code_of(pending) != area_code:
        # Left by an earlier attempt in another area code: adopt it if it was bought
        # unseen, else forget it; never buy it now.
        owned = _find_owned(client, clinic_id=clinic.id, phone_number=pending, friendly_name=friendly_name)
        if owned is not None:
            return owned, True
        clinic_services.clinic_number_unreserve(clinic_id=clinic.id, phone_number=pending, reason="not bought; area code changed")
        pending = None
    candidates = [pending] if pending else [n.phone_number for n in _search(area_code, limit=SEARCH_LIMIT)]
    if not candidates:
        raise _ProvisionFailed(
            f"No numbers with voice and SMS are available in area code {area_code}. Try a nearby area code.",
            ERR_NO_NUMBERS_IN_AREA_CODE,
        )
    taken_by_others = 0
    for candidate in candidates:
        try:
            to_buy = clinic_services.clinic_number_reserve(clinic_id=clinic.id, phone_number=candidate)
        except clinic_services.NumberTaken:
            taken_by_others += 1
            continue
        try:
            number = client.incoming_phone_numbers.create(phone_number=to_buy, friendly_name=friendly_name, **webhook_params())
            return number, False
        except TwilioRestException as exc:
            if exc.code != ERR_NUMBER_UNAVAILABLE:
                raise
        # Unavailable: either our own earlier purchase went through unseen, or someone
        # else bought it after our search.
        owned = _find_owned(client, clinic_id=clinic.id, phone_number=to_buy, friendly_name=friendly_name)
        if owned is not None:
            return owned, True
        clinic_services.clinic_number_unreserve(
            clinic_id=clinic.id, phone_number=to_buy, reason=f"{to_buy} was sold to someone else before we could buy it"
        )
        if to_buy != candidate:
            break
    if taken_by_others == len(candidates):
        # Every number found is being bought for our other clinics right now: a later
        # search will show others.
        raise _RetryLater(f"all numbers found in area code {area_code} are being bought for other clinics")
    raise _ProvisionFailed(
        f"The numbers found in area code {area_code} were sold to someone else before we could buy them. "
        "Try again: a new search will be made.",
        ERR_NUMBER_UNAVAILABLE,
    )


def update_number_webhooks(phone_sid: str) -> dict[str, Any]:
    """Point an existing number's three webhooks at today's API_BASE_URL (fixes drift)."""
    if not isinstance(phone_sid, str) or not re.fullmatch(r"PN[0-9a-fA-F]{32}", phone_sid):
        return _failure(f"{str(phone_sid)[:40]!r} is not a Twilio phone number SID (PN followed by 32 hex digits).")
    try:
        number = get_client().incoming_phone_numbers(phone_sid).update(**webhook_params())
    except _TWILIO_ERRORS as exc:
        return _failure_from_exception(exc, doing=f"updating the webhooks of {phone_sid}")
    webhooks = _webhooks_of(number)
    clinic_services.clinic_number_webhooks_saved(phone_sid=phone_sid, webhooks=webhooks)
    return {"success": True, "sid": number.sid, "phone_number": number.phone_number, "webhooks": webhooks}


def list_clinic_numbers() -> dict[str, Any]:
    """Every number on the account (all pages of 1000) with its clinic and webhook health."""
    try:
        numbers = get_client().incoming_phone_numbers.list(page_size=LIST_PAGE_SIZE)
    except _TWILIO_ERRORS as exc:
        return _failure_from_exception(exc, doing="listing the account's numbers")
    clinics = clinics_by_numbers(phone_numbers=[n.phone_number for n in numbers], phone_sids=[n.sid for n in numbers])
    by_sid = {c.twilio_number_sid: c for c in clinics if c.twilio_number_sid}
    by_number = {c.twilio_number: c for c in clinics if c.twilio_number}
    rows = []
    for n in numbers:
        clinic = by_sid.get(n.sid) or by_number.get(n.phone_number)
        rows.append(
            {
                "sid": n.sid,
                "phone_number": n.phone_number,
                "friendly_name": n.friendly_name,
                "clinic_id": clinic.id if clinic else None,
                "clinic_name": clinic.name if clinic else None,
                "webhooks": _webhooks_of(n),
                "webhook_fields": _webhook_fields(n),
                "webhooks_ok": _webhooks_match(n),
                "capabilities": _capabilities(n.capabilities),
            }
        )
    return {"success": True, "expected_webhooks": webhook_urls(), "numbers": rows}


def list_messaging_overrides() -> dict[str, Any]:
    """Numbers in a Messaging Service whose inbound settings replace the number's SMS URL.

    Returns {"success": True, "numbers": {phone_sid: {"service_sid", "service_name",
    "inbound_request_url"}}}: one list call for the services, one per overriding service.
    """
    try:
        client = get_client()
        overrides: dict[str, dict[str, str]] = {}
        for service in client.messaging.v1.services.list(page_size=LIST_PAGE_SIZE):
            if service.use_inbound_webhook_on_number:
                continue
            for number in client.messaging.v1.services(service.sid).phone_numbers.list(page_size=LIST_PAGE_SIZE):
                overrides[number.sid] = {
                    "service_sid": service.sid,
                    "service_name": service.friendly_name,
                    "inbound_request_url": service.inbound_request_url or "",
                }
    except _TWILIO_ERRORS as exc:
        return _failure_from_exception(exc, doing="listing Messaging Services")
    return {"success": True, "numbers": overrides}


def check_credentials() -> dict[str, Any]:
    """Fetch our own account: proves Twilio accepts the credentials (and the account is active)."""
    try:
        account = get_client().api.v2010.accounts(settings.TWILIO_ACCOUNT_SID).fetch()
    except _TWILIO_ERRORS as exc:
        return _failure_from_exception(exc, doing="checking the Twilio credentials")
    return {"success": True, "sid": account.sid, "status": account.status, "friendly_name": account.friendly_name}


def release_number(phone_sid: str, *, clinic_id: int | None = None) -> dict[str, Any]:
    """Release the number at Twilio and clear it from its clinic, keeping the history.

    A number Twilio no longer has (20404) counts as released. Safe to repeat. With
    `clinic_id`, only that clinic's number is released (a stale or wrong request
    releases nothing).
    """
    if not isinstance(phone_sid, str) or not re.fullmatch(r"PN[0-9a-fA-F]{32}", phone_sid):
        return _failure(f"{str(phone_sid)[:40]!r} is not a Twilio phone number SID (PN followed by 32 hex digits).")
    try:
        clinic = clinic_services.clinic_number_release_begin(phone_sid=phone_sid, clinic_id=clinic_id)
    except clinic_services.AlreadyReleased:
        return {"success": True, "sid": phone_sid, "phone_number": "", "clinic_id": clinic_id, "already_released": True}
    except clinic_services.ClinicNumberError as exc:
        return _failure(str(exc))
    phone_number = clinic.twilio_number if clinic else ""
    already = False
    try:
        get_client().incoming_phone_numbers(phone_sid).delete()
    except TwilioRestException as exc:
        if exc.status != 404 and exc.code != ERR_NOT_FOUND:
            return _release_failed(phone_sid, _failure_from_exception(exc, doing=f"releasing {phone_sid}"))
        already = True
    except requests.RequestException as exc:
        return _release_failed(phone_sid, _failure_from_exception(exc, doing=f"releasing {phone_sid}"))
    clinic_services.clinic_number_released(
        phone_sid=phone_sid, phone_number=phone_number, detail="Twilio no longer had it" if already else ""
    )
    return {
        "success": True,
        "sid": phone_sid,
        "phone_number": phone_number,
        "clinic_id": clinic.id if clinic else None,
        "already_released": already,
    }


def _release_failed(phone_sid: str, result: dict[str, Any]) -> dict[str, Any]:
    if not result["retryable"]:
        clinic_services.clinic_number_release_fail(phone_sid=phone_sid, error=result["error"], code=result["code"])
    return result


def send_sms(*, from_number: str, to_number: str, body: str) -> dict[str, Any]:
    """Send an SMS from one of our numbers, with status callbacks to /twilio/status."""
    try:
        message = get_client().messages.create(
            from_=from_number, to=to_number, body=body, status_callback=webhook_urls()["status_callback"]
        )
    except _TWILIO_ERRORS as exc:
        return _failure_from_exception(exc, doing=f"sending an SMS to {to_number}")
    return {"success": True, "sid": message.sid, "status": message.status}


__all__ = [
    "check_credentials",
    "clinic_friendly_name",
    "clinic_id_from_friendly_name",
    "get_client",
    "list_available_numbers",
    "list_clinic_numbers",
    "list_messaging_overrides",
    "provision_clinic_number",
    "release_number",
    "send_sms",
    "update_number_webhooks",
]
