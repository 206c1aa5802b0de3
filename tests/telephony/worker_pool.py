"""Real Celery worker processes for the worker tests: on the test database (PostgreSQL),
Redis at TEST_CELERY_BROKER_URL and the sandbox Twilio."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from clinics.models import Clinic
from tests.conftest import PUBLIC_BASE_URL
from twilio_sandbox import SANDBOX_AUTH_TOKEN

BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "")
ROOT = Path(__file__).resolve().parents[2]
# Celery's default queue and the one for rate-limited and long tasks (settings, CELERY_TASK_ROUTES).
QUEUES = (django_settings.CELERY_TASK_DEFAULT_QUEUE, django_settings.TASK_QUEUE_SLOW)


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("the worker test shares the test database with another process: PostgreSQL only")
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def worker_env(sandbox_server, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER_URL,
        "TWILIO_ACCOUNT_SID": django_settings.TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": SANDBOX_AUTH_TOKEN,
        "TWILIO_API_BASE_URL": sandbox_server.url,
        "API_BASE_URL": PUBLIC_BASE_URL,
        "DJANGO_SECRET_KEY": "worker-test-secret-key-" + "x" * 40,
        **extra,
    }
    env.pop("DJANGO_DEBUG", None)
    return env


class Workers:
    """Real `celery worker` processes on the test database, Redis and the sandbox Twilio."""

    def __init__(self, sandbox_server) -> None:
        self.sandbox_server = sandbox_server
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        """A worker process; it consumes every queue unless `args` name some (`--queues=...`)."""
        queues = () if any(arg.startswith(("-Q", "--queues")) for arg in args) else (f"--queues={','.join(QUEUES)}",)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "dentsignal",
                "worker",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                f"--hostname=w{len(self.procs)}@%h",
                *queues,
                *args,
            ],
            env=worker_env(self.sandbox_server, **env),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                output, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                output, _ = proc.communicate()
            print(output[-3000:] if output else "")


def redis_client():
    import redis

    return redis.Redis.from_url(BROKER_URL)


def wait_queue_drained(timeout: float = 90.0) -> None:
    """Until no task waits in Redis or is held unacknowledged by a worker."""
    client = redis_client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(client.llen(queue) == 0 for queue in QUEUES) and client.hlen("unacked") == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"tasks still queued after {timeout}s")


def wait_workers_ready(count: int, timeout: float = 60.0) -> None:
    """Until `count` workers answer a ping (started, connected, consuming)."""
    from dentsignal.celery import app as celery_app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(celery_app.control.ping(timeout=0.5)) >= count:
            return
    raise AssertionError(f"fewer than {count} workers answered within {timeout}s")


def wait_for_state(clinic_id: int, state: str, timeout: float = 60.0) -> Clinic:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        clinic = Clinic.objects.get(pk=clinic_id)
        if clinic.number_state == state:
            return clinic
        time.sleep(0.2)
    raise AssertionError(f"clinic {clinic_id} still {clinic.number_state} after {timeout}s: {clinic.number_error}")
