"""Only Twilio may call our webhooks: every request carries a valid X-Twilio-Signature.

The signature is computed by Twilio over the URL it called, which is our PUBLIC URL
(API_BASE_URL + path + query; API_FALLBACK_BASE_URL for the fallback paths) — not the
host Django sees behind a TLS-terminating proxy or a tunnel — so that is what we
validate against.
"""

import functools
import hmac
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

from .webhook_urls import public_base_url_for

logger = logging.getLogger(__name__)


def public_url(request: HttpRequest) -> str:
    """The URL Twilio called: its public origin (API_BASE_URL, or API_FALLBACK_BASE_URL
    for a fallback path) + the path and query Django received."""
    return public_base_url_for(request.path) + request.get_full_path()


def twilio_signature_valid(request: HttpRequest) -> bool:
    """True if the request's X-Twilio-Signature matches our auth token and public URL."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    validator, url = RequestValidator(settings.TWILIO_AUTH_TOKEN), public_url(request)
    # Twilio signs the URL exactly as configured on the number, which is ours: one HMAC
    # settles the usual request. Otherwise the SDK's full check (URL with and without
    # the port, body hash) has the last word.
    if hmac.compare_digest(validator.compute_signature(url, request.POST).encode(), signature.encode()):
        return True
    return validator.validate(url, request.POST, signature)


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
