"""The SDK's HTTP client, pointed at TWILIO_API_BASE_URL instead of api.twilio.com.

The real twilio SDK builds every request; only the origin is swapped, so the sandbox
Twilio or a Prism mock sees exactly what Twilio would see.
"""

from typing import Any

from twilio.http.http_client import TwilioHttpClient

TWILIO_API_ORIGIN = "https://api.twilio.com"
TWILIO_MESSAGING_ORIGIN = "https://messaging.twilio.com"
TWILIO_TRUSTHUB_ORIGIN = "https://trusthub.twilio.com"


class RedirectingHttpClient(TwilioHttpClient):
    """A TwilioHttpClient that sends api.twilio.com (and messaging., trusthub.twilio.com) requests elsewhere.

    With the real origin as `base_url` nothing is redirected: production talks to Twilio.
    """

    def __init__(
        self, *, base_url: str, timeout: float, messaging_base_url: str = "", trusthub_base_url: str = "", **kwargs: Any
    ) -> None:
        super().__init__(timeout=timeout, **kwargs)
        base_url = base_url.rstrip("/")
        self.origins: dict[str, str] = {}
        if base_url != TWILIO_API_ORIGIN:
            self.origins = {
                TWILIO_API_ORIGIN: base_url,
                TWILIO_MESSAGING_ORIGIN: (messaging_base_url or base_url).rstrip("/"),
                TWILIO_TRUSTHUB_ORIGIN: (trusthub_base_url or base_url).rstrip("/"),
            }

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        for origin, target in self.origins.items():
            if url.startswith(origin + "/"):
                url = target + url[len(origin) :]
                break
        return super().request(method, url, *args, **kwargs)
