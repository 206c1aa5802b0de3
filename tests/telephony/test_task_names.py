"""One registry of Celery task names (telephony/task_names.py): what the workflows send,
what telephony/tasks.py registers, and what beat and the queue routes name are the same."""

from django.conf import settings

from dentsignal.celery import app
from telephony import task_names, tasks  # noqa: F401 - tasks: registers every task


def _registered() -> set[str]:
    return {name for name in app.tasks if name.startswith("telephony.")}


def test_every_name_is_a_registered_task_and_every_task_has_a_name():
    assert task_names.all_task_names() == _registered()


def test_every_beat_entry_names_a_registered_task():
    for entry, schedule in settings.CELERY_BEAT_SCHEDULE.items():
        assert schedule["task"] in _registered(), f"beat entry {entry!r} names no task"


def test_every_queue_route_names_a_registered_task():
    for name in settings.CELERY_TASK_ROUTES:
        assert name in _registered(), f"the route for {name!r} names no task"
