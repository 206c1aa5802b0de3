"""The SDK's HTTP client, pointed at TWILIO_API_BASE_URL instead of api.twilio.com.

The real twilio SDK builds every request; only the origin is swapped, so the sandbox
Twilio or a Prism mock sees exactly what Twilio would see.
"""

from typing import Any

from twilio.http.http_client import TwilioHttpClient

TWILIO_API_ORIGIN = "https://api.twilio.com"


class RedirectingHttpClient(TwilioHttpClient):
    """A TwilioHttpClient that sends api.twilio.com requests to another origin."""

    def __init__(self, *, base_url: str, timeout: float, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, **kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        if self.base_url != TWILIO_API_ORIGIN and url.startswith(TWILIO_API_ORIGIN):
            url = self.base_url + url[len(TWILIO_API_ORIGIN) :]
        return super().request(method, url, *args, **kwargs)
