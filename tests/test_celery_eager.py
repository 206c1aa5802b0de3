"""Eager Celery in a test process with threads: what leaks from one test to the next."""

from __future__ import annotations

import threading
import time

from celery.result import task_join_will_block

from dentsignal.celery import app
from tests.conftest import eager_results_readable


@app.task(name="tests.sleep_then_echo")
def sleep_then_echo(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_two_overlapping_eager_tasks_leave_the_join_flag_set_and_the_autouse_reset_clears_it():
    assert app.conf.task_always_eager, "test processes run tasks eagerly (dentsignal/test_settings.py)"
    first = threading.Thread(target=sleep_then_echo.delay, args=(0.2,))
    second = threading.Thread(target=sleep_then_echo.delay, args=(0.4,))
    first.start()
    time.sleep(0.05)  # the second starts while the first runs, and ends after it
    second.start()
    first.join()
    second.join()
    assert task_join_will_block(), "Celery restores the flag per process: the second task leaves it set"

    eager_results_readable()  # what the autouse fixture does before every test

    assert sleep_then_echo.delay(0).get() == 0
