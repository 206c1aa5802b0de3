"""Where Twilio must send a clinic number's traffic, derived from API_BASE_URL
(and API_FALLBACK_BASE_URL for the fallbacks)."""

from django.conf import settings

from telephony.webhook_paths import (
    A2P_STATUS_PATH,
    FALLBACK_PATHS,
    SMS_FALLBACK_PATH,
    SMS_PATH,
    STATUS_PATH,
    STREAM_STATUS_PATH,
    VOICE_FALLBACK_PATH,
    VOICE_PATH,
)

# The seed's three path names stay importable from here; the paths themselves live in
# webhook_paths.py, which other modules import directly.
__all__ = [
    "SMS_PATH",
    "STATUS_PATH",
    "VOICE_PATH",
    "WEBHOOK_METHOD",
    "a2p_status_url",
    "api_base_url",
    "fallback_base_url",
    "fallback_urls",
    "public_base_url_for",
    "stream_status_url",
    "webhook_params",
    "webhook_urls",
]

WEBHOOK_METHOD = "POST"


def webhook_urls() -> dict[str, str]:
    """The three webhook URLs for today's API_BASE_URL, keyed voice / sms / status_callback."""
    base = api_base_url()
    return {"voice": base + VOICE_PATH, "sms": base + SMS_PATH, "status_callback": base + STATUS_PATH}


def api_base_url() -> str:
    """API_BASE_URL without a trailing slash: the public origin of the primary webhooks."""
    return settings.API_BASE_URL.rstrip("/")


def fallback_base_url() -> str:
    """The origin of the fallback webhooks: API_FALLBACK_BASE_URL, or API_BASE_URL when unset."""
    return (settings.API_FALLBACK_BASE_URL or settings.API_BASE_URL).rstrip("/")


def fallback_urls() -> dict[str, str]:
    """The two fallback URLs, keyed voice_fallback / sms_fallback."""
    base = fallback_base_url()
    return {"voice_fallback": base + VOICE_FALLBACK_PATH, "sms_fallback": base + SMS_FALLBACK_PATH}


def public_base_url_for(path: str) -> str:
    """The public origin Twilio called for `path` (and signed the URL with): the fallback
    origin for the fallback paths, API_BASE_URL for everything else."""
    return fallback_base_url() if path in FALLBACK_PATHS else api_base_url()


def webhook_params() -> dict[str, str]:
    """The SDK keyword arguments that set all five webhooks (three primary, two
    fallbacks) with method POST: what every purchase and webhook update sends, and what
    the audit expects to find on a number."""
    urls, fallbacks = webhook_urls(), fallback_urls()
    return {
        "voice_url": urls["voice"],
        "voice_method": WEBHOOK_METHOD,
        "sms_url": urls["sms"],
        "sms_method": WEBHOOK_METHOD,
        "status_callback": urls["status_callback"],
        "status_callback_method": WEBHOOK_METHOD,
        # Twilio requests these when the primary URL fails or times out (API v2010
        # IncomingPhoneNumber: VoiceFallbackUrl/Method, SmsFallbackUrl/Method).
        "voice_fallback_url": fallbacks["voice_fallback"],
        "voice_fallback_method": WEBHOOK_METHOD,
        "sms_fallback_url": fallbacks["sms_fallback"],
        "sms_fallback_method": WEBHOOK_METHOD,
    }


def stream_status_url() -> str:
    """Where Twilio reports the AI agent's stream events (and a ConversationRelay session's
    end) for a call: API_BASE_URL + STREAM_STATUS_PATH, put in each call's TwiML."""
    return api_base_url() + STREAM_STATUS_PATH


def a2p_status_url() -> str:
    """Where Twilio reports a clinic's Trust Hub bundles' review status (their StatusCallback):
    API_BASE_URL + A2P_STATUS_PATH, set on each customer profile and trust product."""
    return api_base_url() + A2P_STATUS_PATH
