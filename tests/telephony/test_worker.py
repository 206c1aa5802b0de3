"""The admin-to-worker provisioning flow with a real Celery worker process on Redis.

Runs when TEST_CELERY_BROKER_URL points at Redis and the database is PostgreSQL
(scripts/test starts both); the embedded SQLite pass deselects it with -m "not worker".
"""

import signal
import time

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.urls import reverse

from clinics.models import NumberState
from tests.factories import ClinicFactory
from tests.telephony.worker_pool import BROKER_URL, wait_for_state, wait_queue_drained

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not BROKER_URL, reason="set TEST_CELERY_BROKER_URL to a Redis URL (scripts/test does)"),
    pytest.mark.django_db(transaction=True),
]


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
    assert clinic.twilio_number_sid.encode() in page.content and b"3/10" in page.content

    admin_client.post(changelist, {"action": "release_number", ACTION_CHECKBOX_NAME: [clinic.pk], "apply": "1"}, follow=True)
    wait_for_state(clinic.id, NumberState.RELEASED)
    assert sandbox.owned_numbers() == []


def test_fifty_concurrent_requests_of_every_kind_buy_one_number(workers, sandbox, settings, django_user_model):
    """Admin clicks, API calls and direct enqueues at once, over three worker processes."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import close_old_connections
    from django.test import Client

    from telephony.models import ApiToken
    from telephony.tasks import provision_number

    settings.API_PROVISION_RATE_LIMIT = "1000/60"
    # Slow purchases keep many tasks in flight at once: the race is real.
    sandbox.fault(path="IncomingPhoneNumbers.json", mode="delay_before", delay=1.0, times=50)
    for _ in range(3):
        workers.start("--concurrency=3")
    clinic = ClinicFactory(name="Crowded Dental")
    admin = django_user_model.objects.create_superuser(username="boss", password="pw-boss-123456")
    token = ApiToken.issue(user=admin)[1]
    changelist = reverse("admin:clinics_clinic_changelist")

    def one(i: int) -> int:
        try:
            if i % 3 == 0:
                client = Client()
                client.force_login(admin)
                data = {"action": "provision_number", ACTION_CHECKBOX_NAME: [clinic.pk], "apply": "1", "area_code": "512"}
                return client.post(changelist, data).status_code
            if i % 3 == 1:
                return (
                    Client()
                    .post(
                        "/api/admin/provision-number",
                        f'{{"clinic_id": {clinic.id}, "area_code": "512"}}',
                        content_type="application/json",
                        HTTP_AUTHORIZATION=f"Bearer {token}",
                    )
                    .status_code
                )
            provision_number.delay(clinic.id, "512", None)
            return 0
        finally:
            close_old_connections()
            connection.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(one, range(50)))

    assert all(status in (0, 302, 202, 409) for status in statuses), statuses
    clinic = wait_for_state(clinic.id, NumberState.ACTIVE)
    wait_queue_drained()
    owned = sandbox.owned_numbers()
    assert [n["sid"] for n in owned] == [clinic.twilio_number_sid]
    purchases = sandbox.api_requests("POST", "IncomingPhoneNumbers.json")
    assert {p["form"]["PhoneNumber"] for p in purchases} == {clinic.twilio_number}
    assert sum(1 for p in purchases if p["status"] == 201) == 1
    assert len(purchases) >= 2, "no two purchases overlapped; the test did not race"
    print(f"{len(purchases)} purchase attempts of {clinic.twilio_number}, 1 sold; statuses {sorted(set(statuses))}")


def test_worker_killed_after_twilio_sold_the_number_buys_no_second_one(workers, sandbox):
    """SIGKILL between Twilio's sale and our database write; the task is delivered again."""
    from telephony.numbers import provisioning

    # A 3 s visibility timeout also makes the workers sweep for it every second (settings.py).
    env = {"CELERY_VISIBILITY_TIMEOUT": "3", "TWILIO_HTTP_TIMEOUT": "60"}
    # Twilio commits the purchase, then its answer takes 30 s: the worker is waiting for it.
    sandbox.fault(path="IncomingPhoneNumbers.json", mode="delay_after", delay=30)
    first = workers.start("--pool=solo", **env)
    clinic = ClinicFactory(name="Crash Dental")

    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")

    deadline = time.monotonic() + 60
    while not sandbox.owned_numbers():
        assert time.monotonic() < deadline, "the purchase never reached the sandbox"
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    sold = sandbox.owned_numbers()[0]
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.PROVISIONING and clinic.twilio_number is None
    assert clinic.pending_number == sold["phone_number"]  # committed before the purchase
    sandbox._call("DELETE", "faults")

    time.sleep(3.5)  # past the visibility timeout: the unacknowledged task is due again
    workers.start("--pool=solo", **env)

    clinic = wait_for_state(clinic.id, NumberState.ACTIVE, timeout=60)
    wait_queue_drained()
    assert clinic.twilio_number_sid == sold["sid"]
    assert [n["sid"] for n in sandbox.owned_numbers()] == [sold["sid"]]
    from clinics.models import NumberEvent

    assert NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.ADOPTED, phone_sid=sold["sid"]).exists()
