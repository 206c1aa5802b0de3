"""The paths Twilio posts to on our side: the one place they are defined.

Plain constants with no Django import, so that settings can derive from them (the
webhook paths are exempt from the https redirect) as well as the URL routes and the
webhook URLs set on every number (telephony/webhook_urls.py).
"""

VOICE_PATH = "/inbound/voice"
SMS_PATH = "/api/sms/inbound"
STATUS_PATH = "/twilio/status"
# The AI agent's <Connect><Stream statusCallback> (stream-started/-stopped/-error) and the
# <Connect action> Twilio requests when a <ConversationRelay> session ends: set in the
# TwiML of each call, not on the number.
STREAM_STATUS_PATH = "/twilio/stream-status"
# The StatusCallback of each clinic's Trust Hub customer profile and A2P trust product
# (set when they are created and submitted, telephony/a2p/steps.py): Twilio calls it
# when their review status changes.
A2P_STATUS_PATH = "/twilio/a2p-status"
# The fallbacks Twilio calls when a primary webhook fails (5xx, timeout): served from
# API_FALLBACK_BASE_URL and answered without the database (telephony/webhooks/fallbacks.py).
VOICE_FALLBACK_PATH = "/inbound/voice/fallback"
SMS_FALLBACK_PATH = "/api/sms/inbound/fallback"
FALLBACK_PATHS = (VOICE_FALLBACK_PATH, SMS_FALLBACK_PATH)
# Every path Twilio calls; a webhook added later belongs here too.
WEBHOOK_PATHS = (VOICE_PATH, SMS_PATH, STATUS_PATH, STREAM_STATUS_PATH, A2P_STATUS_PATH, *FALLBACK_PATHS)
