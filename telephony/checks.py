"""System checks of the telephony configuration (`manage.py check --deploy`).

https://docs.djangoproject.com/en/5.2/topics/checks/ — a check registered with
deploy=True runs only under `check --deploy`, which is the deployment checklist's
command; runserver and migrate stay quiet on a developer's machine. The processes that
serve production (gunicorn's WSGI module, the Celery worker and beat) run the same
checks when they start and log what they find as errors (start_checks_log), since
nobody may ever run `check --deploy` on that host.
"""

import logging
from typing import Any

from django.conf import settings
from django.core import checks

SANDBOX_IN_PRODUCTION_ID = "telephony.W001"
SANDBOX_IN_PRODUCTION = (
    "TWILIO_SANDBOX=true with DEBUG off: webhooks are accepted when signed with the sandbox Twilio's auth "
    "token, which is published in this project's repository, so anyone can forge Twilio's requests "
    "(confirm appointments, opt patients out); and no real number is bought."
)
SANDBOX_IN_PRODUCTION_FIX = (
    "Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to the Twilio account's credentials and remove TWILIO_SANDBOX "
    "(only a staging demo may run on the sandbox on purpose)."
)


def sandbox_in_production() -> bool:
    """True when the sandbox Twilio (and its public auth token) is on outside DEBUG."""
    return bool(settings.TWILIO_SANDBOX and not settings.DEBUG)


@checks.register(checks.Tags.security, deploy=True)
def sandbox_twilio_check(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when a deployment runs on the sandbox Twilio, whose webhook token anyone can read."""
    if not sandbox_in_production():
        return []
    return [checks.Warning(SANDBOX_IN_PRODUCTION, hint=SANDBOX_IN_PRODUCTION_FIX, id=SANDBOX_IN_PRODUCTION_ID)]


def start_checks_log(*, process: str) -> None:
    """Log each finding of the deploy checks above as an error, naming the starting `process`.

    Called once by each production start path: dentsignal.wsgi / dentsignal.asgi (the web
    process) and the Celery worker_init / beat_init signals (dentsignal.celery).
    """
    for message in sandbox_twilio_check(None):
        logging.getLogger("telephony").error("%s is starting: %s %s (%s)", process, message.msg, message.hint, message.id)
