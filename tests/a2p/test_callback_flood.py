"""Issue 20: rate-limited A2P polls never hold up the work people wait for.

A correctly signed Trust Hub status callback can be captured and replayed. Each one
queued one poll of its clinic on the shared queue; 300 replays queued 296 polls that
drained at the poll's rate limit (1/s) and held a provisioning task sent after them for
5 minutes. Rate-limited and long tasks now run on their own queue, consumed by its own
worker, so work on the default queue never waits behind them.
"""

from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings

from clinics import services_a2p
from clinics.models import Clinic, NumberState
from clinics.models_a2p import A2PRegistration, BusinessProfile
from telephony import registration
from telephony.models import ApiToken
from telephony.tasks import a2p_registration_poll
from tests.a2p.conftest import PRIMARY_PROFILE, business_profile_data, review
from tests.factories import ClinicFactory
from tests.telephony.test_worker import (  # noqa: F401 - workers: a fixture
    BROKER_URL,
    wait_for_state,
    wait_workers_ready,
    workers,
)
from tests.test_hostile_inputs import api_post

# What "completes in seconds" means for a provisioning request sent right after the flood
# (the red team measured 5 min 07 s); the subaccount, search and purchase take about 1 s.
PROVISION_BOUND_SECONDS = 15.0


def _in_review(sandbox, *, name: str, number: str) -> A2PRegistration:
    """A clinic whose customer profile Twilio is reviewing (the sandbox decides nothing by itself)."""
    [sid] = sandbox.seed_numbers([{"phone_number": number}])
    clinic = ClinicFactory(name=name, twilio_number=number, twilio_number_sid=sid, number_state=NumberState.ACTIVE)
    BusinessProfile.objects.create(clinic=clinic, **business_profile_data())
    services_a2p.a2p_registration_start(clinic_id=clinic.id)
    reg = registration.registration_advance(clinic_id=clinic.id)
    assert reg.customer_profile_status == "pending-review", reg.error
    sandbox._call("DELETE", "requests")  # what the test counts comes after
    return reg


def _fetches(sandbox, reg: A2PRegistration) -> int:
    """How many times Twilio was asked for the clinic's customer profile (one per poll run)."""
    return len(sandbox.api_requests("GET", f"/v1/CustomerProfiles/{reg.customer_profile_sid}"))


# ----------------------------------------------------------------- real worker processes on Redis


def worker_test(test):
    """Real `celery worker` processes on Redis and the PostgreSQL test database (tests/telephony/test_worker.py)."""
    marks = (
        pytest.mark.worker,
        pytest.mark.skipif(not BROKER_URL, reason="set TEST_CELERY_BROKER_URL to a Redis URL (scripts/test does)"),
        pytest.mark.django_db(transaction=True),
    )
    for mark in marks:
        test = mark(test)
    return test


def _production_workers(workers) -> None:  # noqa: F811 - the imported fixture
    """One worker per queue, as the README's Deploying section starts them."""
    env = {"TWILIO_PRIMARY_CUSTOMER_PROFILE_SID": PRIMARY_PROFILE}
    workers.start(f"--queues={django_settings.CELERY_TASK_DEFAULT_QUEUE}", "--concurrency=2", **env)
    workers.start(f"--queues={django_settings.TASK_QUEUE_SLOW}", "--concurrency=1", **env)
    wait_workers_ready(2)


def _provision_request(client, staff_user) -> tuple[Clinic, float]:
    """Staff ask the admin API for a number; the seconds until the clinic's number is active."""
    token = ApiToken.issue(user=staff_user)[1]
    clinic = ClinicFactory(name="Waiting Dental")
    started = time.monotonic()
    response = api_post(client, token, {"clinic_id": clinic.id, "area_code": "512"})
    assert response.status_code == 202, response.content
    clinic = wait_for_state(clinic.id, NumberState.ACTIVE, timeout=2 * PROVISION_BOUND_SECONDS)
    return clinic, time.monotonic() - started


@worker_test
def test_a_backlog_of_rate_limited_polls_does_not_hold_up_provisioning(
    workers,  # noqa: F811 - the imported fixture
    client,
    sandbox,
    a2p_enabled,
    staff_user,
):
    """Many clinics' callbacks at once make one poll each: they wait on their own queue at
    Trust Hub's pace, never in front of a provisioning task."""
    review(sandbox, mode="manual")
    reg = _in_review(sandbox, name="Busy Dental", number="+15125550142")
    _production_workers(workers)
    backlog = 30  # 30 s of polls at the task's rate limit
    for _ in range(backlog):
        a2p_registration_poll.delay(reg.clinic_id)

    clinic, took = _provision_request(client, staff_user)

    print(f"{backlog} rate-limited polls queued; the provisioning request sent next was active after {took:.1f} s")
    assert took < PROVISION_BOUND_SECONDS
    assert clinic.number_state == NumberState.ACTIVE
    assert _fetches(sandbox, reg) < backlog  # still draining at Trust Hub's pace
