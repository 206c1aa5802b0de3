"""Issue 14, "Usage per clinic": this month's calls, SMS and cost from the clinic's
subaccount (Usage/Records/ThisMonth), fetched by a task and kept; the clinic page never
waits on Twilio. Real SDK into the sandbox Twilio (eager Celery)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinics.models import Clinic, ClinicUsage
from telephony import twilio as twilio_client
from telephony import twilio_service
from telephony.numbers import usage
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db(transaction=True)


def provisioned(name: str) -> Clinic:
    clinic = ClinicFactory(name=name)
    assert twilio_service.provision_clinic_number(clinic.id, "512")["success"] is True
    return Clinic.objects.get(pk=clinic.id)


def busy(sandbox, clinic: Clinic, *, calls: int, texts: int) -> None:
    sandbox._call("POST", "calls", {"account_sid": clinic.twilio_account_sid, "count": calls})
    for _ in range(texts):
        twilio_client.message_send(
            from_number=clinic.twilio_number,
            to_number="+15125550999",
            body="Reminder",
            status_callback="https://x.example.com/s",
            account_sid=clinic.twilio_account_sid,
        )


def test_refresh_usage_fetches_the_subaccounts_figures_and_the_page_shows_them_without_asking_twilio(admin_client, sandbox):
    clinic = provisioned("Busy Dental")
    busy(sandbox, clinic, calls=3, texts=2)
    page_url = reverse("admin:clinics_clinic_change", args=[clinic.pk])
    assert "Not fetched yet" in admin_client.get(page_url).content.decode()

    admin_client.post(reverse("admin:clinics_clinic_usage_refresh", args=[clinic.pk]))

    (asked,) = sandbox.api_requests("GET", "/Usage/Records/ThisMonth.json")
    assert asked["path"] == f"/2010-04-01/Accounts/{clinic.twilio_account_sid}/Usage/Records/ThisMonth.json"
    assert asked["query"]["PageSize"] == "1000"
    figures = ClinicUsage.objects.get(clinic=clinic)
    assert (figures.calls, figures.sms, figures.currency) == (3, 2, "USD")
    assert float(figures.cost) == pytest.approx(3 * 0.0085 + 2 * 0.0079)
    sandbox._call("DELETE", "requests")
    page = admin_client.get(page_url).content.decode()
    assert "3 call(s), 2 SMS, 0.04 USD (fetched at " in page
    assert sandbox.requests() == []  # the page never waits on Twilio


def test_a_failed_fetch_keeps_the_last_figures_and_says_why(admin_client, sandbox):
    clinic = provisioned("Flaky Dental")
    busy(sandbox, clinic, calls=1, texts=0)
    usage.clinic_usage_refresh(clinic_id=clinic.id)
    sandbox.fault(path="/Usage/Records/ThisMonth.json", method="GET", status=400, code=20001, message="Invalid request")

    with pytest.raises(twilio_client.TwilioError):
        usage.clinic_usage_refresh(clinic_id=clinic.id)

    figures = ClinicUsage.objects.get(clinic=clinic)
    assert figures.calls == 1 and "20001" in figures.error
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()
    assert "1 call(s)" in page and "Last fetch failed" in page


def test_the_daily_task_fetches_each_clinic_with_a_subaccount_and_skips_the_others(sandbox, settings):
    one, two = provisioned("One Dental"), provisioned("Two Dental")
    busy(sandbox, two, calls=0, texts=1)
    settings.TWILIO_SUBACCOUNT_PER_CLINIC = False
    legacy = provisioned("Legacy Dental")

    from telephony.tasks import refresh_all_usage

    assert refresh_all_usage.delay().get() == 2

    assert set(ClinicUsage.objects.values_list("clinic_id", "sms")) == {(one.id, 0), (two.id, 1)}
    assert not ClinicUsage.objects.filter(clinic=legacy).exists()
    assert usage.clinic_usage_refresh_request(clinic_id=legacy.id) is False


def fail_usage_of(sandbox, clinic: Clinic) -> None:
    sandbox.fault(
        path=f"/2010-04-01/Accounts/{clinic.twilio_account_sid}/Usage/Records/ThisMonth.json",
        method="GET",
        status=400,
        code=20001,
        message="Invalid request",
    )


def test_the_daily_refresh_fans_out_over_the_subaccounts_and_its_queries_do_not_grow_with_the_clinics(sandbox, settings):
    settings.FLEET_CONCURRENCY = 3
    few = [provisioned(f"Few Dental {i}") for i in range(3)]
    busy(sandbox, few[0], calls=2, texts=0)
    fail_usage_of(sandbox, few[1])
    with CaptureQueriesContext(connection) as small:
        assert usage.usage_refresh_all() == 2
    many = few + [provisioned(f"Many Dental {i}") for i in range(5)]
    fail_usage_of(sandbox, many[-1])
    sandbox._call("DELETE", "requests")
    with CaptureQueriesContext(connection) as big:
        assert usage.usage_refresh_all() == 7

    assert len(big.captured_queries) == len(small.captured_queries)
    asked = sorted(r["path"].split("/")[3] for r in sandbox.api_requests("GET", "/Usage/Records/ThisMonth.json"))
    assert asked == sorted(c.twilio_account_sid for c in many)  # one request per subaccount: no retry of a 400
    kept = {u.clinic_id: u for u in ClinicUsage.objects.all()}
    assert kept[few[0].id].calls == 2 and kept[few[0].id].error == "" and kept[few[0].id].fetched_at is not None
    assert kept[few[1].id].error == "" and kept[few[1].id].fetched_at is not None  # its failure cleared by today's fetch
    assert "20001" in kept[many[-1].id].error and kept[many[-1].id].fetched_at is None
    assert len(kept) == 8
