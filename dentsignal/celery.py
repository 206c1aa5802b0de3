"""The Celery app; configuration comes from Django settings prefixed CELERY_.

Tasks are sent after commit by telephony.queue, which bounds the wait on a broker that
is down or hung and marks unsent clinic work for re-send at beat's next tick.
"""

import os

from celery import Celery
from celery.contrib.django.task import DjangoTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dentsignal.settings")

app = Celery("dentsignal", task_cls=DjangoTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
