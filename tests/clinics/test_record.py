"""Issue 16, "A truthful record": the clinic's time zone and one date format, checklist
ticks and unticks as number-history events, checklist runs across a release, steps in
order, the History button, and the clinic list's fixed query count."""

import datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinics import services
from clinics.dates import datetime_for_people, time_zone_for_number
from clinics.models import ChecklistItem, Clinic, NumberEvent, NumberState, OnboardingStep
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = reverse("admin:clinics_clinic_changelist")


def provisioned(admin_client, name="Austin Dental"):
    clinic = ClinicFactory(name=name)
    data = {"action": "provision_number", ACTION_CHECKBOX_NAME: [clinic.pk], "apply": "1", "area_code": "512"}
    admin_client.post(CHANGELIST, data)
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE
    return clinic


def events(clinic, kind):
    return list(NumberEvent.objects.filter(clinic=clinic, kind=kind).order_by("id"))


# ------------------------------------------------------------------ time zone and date format


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_time_zone_is_guessed_from_the_area_code_only_when_it_is_one_zone():
    assert time_zone_for_number("+15125550100") == "America/Chicago"  # Austin
    assert time_zone_for_number("+12125550100") == "America/New_York"
    assert time_zone_for_number("+15555550100") == ""  # no region known
    assert time_zone_for_number("not a number") == ""


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_one_date_format_in_the_clinic_zone_with_its_abbreviation():
    moment = datetime.datetime(2026, 12, 2, 17, 5, tzinfo=datetime.UTC)
    assert datetime_for_people(moment, "America/Chicago") == "2 Dec 2026, 11:05 CST"
    assert datetime_for_people(moment, "America/New_York") == "2 Dec 2026, 12:05 EST"
    assert datetime_for_people(moment, "") == "2 Dec 2026, 17:05 UTC"  # the server's zone
    assert datetime_for_people(None, "America/Chicago") == "—"


def test_provisioning_sets_the_zone_and_the_clinic_page_shows_dates_in_it(admin_client, sandbox):
    clinic = provisioned(admin_client)
    assert clinic.time_zone == "America/Chicago"

    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()

    assert datetime_for_people(clinic.number_state_changed_at, "America/Chicago") in page
    assert " CST" in page and " UTC" not in page


def test_a_wrong_time_zone_name_is_refused_with_a_sentence(admin_client):
    clinic = ClinicFactory(name="Zone Dental")
    url = reverse("admin:clinics_clinic_change", args=[clinic.pk])

    page = admin_client.post(
        url,
        {
            "name": "Zone Dental",
            "office_phone": "",
            "time_zone": "Mars/Olympus",
            "number_events-TOTAL_FORMS": "0",
            "number_events-INITIAL_FORMS": "0",
        },
    )

    assert page.status_code == 200
    assert "is not a time zone name" in page.content.decode()
    clinic.refresh_from_db()
    assert clinic.time_zone == ""


# ------------------------------------------------------------------ ticks, unticks, runs


def test_ticks_are_history_events_naming_who_and_the_system(admin_client, sandbox, admin_user):
    clinic = provisioned(admin_client)

    ticked = events(clinic, NumberEvent.Kind.CHECKLIST_TICKED)

    assert [e.detail for e in ticked] == [
        "Buy a Twilio number (run 1)",
        "Save the number to the clinic (run 1)",
        "Save the number's SID to the clinic (run 1)",
    ]
    assert all(e.actor is None for e in ticked)
    clinic.refresh_from_db()
    assert clinic.checklist_done == 3


def test_listing_is_refused_before_the_tests_with_the_steps_it_waits_for(admin_client, sandbox, admin_user):
    clinic = provisioned(admin_client)

    with pytest.raises(services.ClinicInputError, match="comes after: Test an inbound call, Test an inbound SMS"):
        services.clinic_checklist_tick(clinic_id=clinic.id, step=OnboardingStep.UPDATE_LISTING, actor=admin_user)

    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()
    assert "to do, after: Test an inbound call, Test an inbound SMS" in page
    assert "listing-done-button" not in page
    assert not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.UPDATE_LISTING).exists()


def test_untick_needs_a_reason_and_is_a_history_event(admin_client, sandbox, admin_user):
    clinic = provisioned(admin_client)
    services.clinic_checklist_tick(clinic_id=clinic.id, step=OnboardingStep.TEST_INBOUND_CALL)
    url = reverse("admin:clinics_clinic_untick", args=[clinic.pk, OnboardingStep.TEST_INBOUND_CALL])

    form = admin_client.get(url)
    refused = admin_client.post(url, {"reason": "  "})

    assert form.status_code == 200 and b"Reason" in form.content
    assert refused.status_code == 200 and b"This field is required" in refused.content
    assert ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.TEST_INBOUND_CALL).exists()

    done = admin_client.post(url, {"reason": "the test call went to the old number"})

    assert done.status_code == 302
    assert not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.TEST_INBOUND_CALL).exists()
    (untick,) = events(clinic, NumberEvent.Kind.CHECKLIST_UNTICKED)
    assert untick.actor == admin_user
    assert untick.detail == "Test an inbound call (run 1): the test call went to the old number"
    clinic.refresh_from_db()
    assert clinic.checklist_done == 3
    # Again: nothing to untick, nothing changes, and the page says so.
    again = admin_client.post(url, {"reason": "again"}, follow=True)
    assert "was not ticked; nothing changed" in again.content.decode()
    assert len(events(clinic, NumberEvent.Kind.CHECKLIST_UNTICKED)) == 1


def test_untick_needs_its_permission(client, django_user_model, admin_client, sandbox):
    clinic = provisioned(admin_client)
    user = django_user_model.objects.create_user(username="viewer", password="pw-viewer-1234", is_staff=True)
    viewer = Client()
    viewer.force_login(user)
    url = reverse("admin:clinics_clinic_untick", args=[clinic.pk, OnboardingStep.BUY_NUMBER])

    assert viewer.post(url, {"reason": "no"}).status_code == 403
    assert ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.BUY_NUMBER).exists()
    # The link is offered only with the power: a clinic clerk sees the ticks, not "Untick…".
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_clinic"))
    services.clinic_checklist_tick(clinic_id=clinic.id, step=OnboardingStep.TEST_INBOUND_CALL)
    page = reverse("admin:clinics_clinic_change", args=[clinic.pk])
    assert "4/10" in viewer.get(page).content.decode() and "untick-link" not in viewer.get(page).content.decode()
    assert "untick-link" in admin_client.get(page).content.decode()


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_onboarding_staff_may_untick(staff_user, admin_client, sandbox):
    assert staff_user.has_perm("clinics.untick_checklist_step")


def test_release_starts_a_new_run_and_keeps_the_ticks_in_the_history(admin_client, sandbox):
    clinic = provisioned(admin_client)
    number = clinic.twilio_number
    data = {"action": "release_number", ACTION_CHECKBOX_NAME: [clinic.pk], "apply": "1"}

    admin_client.post(CHANGELIST, data)

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.RELEASED
    assert (clinic.checklist_run, clinic.checklist_done) == (2, 0)
    assert len(events(clinic, NumberEvent.Kind.CHECKLIST_TICKED)) == 3  # run 1's ticks kept
    (run,) = events(clinic, NumberEvent.Kind.CHECKLIST_RUN_STARTED)
    assert run.phone_number == number and "run 1 ended with 3/10" in run.detail
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()
    assert "0/10</strong> done · run 2 since" in page


def test_history_button_lists_the_number_history(admin_client, sandbox):
    clinic = provisioned(admin_client)
    services.clinic_checklist_tick(clinic_id=clinic.id, step=OnboardingStep.TEST_INBOUND_CALL)
    admin_client.post(
        reverse("admin:clinics_clinic_untick", args=[clinic.pk, OnboardingStep.TEST_INBOUND_CALL]), {"reason": "wrong phone"}
    )

    page = admin_client.get(reverse("admin:clinics_clinic_history", args=[clinic.pk])).content.decode()

    assert "Number history" in page
    for label in ("Provisioning requested", "Number bought", "Checklist step ticked", "Checklist step unticked", "wrong phone"):
        assert label in page
    assert " CST" in page
    assert "This object doesn’t have a change history" not in page.split("Edits in the admin")[0]


# ------------------------------------------------------------------ the list at any size


def many(start, count):
    Clinic.objects.bulk_create(
        [
            Clinic(name=f"Bulk {i:05d}", twilio_number=f"+1512555{i:04d}", number_state="active", checklist_done=i % 7)
            for i in range(start, start + count)
        ]
    )


LIST_QUERIES = [
    {},
    {"number_state__exact": "active"},
    {"checklist": "complete"},
    {"checklist": "incomplete"},
    {"q": "Bulk 0001"},
    {"o": "5"},
]


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
@pytest.mark.parametrize("params", LIST_QUERIES)
def test_clinic_list_costs_the_same_queries_at_5_and_50_clinics(admin_client, params):
    admin_client.get(CHANGELIST)  # warm the session and content types
    counts = []
    for start, size in ((0, 5), (5, 45)):  # 5 clinics, then 50
        many(start, size)
        with CaptureQueriesContext(connection) as captured:
            page = admin_client.get(CHANGELIST, params)
        assert page.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 6, [q["sql"] for q in captured.captured_queries]


def test_a_cancelled_reservation_is_recorded_as_such_not_as_failed():
    clinic = ClinicFactory(name="Reserve Dental", number_state=NumberState.PROVISIONING, requested_area_code="512")
    services.clinic_number_reserve(clinic_id=clinic.id, phone_number="+15125550123")

    services.clinic_number_unreserve(clinic_id=clinic.id, phone_number="+15125550123", reason="sold to someone else")

    (event,) = NumberEvent.objects.filter(clinic=clinic, phone_number="+15125550123").exclude(kind=NumberEvent.Kind.RESERVED)
    assert (event.kind, event.get_kind_display(), event.detail) == (
        "reservation_cancelled",
        "Reservation cancelled",
        "sold to someone else",
    )
    assert not NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.FAILED).exists()
