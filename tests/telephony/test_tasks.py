"""Celery tasks (eager here): retries on 429/5xx/timeouts, never on other 4xx."""

import pytest
from django.db import OperationalError, connection

from clinics.models import Clinic, NumberEvent, NumberState
from clinics.selectors import clinic_next_step
from telephony import tasks
from telephony.numbers import provisioning, release
from tests.factories import ClinicFactory

# Real commits: provisioning is enqueued with transaction.on_commit.
pytestmark = pytest.mark.django_db(transaction=True)


def purchases(sandbox):
    return sandbox.api_requests("POST", "IncomingPhoneNumbers.json")


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, 20500), (503, 20503)])
def test_transient_errors_are_retried_until_the_number_is_bought(sandbox, status, code):
    clinic = ClinicFactory()
    sandbox.fault(path="IncomingPhoneNumbers.json", status=status, code=code, message="busy", times=2)

    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE
    attempts = purchases(sandbox)
    assert len(attempts) == 3
    # Every attempt asked for the same number: the one reserved on the clinic row.
    assert len({a["form"]["PhoneNumber"] for a in attempts}) == 1
    assert len(sandbox.owned_numbers()) == 1


def test_connection_timeouts_are_retried_and_a_number_bought_unseen_is_adopted(sandbox, settings):
    settings.TWILIO_HTTP_TIMEOUT = 1.0
    clinic = ClinicFactory()
    sandbox.fault(path="IncomingPhoneNumbers.json", mode="delay_after", delay=2.0)

    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE
    (owned,) = sandbox.owned_numbers()
    assert owned["sid"] == clinic.twilio_number_sid


@pytest.mark.parametrize(
    ("status", "code", "what"),
    [
        (429, 20429, "Twilio kept rate-limiting us (too many requests)"),
        (500, 20500, "Twilio had a problem on its side (HTTP 500)"),
    ],
)
def test_retries_give_up_with_one_sentence_true_to_the_state_left(sandbox, status, code, what):
    """Issue 22: a give-up said "tried again automatically; nothing to do" or "Nothing was
    changed" (a subaccount was created, a number reserved), then "Gave up", then "Fix: … then retry"."""
    clinic = ClinicFactory()
    sandbox.fault(path="IncomingPhoneNumbers.json", status=status, code=code, message="slow down", times=50)

    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.FAILED
    tries = tasks.MAX_RETRIES + 1
    assert clinic.number_error == (
        f"{what} while buying a number in area code 512 in the clinic's Twilio subaccount, {tries} times in a row; "
        f"DentSignal stopped trying. (Twilio error {code}: https://www.twilio.com/docs/errors/{code}) "
        "The clinic has no number yet: try again in a few minutes with Retry failed provisioning."
    )
    step = clinic_next_step(clinic=clinic, retry_helps=True)
    assert (step.lead, step.text) == ("Failed:", clinic.number_error)
    for untrue in ("automatically", "nothing to do", "Nothing was changed", "then retry", "Fix:"):
        assert untrue not in step.lead + step.text
    assert len(purchases(sandbox)) == tries
    assert sandbox.owned_numbers() == []


def test_client_errors_are_not_retried(sandbox):
    clinic = ClinicFactory()
    sandbox.fault(path="IncomingPhoneNumbers.json", status=400, code=21421, message="PhoneNumber is invalid", times=5)

    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")

    assert len(purchases(sandbox)) == 1
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.FAILED


def test_a_failed_clinic_can_be_provisioned_again(sandbox):
    clinic = ClinicFactory()
    sandbox.fault(path="IncomingPhoneNumbers.json", status=400, code=21421, message="PhoneNumber is invalid")
    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")

    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE
    assert clinic.number_error == ""


def test_release_task_retries_5xx(sandbox):
    clinic = ClinicFactory()
    provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")
    sandbox.fault(method="DELETE", path="IncomingPhoneNumbers/", status=502, code=20500, message="bad gateway", times=2)

    release.clinic_number_release_request(clinic_id=clinic.id)

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.RELEASED
    assert sandbox.owned_numbers() == []
    assert len(sandbox.api_requests("DELETE")) == 3


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_backoff_grows_and_is_capped():
    assert all(0 <= tasks.backoff_seconds(n) <= tasks.BACKOFF_BASE_SECONDS * 2**n for n in range(6))
    assert max(tasks.backoff_seconds(30) for _ in range(50)) <= tasks.BACKOFF_MAX_SECONDS


def test_a_database_error_after_the_purchase_is_retried_and_adopts_the_number_bought(sandbox):
    """Issue 12 hole 5: PostgreSQL restarting between Twilio's sale and our write."""
    clinic = ClinicFactory()
    failed = []

    def database_restarts_once(execute, sql, params, many, context):
        # Django's documented execute_wrapper: the database, not our code, fails the
        # first write of the bought number onto the clinic row.
        if not failed and sql.startswith(f'UPDATE "{Clinic._meta.db_table}"') and '"twilio_number_sid"' in sql:
            failed.append(sql)
            raise OperationalError("terminating connection due to administrator command")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(database_restarts_once):
        provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")

    assert failed, "the write of the bought number was never attempted"
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE
    (owned,) = sandbox.owned_numbers()
    assert owned["sid"] == clinic.twilio_number_sid
    assert NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.ADOPTED, phone_sid=owned["sid"]).exists()
    # The retry asked Twilio for the same reserved number again and adopted it (21422).
    attempts = purchases(sandbox)
    assert len({a["form"]["PhoneNumber"] for a in attempts}) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("failure", "countdown"),
    [
        (provisioning.RetryLater("Waiting for Twilio's answer.", after_seconds=7.5), 7.5),
        (tasks.TwilioError(doing="buying a number", status=429, code=20429), None),
    ],
)
def test_a_failure_that_says_when_is_retried_then_else_by_the_backoff(monkeypatch, failure, countdown):
    """A subaccount create's lease ends at a known time, and a 429 may carry Twilio's
    Retry-After: the retry comes then, not after a random backoff that may fall short of
    it (and spend a retry) or far past it."""
    if countdown is None:
        failure.retry_after = 3.0  # what the adapter reads from Twilio's Retry-After header
        countdown = 3.0
    retried: list[dict] = []

    def retry(**kwargs):
        retried.append(kwargs)
        return RuntimeError("retried")

    def fail(**_):
        raise failure

    monkeypatch.setattr(provisioning, "clinic_number_provision_run", fail)
    monkeypatch.setattr(tasks.provision_number, "retry", retry)

    with pytest.raises(RuntimeError, match="retried"):
        tasks.provision_number.run(1, "512")

    assert retried == [{"exc": failure, "countdown": countdown}]
