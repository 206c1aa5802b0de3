"""Outages the telephony tests stage (the task queue hung, down or losing what it took;
the database unreachable is tests/conftest.py's `database_down`) and real Celery worker
processes (tests/telephony/worker_pool.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from celery import Celery

from dentsignal.celery import app as celery_app
from tests.telephony.worker_pool import BROKER_URL, QUEUES, ROOT, Workers, redis_client, worker_env


class HungBroker:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read from nor written to

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()
        self.listener.close()


def refused_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["hung", "refused"])
def broken_broker(request: pytest.FixtureRequest) -> Iterator[str]:
    """The current Celery app sends for real (not eager) to a hung or refusing Redis.

    A fresh app configured from the same Django settings as dentsignal's (so with the
    same broker timeouts and publish retry policy), only the broker URL differs; it is
    made the current app, the one telephony.queue sends with, for the test.
    """
    hung = HungBroker() if request.param == "hung" else None
    port = hung.port if hung else refused_port()
    broken = Celery("dentsignal-broken-broker", set_as_current=False)
    broken.config_from_object("django.conf:settings", namespace="CELERY")
    broken.conf.update(broker_url=f"redis://127.0.0.1:{port}/0", task_always_eager=False)
    broken.set_current()
    try:
        yield request.param
    finally:
        celery_app.set_current()
        broken.close()
        if hung:
            hung.close()


@pytest.fixture
def swallowing_broker() -> Iterator[None]:
    """The current Celery app's task queue takes every task and never delivers it (a task lost
    after its send); `celery_app.set_current()` brings the project's own eager app back."""
    lost = Celery("dentsignal-lost-tasks", set_as_current=False)
    lost.config_from_object("django.conf:settings", namespace="CELERY")
    lost.conf.update(broker_url="memory://", task_always_eager=False)
    lost.set_current()
    try:
        yield
    finally:
        celery_app.set_current()
        lost.close()


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
