"""Only Twilio may call our webhooks: every request carries a valid X-Twilio-Signature.

The signature is computed by Twilio over the URL it called, which is our PUBLIC URL
(API_BASE_URL + path + query; API_FALLBACK_BASE_URL for the fallback paths) — not the
host Django sees behind a TLS-terminating proxy or a tunnel — so that is what we
validate against.

Twilio signs with the auth token of the account that owns the number: the main
account's (TWILIO_AUTH_TOKEN), or for a number in a clinic's subaccount that
subaccount's (https://www.twilio.com/docs/usage/webhooks/webhooks-security). The
request's `AccountSid` names it; a subaccount no clinic holds is refused. Subaccount
tokens are kept per process (keyed by account SID) after one query, so the hot path's
query budget holds; a cached token that no longer matches (rotated in another process)
is read again once before the request is refused.
"""

import functools
import hmac
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

from clinics.sealed import SealError, secret_open

from . import fallback_store, hot_path
from .sids import sid_is_valid
from .webhook_paths import FALLBACK_PATHS
from .webhook_urls import public_base_url_for

logger = logging.getLogger(__name__)

# Subaccount SID -> its auth token (plain), for this process. Bounded: one per clinic.
# The fallback webhooks (FALLBACK_PATHS) read an unknown subaccount's token from the
# fallback store, never needing the database.
_subaccount_tokens: dict[str, str] = {}


def public_url(request: HttpRequest) -> str:
    """The URL Twilio called: its public origin (API_BASE_URL, or API_FALLBACK_BASE_URL
    for a fallback path) + the path and query Django received."""
    return public_base_url_for(request.path) + request.get_full_path()


def signing_tokens_forget(account_sid: str | None = None) -> None:
    """Forget this process's cached subaccount token(s) (after a change, and between tests)."""
    if account_sid is None:
        _subaccount_tokens.clear()
    else:
        _subaccount_tokens.pop(account_sid, None)


def _subaccount_token_load(account_sid: str, *, fallback: bool = False) -> str:
    """A clinic subaccount's auth token from the database ("" if no clinic has it), cached.

    For a fallback webhook (`fallback`), which must answer while the database is down,
    from the fallback store's sealed copy first (telephony.fallbacks.account_tokens_refresh),
    and from the database only if the copy does not know it and the database answers.
    """
    sealed = fallback_store.account_token_sealed_get(account_sid) if fallback else ""
    if not sealed:
        try:
            sealed = hot_path.account_token_sealed_get(account_sid=account_sid) or ""
        except DatabaseError:
            if not fallback:
                raise
            logger.error("Subaccount %s is not in the fallbacks' token copy and the database is unreachable", account_sid)
            return ""
    if not sealed:
        _subaccount_tokens.pop(account_sid, None)
        return ""
    try:
        token = secret_open(sealed)
    except SealError:
        logger.error("The stored auth token of subaccount %s cannot be decrypted: check FIELD_ENCRYPTION_KEY", account_sid)
        return ""
    _subaccount_tokens[account_sid] = token
    return token


def _signature_matches(token: str, url: str, request: HttpRequest, signature: str) -> bool:
    validator = RequestValidator(token)
    # Twilio signs the URL exactly as configured on the number, which is ours: one HMAC
    # settles the usual request. Otherwise the SDK's full check (URL with and without
    # the port, body hash) has the last word.
    if hmac.compare_digest(validator.compute_signature(url, request.POST).encode(), signature.encode()):
        return True
    return validator.validate(url, request.POST, signature)


def twilio_signature_valid(request: HttpRequest) -> bool:
    """True if X-Twilio-Signature matches the public URL and the auth token of the
    account named by `AccountSid`: the main account (also when absent) or a clinic's
    subaccount. Any other account is refused."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    url = public_url(request)
    account_sid = request.POST.get("AccountSid", "")
    if not account_sid or account_sid == settings.TWILIO_ACCOUNT_SID:
        return _signature_matches(settings.TWILIO_AUTH_TOKEN, url, request, signature)
    # Clinics keep their subaccount even if TWILIO_SUBACCOUNT_PER_CLINIC is turned off
    # later: their numbers are still signed with its token.
    if not sid_is_valid(account_sid, prefix="AC"):
        return False
    cached = _subaccount_tokens.get(account_sid)
    if cached and _signature_matches(cached, url, request, signature):
        return True
    # Not cached, or cached but no longer matching (the token was rotated): read it again.
    token = _subaccount_token_load(account_sid, fallback=request.path in FALLBACK_PATHS)
    return bool(token) and token != cached and _signature_matches(token, url, request, signature)


def twilio_webhook(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """POST only, CSRF-exempt, and signed by Twilio (403 otherwise, nothing written)."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"], "Twilio webhooks accept POST only.")
        if settings.TWILIO_WEBHOOK_SIGNATURE_CHECK:
            if not twilio_signature_valid(request):
                logger.warning("Refused %s: missing or invalid X-Twilio-Signature", request.path)
                return HttpResponseForbidden("Invalid or missing X-Twilio-Signature.", content_type="text/plain")
        return view(request)

    return wrapper
