import logging

from django.apps import AppConfig
from django.conf import settings


class TelephonyConfig(AppConfig):
    name = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        # The system checks register on import. So do the Celery tasks: workflows send
        # them by name (telephony.queue), and Celery's autodiscovery only imports them in
        # a worker, not in the web process.
        from telephony import checks, tasks  # noqa: F401
        from telephony.webhooks import fallbacks

        fallbacks.fallback_caches_follow_clinics()

        if not settings.TWILIO_WEBHOOK_SIGNATURE_CHECK:
            logging.getLogger("telephony").warning(
                "TWILIO_WEBHOOK_SIGNATURE_CHECK is off: anyone can call the Twilio webhooks (DEBUG only)."
            )
