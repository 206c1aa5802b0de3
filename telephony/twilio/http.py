"""The SDK's HTTP client, pointed at TWILIO_API_BASE_URL instead of api.twilio.com.

The real twilio SDK builds every request; only the origin is swapped, so the sandbox
Twilio or a Prism mock sees exactly what Twilio would see.
"""

import threading
from typing import Any

from twilio.http.http_client import TwilioHttpClient

TWILIO_API_ORIGIN = "https://api.twilio.com"
TWILIO_MESSAGING_ORIGIN = "https://messaging.twilio.com"
TWILIO_NUMBERS_ORIGIN = "https://numbers.twilio.com"
# The Documents API (a port-in's utility bill) has a host of its own, in no OpenAPI description
# (https://www.twilio.com/docs/phone-numbers/document-apis).
TWILIO_NUMBERS_UPLOAD_ORIGIN = "https://numbers-upload.twilio.com"
TWILIO_PRICING_ORIGIN = "https://pricing.twilio.com"
TWILIO_TRUSTHUB_ORIGIN = "https://trusthub.twilio.com"

# The Retry-After of this thread's last 429 from Twilio: the SDK's exception keeps no headers.
_last_429 = threading.local()


def last_retry_after() -> int | None:
    """Seconds Twilio asked us to wait in this thread's latest 429 (its Retry-After), if any."""
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
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout=timeout, **kwargs)
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
        _last_429.seconds = _retry_after_seconds(response) if response.status_code == 429 else None
        return response


def _retry_after_seconds(response: Any) -> int | None:
    """Retry-After in seconds (RFC 9110 allows a date too; only the seconds form is read)."""
    value = str((getattr(response, "headers", None) or {}).get("Retry-After", "")).strip()
    return min(int(value), 86400) if value.isdigit() else None
