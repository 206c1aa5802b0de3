"""The admin-to-worker provisioning flow with a real Celery worker process on Redis.

Runs when TEST_CELERY_BROKER_URL points at Redis and the database is PostgreSQL
(scripts/test starts both); the embedded SQLite pass deselects it with -m "not worker".
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.urls import reverse

from clinics.models import Clinic, NumberState
from dentsignal.celery import app as celery_app
from telephony.sandbox import SANDBOX_AUTH_TOKEN
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import ClinicFactory

BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not BROKER_URL, reason="set TEST_CELERY_BROKER_URL to a Redis URL (scripts/test does)"),
    pytest.mark.django_db(transaction=True),
]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the worker test shares the test database with another process: PostgreSQL only")
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def worker(sandbox_server, sandbox) -> Iterator[subprocess.Popen]:
    """A `celery worker` process on the test database, Redis and the sandbox Twilio."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": BROKER_URL,
        "TWILIO_ACCOUNT_SID": django_settings.TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": SANDBOX_AUTH_TOKEN,
        "TWILIO_API_BASE_URL": sandbox_server.url,
        "API_BASE_URL": PUBLIC_BASE_URL,
        "DJANGO_SECRET_KEY": "worker-test-secret-key-" + "x" * 40,
    }
    env.pop("DJANGO_DEBUG", None)
    # A clean queue: nothing left from an earlier run may be delivered to this worker.
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "dentsignal", "purge", "-f"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dentsignal", "worker", "--concurrency=2", "--loglevel=INFO", "--without-gossip"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # dentsignal.test_settings points the broker at TEST_CELERY_BROKER_URL.
    assert celery_app.conf.broker_url == BROKER_URL
    celery_app.conf.task_always_eager = False
    try:
        yield proc
    finally:
        celery_app.conf.task_always_eager = True
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        print(output[-5000:])


def wait_for_state(clinic_id: int, state: str, timeout: float = 60.0) -> Clinic:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        clinic = Clinic.objects.get(pk=clinic_id)
        if clinic.number_state == state:
            return clinic
        time.sleep(0.2)
    raise AssertionError(f"clinic {clinic_id} still {clinic.number_state} after {timeout}s: {clinic.number_error}")


def test_admin_click_is_provisioned_by_a_worker_from_redis(worker, admin_client, sandbox, expected_webhooks):
    clinic = ClinicFactory(name="Worker Dental")
    changelist = reverse("admin:clinics_clinic_changelist")

    response = admin_client.post(
        changelist,
        {"action": "provision_number", ACTION_CHECKBOX_NAME: [clinic.pk], "apply": "1", "area_code": "512"},
        follow=True,
    )

    assert response.status_code == 200
    assert any("Worker Dental" in str(m) for m in response.context["messages"])
    clinic = wait_for_state(clinic.id, NumberState.ACTIVE)
    assert clinic.twilio_number.startswith("+1512")
    assert clinic.twilio_webhooks == expected_webhooks
    (owned,) = sandbox.owned_numbers()
    assert owned["sid"] == clinic.twilio_number_sid
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk]))
    assert clinic.twilio_number_sid.encode() in page.content and b"3/6" in page.content

    admin_client.post(changelist, {"action": "release_number", ACTION_CHECKBOX_NAME: [clinic.pk], "apply": "1"}, follow=True)
    wait_for_state(clinic.id, NumberState.RELEASED)
    assert sandbox.owned_numbers() == []
