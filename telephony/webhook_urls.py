"""Where Twilio must send a clinic number's traffic, derived from API_BASE_URL."""

from django.conf import settings

from .webhook_paths import SMS_PATH, STATUS_PATH, STREAM_STATUS_PATH, VOICE_PATH, WEBHOOK_PATHS

__all__ = [
    "SMS_PATH",
    "STATUS_PATH",
    "STREAM_STATUS_PATH",
    "VOICE_PATH",
    "WEBHOOK_METHOD",
    "WEBHOOK_PATHS",
    "stream_status_url",
    "webhook_params",
    "webhook_urls",
]

WEBHOOK_METHOD = "POST"


def webhook_urls() -> dict[str, str]:
    """The three webhook URLs for today's API_BASE_URL, keyed voice / sms / status_callback."""
    base = settings.API_BASE_URL.rstrip("/")
    return {"voice": base + VOICE_PATH, "sms": base + SMS_PATH, "status_callback": base + STATUS_PATH}


def webhook_params() -> dict[str, str]:
    """The SDK keyword arguments that set all three webhooks with method POST."""
    urls = webhook_urls()
    return {
        "voice_url": urls["voice"],
        "voice_method": WEBHOOK_METHOD,
        "sms_url": urls["sms"],
        "sms_method": WEBHOOK_METHOD,
        "status_callback": urls["status_callback"],
        "status_callback_method": WEBHOOK_METHOD,
    }


def stream_status_url() -> str:
    """Where Twilio reports the AI agent's stream events (and a ConversationRelay session's
    end) for a call: API_BASE_URL + STREAM_STATUS_PATH, put in each call's TwiML."""
    return settings.API_BASE_URL.rstrip("/") + STREAM_STATUS_PATH
