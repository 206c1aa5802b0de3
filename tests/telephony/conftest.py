"""Real Celery worker processes for the telephony tests (tests/telephony/worker_pool.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from dentsignal.celery import app as celery_app
from tests.telephony.worker_pool import BROKER_URL, QUEUES, ROOT, Workers, redis_client, worker_env

# ------------------------------------------------------------------ real Celery workers on Redis and PostgreSQL


@pytest.fixture
def workers(sandbox_server, sandbox) -> Iterator[Workers]:
    # A clean queue: nothing left from an earlier run may be delivered to these workers.
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "dentsignal", "purge", "-f", f"--queues={','.join(QUEUES)}"],
        env=worker_env(sandbox_server),
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    redis_client().delete("unacked", "unacked_index")
    # dentsignal.test_settings points the broker at TEST_CELERY_BROKER_URL.
    assert celery_app.conf.broker_url == BROKER_URL
    celery_app.conf.task_always_eager = False
    pool = Workers(sandbox_server)
    try:
        yield pool
    finally:
        celery_app.conf.task_always_eager = True
        pool.stop_all()


@pytest.fixture
def worker(workers) -> subprocess.Popen:
    return workers.start("--concurrency=2")
