"""What really happens in production: lost tasks, outages, repeats, abuse."""

import datetime as dt
import json

import pytest
from celery import Task
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from clinics import services as clinic_services
from clinics.models import Clinic, NumberEvent, NumberState
from dentsignal.celery import app as celery_app
from telephony import tasks, twilio_service
from telephony.models import ApiToken, Operation, RedriveTick
from telephony.numbers import provisioning, release
from tests.factories import ClinicFactory
from tests.permissions import onboarding_staff_group

pytestmark = pytest.mark.django_db(transaction=True)


def stuck(clinic, state, minutes=30, **fields):
    Clinic.objects.filter(pk=clinic.pk).update(
        number_state=state, number_state_changed_at=timezone.now() - dt.timedelta(minutes=minutes), **fields
    )


# ------------------------------------------------------------------ lost tasks


def test_a_clinic_whose_provisioning_task_was_lost_is_redriven(sandbox):
    clinic = ClinicFactory()
    stuck(clinic, NumberState.PROVISIONING, requested_area_code="512")

    assert tasks.redrive_stuck_clinics.delay().get() == 1

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE
    assert len(sandbox.owned_numbers()) == 1
    assert NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.REDRIVEN).count() == 1


def test_a_stuck_release_is_redriven(sandbox):
    clinic = ClinicFactory()
    bought = twilio_service.provision_clinic_number(clinic.id, "512")
    stuck(clinic, NumberState.RELEASING)

    tasks.redrive_stuck_clinics.delay()

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.RELEASED
    assert sandbox.owned_numbers() == []
    assert NumberEvent.objects.filter(kind=NumberEvent.Kind.RELEASED, phone_sid=bought["sid"]).count() == 1


def test_recent_or_just_redriven_clinics_are_left_alone(sandbox, settings):
    settings.NUMBER_STUCK_AFTER_SECONDS = 600
    recent = ClinicFactory()
    stuck(recent, NumberState.PROVISIONING, minutes=2, requested_area_code="512")
    redriven = ClinicFactory()
    stuck(redriven, NumberState.PROVISIONING, requested_area_code="512", last_redriven_at=timezone.now())

    assert tasks.redrive_stuck_clinics.delay().get() == 0
    assert sandbox.requests() == []


def test_admin_shows_how_long_a_clinic_has_been_in_its_state(admin_client):
    clinic = ClinicFactory(name="Slow Dental")
    stuck(clinic, NumberState.PROVISIONING, minutes=125)

    page = admin_client.get(reverse("admin:clinics_clinic_changelist")).content.decode()

    assert "2\xa0hours, 5\xa0minutes" in page


# ------------------------------------------------------------------ outages


def test_broker_down_answers_clearly_buys_nothing_and_work_resumes_later(client, staff_user, sandbox, monkeypatch):
    token = ApiToken.issue(user=staff_user)[1]
    clinic = ClinicFactory()

    def broker_down(self, *args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as patch:
        patch.setattr(Task, "apply_async", broker_down)
        response = client.post(
            "/api/admin/provision-number",
            json.dumps({"clinic_id": clinic.id, "area_code": "512"}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert response.status_code == 202
    assert response.json()["state"] == NumberState.PROVISIONING
    assert sandbox.owned_numbers() == []
    # Redis is back: the periodic re-drive sends the lost work.
    stuck(clinic, NumberState.PROVISIONING)
    tasks.redrive_stuck_clinics.delay()
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE and len(sandbox.owned_numbers()) == 1


@pytest.mark.embedded  # the outage differs per database vendor (tests/conftest.py, database_down)
def test_database_down_gives_a_clear_503_not_a_stack_trace(client, admin_user, staff_user, database_down, sandbox):
    token = ApiToken.issue(user=staff_user)[1]
    clinic = ClinicFactory()
    client.force_login(admin_user)

    with database_down:
        api = client.post(
            "/api/admin/provision-number",
            json.dumps({"clinic_id": clinic.id, "area_code": "512"}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        page = client.get(reverse("admin:clinics_clinic_changelist"))

    assert api.status_code == 503 and "database is unavailable" in api.json()["error"]
    assert api["Retry-After"]
    assert page.status_code == 503 and b"database is unavailable" in page.content and b"Traceback" not in page.content
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.NONE
    assert sandbox.requests() == []


def test_a_task_that_finds_the_database_down_to_its_last_retry_gives_up_without_it(sandbox, database_down, settings):
    """Issue 20: the give-up once needed the database it had just lost, so the task died
    with the clinic in provisioning. Now it hands the work to the re-drive without it."""
    settings.NUMBER_STUCK_AFTER_SECONDS = 600
    clinic = ClinicFactory()
    clinic_services.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")

    with database_down:
        run = tasks.provision_number.apply((clinic.id, "512", None))

    assert run.successful(), run.traceback
    assert run.result["success"] is False and "database" in run.result["error"]
    assert sandbox.requests() == []
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.PROVISIONING
    assert not NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.FAILED).exists()
    # The database is back; once the clinic counts as stuck, beat's re-drive buys its number.
    stuck(clinic, NumberState.PROVISIONING, minutes=11)
    assert tasks.redrive_stuck_clinics.delay().get() == 1
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE and len(sandbox.owned_numbers()) == 1


def test_after_an_outage_the_work_in_flight_at_the_last_tick_is_resent_at_the_first_tick_after_it(
    sandbox, settings, swallowing_broker
):
    """A message Redis held for a worker (waiting out a retry countdown, or prefetched)
    when the connection dropped is only given back after the visibility timeout, and Redis
    restarted without its data has lost it: after ticks were missed (task queue, database or
    workers away), the work in flight at the last good tick is sent again at once."""
    settings.NUMBER_STUCK_AFTER_SECONDS, settings.REDRIVE_PERIOD_SECONDS = 600, 60
    stranded = ClinicFactory()
    stuck(stranded, NumberState.PROVISIONING, minutes=5, requested_area_code="512")
    (orphan,) = sandbox.seed_numbers([{"phone_number": "+15125550193", "friendly_name": "nobody's"}])
    operation = release.orphan_release_request(phone_sid=orphan, phone_number="+15125550193")  # lost after its send
    celery_app.set_current()
    Operation.objects.filter(pk=operation.pk).update(sent_at=timezone.now() - dt.timedelta(minutes=5))
    assert tasks.redrive_stuck_clinics.delay().get() == 0  # ticking along: both merely in flight

    RedriveTick.objects.update(ran_at=timezone.now() - dt.timedelta(minutes=4))  # then 3 ticks missed
    assert tasks.redrive_stuck_clinics.delay().get() == 2

    stranded.refresh_from_db()
    assert stranded.number_state == NumberState.ACTIVE
    assert orphan not in {n["sid"] for n in sandbox.owned_numbers()}
    assert tasks.redrive_stuck_clinics.delay().get() == 0  # re-sent once, not at every tick


# ------------------------------------------------------------------ repeats and wrong targets


def test_release_is_safe_to_repeat(sandbox):
    clinic = ClinicFactory()
    sid = twilio_service.provision_clinic_number(clinic.id, "512")["sid"]

    first = tasks.release_clinic_number.delay(clinic.id, sid).get()
    again = tasks.release_clinic_number.delay(clinic.id, sid).get()

    assert first["success"] and again["success"] and again["already_released"]
    assert NumberEvent.objects.filter(kind=NumberEvent.Kind.RELEASED, phone_sid=sid).count() == 1
    assert len(sandbox.api_requests("DELETE")) == 1


def test_release_never_releases_another_clinics_number(sandbox):
    mine, theirs = ClinicFactory(), ClinicFactory()
    twilio_service.provision_clinic_number(mine.id, "512")
    their_sid = twilio_service.provision_clinic_number(theirs.id, "512")["sid"]

    result = tasks.release_clinic_number.delay(mine.id, their_sid).get()

    assert result["success"] is False and "not the clinic's number" in result["error"]
    assert sandbox.api_requests("DELETE") == []
    theirs.refresh_from_db()
    assert theirs.number_state == NumberState.ACTIVE and theirs.twilio_number_sid == their_sid


def test_failed_provisioning_has_a_retry_action(admin_client, sandbox):
    clinic = ClinicFactory(name="Retry Dental")
    sandbox.fault(path="IncomingPhoneNumbers.json", status=400, code=21421, message="PhoneNumber is invalid")
    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="737")
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.FAILED

    admin_client.post(
        reverse("admin:clinics_clinic_changelist"),
        {"action": "retry_provisioning", ACTION_CHECKBOX_NAME: [clinic.pk]},
        follow=True,
    )

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE and clinic.twilio_number.startswith("+1737")


# ------------------------------------------------------------------ abuse


def test_the_provisioning_api_is_rate_limited_per_user(client, staff_user, django_user_model, sandbox, settings):
    # A day's window: the limiter counts in fixed windows, and a short one could roll
    # over between the requests of this (eager, Twilio-calling) test.
    settings.API_PROVISION_RATE_LIMIT = "3/86400"
    token = ApiToken.issue(user=staff_user)[1]
    other = django_user_model.objects.create_user(username="other", password="pw-other-12345", is_staff=True)
    other.groups.add(onboarding_staff_group())  # provisioning is a permission (issue 12)
    other_token = ApiToken.issue(user=other)[1]
    clinics = ClinicFactory.create_batch(5)

    def ask(clinic, raw):
        return client.post(
            "/api/admin/provision-number",
            json.dumps({"clinic_id": clinic.id, "area_code": "512"}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )

    statuses = [ask(clinic, token).status_code for clinic in clinics[:4]]
    refused = ask(clinics[4], token)

    assert statuses == [202, 202, 202, 429]
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "Too many provisioning requests" in refused.json()["error"]
    assert len(sandbox.owned_numbers()) == 3
    assert ask(clinics[3], other_token).status_code == 202  # per user
