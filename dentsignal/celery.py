"""The Celery app; configuration comes from Django settings prefixed CELERY_.

Tasks are sent after commit by telephony.queue, which bounds the wait on a broker that
is down or hung and marks unsent clinic work for re-send at beat's next tick. The worker
and beat log the deploy checks' findings as errors when they start (telephony.checks).
"""

import os
from typing import Any

from celery import Celery, signals
from celery.contrib.django.task import DjangoTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dentsignal.settings")

app = Celery("dentsignal", task_cls=DjangoTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# telephony is imported when the signal fires: this module loads with dentsignal/__init__,
# before Django's apps are ready.
# Celery keeps Django's LOGGING instead of installing handlers of its own (a receiver of
# setup_logging tells it so): every handler then masks phone numbers (dentsignal.log_masking).
# https://docs.celeryq.dev/en/stable/userguide/signals.html#setup-logging
@signals.setup_logging.connect
def _logging_from_django_settings(**kwargs: Any) -> None:
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.worker_init.connect
def _worker_start_checks(**kwargs: Any) -> None:
    from telephony.checks import start_checks_log

    start_checks_log(process="The Celery worker")


@signals.beat_init.connect
def _beat_start_checks(**kwargs: Any) -> None:
    from telephony.checks import start_checks_log

    start_checks_log(process="Celery beat")
