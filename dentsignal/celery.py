"""The Celery app; configuration comes from Django settings prefixed CELERY_."""

import functools
import logging
import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dentsignal.settings")
logger = logging.getLogger("dentsignal.celery")


class DentSignalTask(DjangoTask):
    """Tasks sent after commit never turn a broker outage into an error for the user.

    The database change is already committed when the task is sent; if Redis is down
    the send is logged and the periodic re-drive (telephony.tasks.redrive_stuck_clinics)
    sends the clinic's work again once it is back.
    """

    def delay_on_commit(self, *args, **kwargs) -> None:
        from django.db import transaction

        transaction.on_commit(functools.partial(self._send_or_log, args, kwargs))

    def _send_or_log(self, args: tuple, kwargs: dict) -> None:
        try:
            self.apply_async(args, kwargs)
        except (OperationalError, OSError) as exc:
            logger.error("Task queue unreachable, %s%r not sent (re-driven later): %s", self.name, args, exc)


app = Celery("dentsignal", task_cls=DentSignalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
