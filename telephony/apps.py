import logging

from django.apps import AppConfig
from django.conf import settings


class TelephonyConfig(AppConfig):
    name = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks

        if not settings.TWILIO_WEBHOOK_SIGNATURE_CHECK:
            logging.getLogger("telephony").warning(
                "TWILIO_WEBHOOK_SIGNATURE_CHECK is off: anyone can call the Twilio webhooks (DEBUG only)."
            )
