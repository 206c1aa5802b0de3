"""Only Twilio may call our webhooks, and an account's token acts on its own clinics only.

The signature is computed by Twilio over the URL it called, which is our PUBLIC URL
(API_BASE_URL + path + query; API_FALLBACK_BASE_URL for the fallback paths) — not the
host Django sees behind a TLS-terminating proxy or a tunnel — so that is what we
validate against.

Twilio signs with the auth token of the account that owns the number: the main
account's (TWILIO_AUTH_TOKEN), or for a number in a clinic's subaccount that
subaccount's (https://www.twilio.com/docs/usage/webhooks/webhooks-security). The
request's `AccountSid` names the account whose token is tried; the main token is tried
too, since the parent account acts for its subaccounts. The account whose token matched
is the request's *signer* (`request.twilio_signer`), and the views act only on what that
account owns (telephony.tenants): naming an account is not enough.

No database before a match: a subaccount's token is kept in this process's memory for
SIGNING_TOKEN_CACHE_SECONDS. Past that, the fallback store's sealed copy of every open
clinic subaccount's token (Redis or a file, rebuilt on every clinic change and by beat)
says whether any clinic holds the account: one it does not is refused from there, so a
forger naming random accounts costs no query however slow the database is. For a known
account a primary webhook reads the token from the database (the copy may lag a rotation
by a commit; with the database down the copy stands in), a fallback from the copy alone.
A closed or deleted clinic's subaccount leaves the copy at once, and every process's
memory within the cache period (at once in the process that made the change).
"""

import functools
import hmac
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

from clinics.models import Clinic
from clinics.sealed import SealError, secret_open
from telephony import fallback_store
from telephony.fallback_store import FallbackStoreError
from telephony.sids import sid_is_valid
from telephony.tenants import MAIN_ACCOUNT, ForeignAccountError
from telephony.webhook_paths import FALLBACK_PATHS
from telephony.webhook_urls import public_base_url_for
from telephony.webhooks import hot_path

logger = logging.getLogger(__name__)

# Subaccount SID -> (its auth token, plain; when this process read it), for this process.
# Bounded: one per clinic.
_subaccount_tokens: dict[str, tuple[str, float]] = {}


def _now() -> float:
    return time.monotonic()


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


def signing_token_cached(account_sid: str) -> bool:
    """Whether this process holds the account's token (and may use it without a read)."""
    cached = _subaccount_tokens.get(account_sid)
    return cached is not None and _now() - cached[1] < settings.SIGNING_TOKEN_CACHE_SECONDS


def account_tokens_refresh() -> int:
    """Rebuild the fallback store's copy of the subaccounts' sealed auth tokens from the
    clinics that hold an open subaccount (a closed one's token signs nothing of ours), and
    forget this process's cached tokens; how many are kept. Raises DatabaseError or
    FallbackStoreError."""
    with fallback_store.office_lines_lock():  # one rebuild of the fallback caches at a time
        rows = Clinic.objects.exclude(twilio_account_sid="").exclude(twilio_account_token_sealed="")
        rows = rows.exclude(twilio_account_status="closed")
        tokens = dict(rows.values_list("twilio_account_sid", "twilio_account_token_sealed"))
        fallback_store.account_tokens_replace(tokens)
    signing_tokens_forget()
    return len(tokens)


def _copy_lookup(account_sid: str) -> str | None:
    """The account's sealed token from the store's copy ("" when no clinic holds it open),
    the copy built first if it never was; None when the copy cannot answer."""
    sealed = fallback_store.account_token_lookup(account_sid)
    if sealed is None:
        try:
            account_tokens_refresh()  # never built (a new deployment, a flushed Redis)
        except (DatabaseError, FallbackStoreError):
            logger.exception("Could not build the subaccount tokens' copy")
            return None
        sealed = fallback_store.account_token_lookup(account_sid)
    return sealed


def _subaccount_token_load(sealed: str, account_sid: str) -> str:
    """Open a sealed token and cache it ("" when there is none or it cannot be opened)."""
    if not sealed:
        _subaccount_tokens.pop(account_sid, None)
        return ""
    try:
        token = secret_open(sealed)
    except SealError:
        logger.error("The stored auth token of subaccount %s cannot be decrypted: check FIELD_ENCRYPTION_KEYS", account_sid)
        return ""
    _subaccount_tokens[account_sid] = (token, _now())
    return token


def _signature_matches(token: str, url: str, request: HttpRequest, signature: str) -> bool:
    validator = RequestValidator(token)
    # Twilio signs the URL exactly as configured on the number, which is ours: one HMAC
    # settles the usual request. Otherwise the SDK's full check (URL with and without
    # the port, body hash) has the last word.
    if hmac.compare_digest(validator.compute_signature(url, request.POST).encode(), signature.encode()):
        return True
    return validator.validate(url, request.POST, signature)


def _subaccount_signed(request: HttpRequest, url: str, signature: str, account_sid: str) -> bool:
    """Whether the request is signed with the token of `account_sid`, a clinic's subaccount."""
    cached = _subaccount_tokens[account_sid][0] if signing_token_cached(account_sid) else ""
    if cached and _signature_matches(cached, url, request, signature):
        return True
    copy = _copy_lookup(account_sid)
    if copy == "":
        return False  # no clinic holds this account: refused without the database
    sealed = copy or ""
    if request.path not in FALLBACK_PATHS:
        # A primary webhook: the database has the last word on a known account's token
        # (the copy may lag a rotation by a commit), and the copy stands in while it is down.
        try:
            sealed = hot_path.account_token_sealed_get(account_sid=account_sid) or ""
        except DatabaseError:
            if copy is None:
                raise
            logger.warning("The database is unreachable: checking subaccount %s's signature with the copy", account_sid)
    token = _subaccount_token_load(sealed, account_sid)
    return bool(token) and token != cached and _signature_matches(token, url, request, signature)


def twilio_signature_signer(request: HttpRequest) -> str | None:
    """The account whose auth token signed the request (X-Twilio-Signature over the public
    URL): the subaccount named by `AccountSid` when its token matches, MAIN_ACCOUNT for the
    main token; None when neither does (or the request names no valid account)."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return None
    url = public_url(request)
    account_sid = request.POST.get("AccountSid", "")
    # Clinics keep their subaccount even if TWILIO_SUBACCOUNT_PER_CLINIC is turned off
    # later: their numbers are still signed with its token.
    named_subaccount = bool(account_sid) and account_sid != settings.TWILIO_ACCOUNT_SID
    if named_subaccount:
        if not sid_is_valid(account_sid, prefix="AC"):
            return None
        if _subaccount_signed(request, url, signature, account_sid):
            return account_sid
    # The main account's token, for its own numbers or acting for a subaccount.
    return MAIN_ACCOUNT if _signature_matches(settings.TWILIO_AUTH_TOKEN, url, request, signature) else None


def twilio_signature_valid(request: HttpRequest) -> bool:
    """True if X-Twilio-Signature matches the public URL and the token of the main account
    or of the clinic subaccount named by `AccountSid`."""
    return twilio_signature_signer(request) is not None


def request_signer(request: HttpRequest) -> str:
    """The signer twilio_webhook found for this request (MAIN_ACCOUNT when the check is off)."""
    return getattr(request, "twilio_signer", MAIN_ACCOUNT)


def twilio_webhook(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """POST only, CSRF-exempt, signed by Twilio, and acting only on what the signing account
    owns (403 otherwise, nothing written). The view reads the signer with request_signer()."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"], "Twilio webhooks accept POST only.")
        if settings.TWILIO_WEBHOOK_SIGNATURE_CHECK:
            signer = twilio_signature_signer(request)
            if signer is None:
                logger.warning("Refused %s: missing or invalid X-Twilio-Signature", request.path)
                return HttpResponseForbidden("Invalid or missing X-Twilio-Signature.", content_type="text/plain")
            request.twilio_signer = signer  # type: ignore[attr-defined]
        try:
            return view(request)
        except ForeignAccountError as exc:
            logger.warning("Refused %s signed by %s: %s", request.path, request_signer(request) or "the main account", exc)
            return HttpResponseForbidden(str(exc), content_type="text/plain")

    return wrapper
