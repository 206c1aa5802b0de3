"""The SDK's HTTP client, pointed at TWILIO_API_BASE_URL instead of api.twilio.com.

The real twilio SDK builds every request; only the origin is swapped, so the sandbox
Twilio or a Prism mock sees exactly what Twilio would see.
"""

import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any

from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient

TWILIO_API_ORIGIN = "https://api.twilio.com"
TWILIO_MESSAGING_ORIGIN = "https://messaging.twilio.com"
TWILIO_NUMBERS_ORIGIN = "https://numbers.twilio.com"
# The Documents API (a port-in's utility bill) has a host of its own, in no OpenAPI description
# (https://www.twilio.com/docs/phone-numbers/document-apis).
TWILIO_NUMBERS_UPLOAD_ORIGIN = "https://numbers-upload.twilio.com"
TWILIO_PRICING_ORIGIN = "https://pricing.twilio.com"
TWILIO_TRUSTHUB_ORIGIN = "https://trusthub.twilio.com"

# The Retry-After of this thread's last 429 or 503 from Twilio: the SDK's TwilioRestException
# keeps no headers (twilio/base/exceptions.py: status, uri, msg, code, method, details only).
_last_429 = threading.local()
# The statuses whose Retry-After is read: Twilio's 429 (error 20429) and 503, as RFC 9110 §10.2.3 allows.
RETRY_AFTER_STATUSES = frozenset({429, 503})
# The longest wait taken from a Retry-After (a day): a larger one is read as this.
RETRY_AFTER_CAP_SECONDS = 86400.0


def last_retry_after() -> float | None:
    """Seconds Twilio asked us to wait in this thread's latest answer, if it was a 429 or 503
    with a Retry-After (None after any other answer)."""
    return getattr(_last_429, "seconds", None)


class RedirectingHttpClient(TwilioHttpClient):
    """A TwilioHttpClient that sends api.twilio.com (and messaging., trusthub., numbers., numbers-upload.twilio.com)
    requests elsewhere.

    With the real origin as `base_url` nothing is redirected: production talks to Twilio.
    """

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        messaging_base_url: str = "",
        trusthub_base_url: str = "",
        pricing_base_url: str = "",
        numbers_base_url: str = "",
        numbers_upload_base_url: str = "",
        pool_size: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout=timeout, **kwargs)
        if self.session is not None:
            # One connection per thread that may talk to Twilio at once (a fleet fan-out's
            # pool): the SDK's own adapter keeps min(32, cores + 4) per host, and a request
            # beyond that opens a connection (TCP and TLS) only to throw it away afterwards.
            adapter = HTTPAdapter(pool_maxsize=pool_size)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
        base_url = base_url.rstrip("/")
        self.origins: dict[str, str] = {}
        if base_url != TWILIO_API_ORIGIN:
            self.origins = {
                TWILIO_API_ORIGIN: base_url,
                TWILIO_MESSAGING_ORIGIN: (messaging_base_url or base_url).rstrip("/"),
                TWILIO_TRUSTHUB_ORIGIN: (trusthub_base_url or base_url).rstrip("/"),
                TWILIO_NUMBERS_ORIGIN: (numbers_base_url or base_url).rstrip("/"),
                TWILIO_NUMBERS_UPLOAD_ORIGIN: (numbers_upload_base_url or base_url).rstrip("/"),
            }
        if pricing_base_url.rstrip("/") not in ("", TWILIO_PRICING_ORIGIN):
            # The Pricing API can be sent elsewhere on its own (TWILIO_PRICING_API_BASE_URL), even in production.
            self.origins[TWILIO_PRICING_ORIGIN] = pricing_base_url.rstrip("/")
        elif self.origins:
            self.origins[TWILIO_PRICING_ORIGIN] = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        for origin, target in self.origins.items():
            if url.startswith(origin + "/"):
                url = target + url[len(origin) :]
                break
        response = super().request(method, url, *args, **kwargs)
        _last_429.seconds = retry_after_seconds(response) if response.status_code in RETRY_AFTER_STATUSES else None
        return response


def retry_after_seconds(response: Any) -> float | None:
    """A response's Retry-After in seconds (None without a readable one): delay-seconds, or an
    HTTP date (RFC 9110 §10.2.3) counted from now; never below 0 nor above a day."""
    headers = getattr(response, "headers", None) or {}
    value = str(headers.get("Retry-After", "") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)
