"""The staff flow in Django admin: provision, release, update webhooks, tick the listing step."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from clinics import services
from clinics.models import ChecklistItem, NumberEvent, NumberState, OnboardingPath, OnboardingStep, path_steps
from tests.factories import ClinicFactory

# Real commits: provisioning is enqueued with transaction.on_commit.
pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = reverse("admin:clinics_clinic_changelist")


def act(client, action, clinics, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [c.pk for c in clinics], **extra}
    return client.post(CHANGELIST, data, follow="apply" in extra)


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def test_provision_action_asks_for_area_code_then_buys_the_number(admin_client, sandbox):
    clinic = ClinicFactory(name="Austin Dental")

    page = act(admin_client, "provision_number", [clinic])

    assert page.status_code == 200
    assert b"area code" in page.content.lower()
    assert b"Austin Dental" in page.content
    assert sandbox.requests() == []

    done = act(admin_client, "provision_number", [clinic], apply="1", area_code="512", friendly_name="Austin Dental")

    assert done.status_code == 200
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.ACTIVE
    assert clinic.twilio_number.startswith("+1512")
    assert any(clinic.twilio_number in m and "is active" in m for m in messages_of(done))
    assert not any(clinic.twilio_number_sid in m for m in messages_of(done))  # the SID is the operators' detail
    assert b"3/10" in done.content  # the changelist shows the checklist progress
    assert len(sandbox.owned_numbers()) == 1
    event = NumberEvent.objects.get(clinic=clinic, kind=NumberEvent.Kind.PROVISION_REQUESTED)
    assert event.actor.username == "admin"

    detail = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk]))
    body = detail.content.decode()
    assert clinic.twilio_number in body and clinic.twilio_number_sid in body
    assert "3/10" in body
    assert "https://dentsignal.example.com/inbound/voice" in body


@pytest.mark.parametrize("area_code", ["", "12", "abcd", "012", "<script>"])
def test_provision_action_rejects_bad_area_code_and_buys_nothing(admin_client, sandbox, area_code):
    clinic = ClinicFactory()

    page = act(admin_client, "provision_number", [clinic], apply="1", area_code=area_code)

    assert page.status_code == 200
    assert page.context["form"].errors["area_code"]
    assert b"<script>" not in page.content
    assert sandbox.requests() == []
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.NONE


def test_provision_action_skips_clinics_that_have_a_number_and_says_why(admin_client, sandbox):
    has_one, fresh = ClinicFactory(name="Has One"), ClinicFactory(name="Fresh")
    act(admin_client, "provision_number", [has_one], apply="1", area_code="512")

    done = act(admin_client, "provision_number", [has_one, fresh], apply="1", area_code="512")

    texts = messages_of(done)
    assert any("Skipped" in m and "Has One" in m and "already has the number" in m for m in texts)
    fresh.refresh_from_db()
    assert fresh.number_state == NumberState.ACTIVE
    assert len(sandbox.owned_numbers()) == 2


def test_provision_action_for_clinics_that_cannot_get_a_number_asks_twilio_nothing(admin_client, sandbox):
    has_one = ClinicFactory(name="Has One")
    act(admin_client, "provision_number", [has_one], apply="1", area_code="512")
    asked = len(sandbox.requests())

    done = act(admin_client, "provision_number", [has_one], apply="1", area_code="512")

    assert any("Skipped" in m and "already has the number" in m for m in messages_of(done))
    assert len(sandbox.requests()) == asked, "no search for sale: no clinic could have bought"


def test_nothing_for_sale_is_said_and_leaves_the_clinic_unchanged(admin_client, sandbox):
    # Issue 16: an area code with nothing for sale no longer marks the clinic Failed.
    sandbox.empty_area_code("907")
    clinic = ClinicFactory(name="Juneau Dental")

    done = act(admin_client, "provision_number", [clinic], apply="1", area_code="907")

    body = done.content.decode()
    assert "No numbers with voice and SMS are for sale in area code 907" in body
    assert 'id="buy-button"' not in body and "clinic is unchanged" in body
    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.NONE and not clinic.number_error
    assert not NumberEvent.objects.filter(clinic=clinic).exists()
    assert sandbox.api_requests("POST", "IncomingPhoneNumbers") == []


def test_release_action_confirms_then_releases(admin_client, sandbox):
    clinic = ClinicFactory(name="Closing Dental")
    act(admin_client, "provision_number", [clinic], apply="1", area_code="512")
    clinic.refresh_from_db()
    number = clinic.twilio_number

    confirm = act(admin_client, "release_number", [clinic])

    assert confirm.status_code == 200
    assert number.encode() in confirm.content
    assert len(sandbox.owned_numbers()) == 1

    done = act(admin_client, "release_number", [clinic], apply="1")

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.RELEASED and clinic.twilio_number is None
    assert sandbox.owned_numbers() == []
    assert any("released" in m for m in messages_of(done))
    assert NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.RELEASED, phone_number=number).exists()


def test_release_action_skips_clinics_without_a_number(admin_client, sandbox):
    clinic = ClinicFactory(name="No Number Dental")

    done = act(admin_client, "release_number", [clinic], apply="1")

    assert any("No Number Dental" in m and "no number to release" in m for m in messages_of(done))
    assert sandbox.requests() == []


def test_update_webhooks_action_resets_drifted_webhooks(admin_client, sandbox, settings, expected_webhooks):
    clinic = ClinicFactory()
    act(admin_client, "provision_number", [clinic], apply="1", area_code="512")
    settings.API_BASE_URL = "https://new-host.example.com"

    done = act(admin_client, "update_webhooks", [clinic], apply="1")

    assert any("Webhook update started" in m for m in messages_of(done))
    (owned,) = sandbox.owned_numbers()
    assert owned["voice_url"] == "https://new-host.example.com/inbound/voice"
    clinic.refresh_from_db()
    assert clinic.twilio_webhooks["sms"] == "https://new-host.example.com/api/sms/inbound"


def test_listing_step_is_ticked_by_staff(admin_client, sandbox):
    clinic = ClinicFactory()
    act(admin_client, "provision_number", [clinic], apply="1", area_code="512")
    # Issue 16: the listing comes after the test call and SMS (clinics.models.STEP_REQUIRES).
    act(admin_client, "mark_listing_updated", [clinic], apply="1")
    assert not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.UPDATE_LISTING).exists()
    for step in (OnboardingStep.TEST_INBOUND_CALL, OnboardingStep.TEST_INBOUND_SMS):
        services.clinic_checklist_tick(clinic_id=clinic.id, step=step)

    act(admin_client, "mark_listing_updated", [clinic], apply="1")

    item = ChecklistItem.objects.get(clinic=clinic, step=OnboardingStep.UPDATE_LISTING)
    assert item.done_by.username == "admin"
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk]))
    assert b"6/10" in page.content  # 10 steps: A2P registration (issue 15), HIPAA account (issue 24)


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_non_staff_cannot_reach_the_clinic_admin(client, django_user_model):
    # force_login: django-axes wants the request that client.login() does not pass to authenticate().
    client.force_login(django_user_model.objects.create_user(username="patient", password="pw-patient-1234"))

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_clinic_page_provisions_a_picked_number_and_shows_the_next_step(admin_client, sandbox):
    clinic = ClinicFactory(name="Pick Dental")
    page_url = reverse("admin:clinics_clinic_provision", args=[clinic.pk])

    listing = admin_client.post(page_url, {"search": "1", "area_code": "512"})

    assert b"Numbers for sale in area code 512" in listing.content and b"Austin" in listing.content
    assert sandbox.owned_numbers() == []
    pick = listing.context["for_sale"].numbers[3].phone_number

    done = admin_client.post(page_url, {"apply": "1", "area_code": "512", "phone_number": pick}, follow=True)

    clinic.refresh_from_db()
    assert clinic.twilio_number == pick
    assert done.request["PATH_INFO"] == reverse("admin:clinics_clinic_change", args=[clinic.pk])
    assert b"Test an inbound call" in done.content


def test_a_picked_number_outside_the_area_code_is_refused(admin_client, sandbox):
    clinic = ClinicFactory()

    page = admin_client.post(
        reverse("admin:clinics_clinic_provision", args=[clinic.pk]),
        {"apply": "1", "area_code": "512", "phone_number": "+17375550100"},
    )

    assert page.status_code == 200 and "not in area code 512" in str(page.context["form"].errors)
    assert sandbox.requests() == []


def test_clinic_list_filters_by_checklist_completion(admin_client, sandbox):
    done = ClinicFactory(name="Done Dental")
    act(admin_client, "provision_number", [done], apply="1", area_code="512")
    # Through the service: it keeps the list's checklist_done counter with the rows.
    for step in path_steps(OnboardingPath.NEW_NUMBER):
        services.clinic_checklist_tick(clinic_id=done.id, step=step)
    ClinicFactory(name="Fresh Dental")

    complete = admin_client.get(CHANGELIST, {"checklist": "complete"}).content
    incomplete = admin_client.get(CHANGELIST, {"checklist": "incomplete"}).content

    assert b"Done Dental" in complete and b"Fresh Dental" not in complete
    assert b"Fresh Dental" in incomplete and b"Done Dental" not in incomplete
    done.refresh_from_db()
    assert b"Done Dental" in admin_client.get(CHANGELIST, {"q": done.twilio_number}).content


def test_listing_button_on_the_clinic_page(admin_client, sandbox):
    clinic = ClinicFactory()
    act(admin_client, "provision_number", [clinic], apply="1", area_code="512")
    for step in (OnboardingStep.TEST_INBOUND_CALL, OnboardingStep.TEST_INBOUND_SMS):  # what the listing waits for
        services.clinic_checklist_tick(clinic_id=clinic.id, step=step)

    assert admin_client.get(reverse("admin:clinics_clinic_listing_done", args=[clinic.pk])).status_code == 405
    admin_client.post(reverse("admin:clinics_clinic_listing_done", args=[clinic.pk]))

    assert ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.UPDATE_LISTING).exists()


@pytest.mark.parametrize(
    ("sandbox_twilio", "hint"),
    [(True, "press Simulate test call / SMS"), (False, "call (512) 555-0100 from any phone")],
)
def test_the_test_call_hint_is_one_staff_can_follow(admin_client, sandbox, settings, sandbox_twilio, hint):
    """Issue 16: the sandbox's numbers cannot be called from a phone, so the demo points at its button."""
    clinic = ClinicFactory()
    act(admin_client, "provision_number", [clinic], apply="1", area_code="512")
    settings.TWILIO_SANDBOX = sandbox_twilio

    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()

    assert "Next step" in page and hint in page


def test_several_clinics_search_by_area_code_only_and_the_confirm_says_one_number_each(admin_client, sandbox):
    first, second = ClinicFactory(name="North Dental"), ClinicFactory(name="South Dental")

    by_city = act(admin_client, "provision_number", [first, second], search="1", in_locality="Austin", in_region="TX")

    body = by_city.content.decode()
    assert "Several clinics at once take an area code" in body and "provision one clinic at a time" in body
    assert 'name="in_locality"' not in body and "for_sale" not in by_city.context
    assert sandbox.api_requests("GET", "AvailablePhoneNumbers") == []

    confirm = act(admin_client, "provision_number", [first, second], confirm="1", area_code="512")

    summary = confirm.content.decode()
    assert (
        "for each of these 2 clinics, one number each: <strong>North Dental</strong>, <strong>South Dental</strong>?" in summary
    )
    assert "Buy one number" not in summary
    assert sandbox.owned_numbers() == []


def test_a_failure_links_twilios_page_in_the_message_and_the_next_step(admin_client, sandbox):
    """Issue 22: Twilio links in staff sentences are clickable (they were plain text)."""
    clinic = ClinicFactory(name="Linked Dental")
    sandbox.fault(path="IncomingPhoneNumbers.json", status=400, code=21421, message="PhoneNumber is invalid")

    done = act(admin_client, "provision_number", [clinic], apply="1", area_code="512", friendly_name="")

    link = '<a href="https://www.twilio.com/docs/errors/21421" target="_blank" rel="noopener">'
    assert link in done.content.decode()
    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()
    assert "<strong>Failed:</strong> The phone number picked is not one Twilio can sell" in page
    assert link in page and "&lt;a href" not in page


def test_the_number_error_field_links_twilios_page_too(admin_client):
    """Issue 22: the clinic page's "Last error" field showed Twilio's link as plain text."""
    clinic = ClinicFactory(
        name="Field Dental",
        number_state=NumberState.FAILED,
        number_error="The phone number picked is not one Twilio can sell (https://www.twilio.com/docs/errors/21421).",
    )

    page = admin_client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()

    field = page.split('class="form-row field-number_error_display"', 1)[1].split("</div>\n</div>", 1)[0]
    assert '<a href="https://www.twilio.com/docs/errors/21421" target="_blank" rel="noopener">' in field


def test_green_is_kept_for_what_is_done_and_what_is_under_way_looks_neutral(admin_client, sandbox):
    """Issue 22: Django shows every INFO message with the green tick, so "started; refresh to
    see the result" looked like success. Done is SUCCESS (green); under way is INFO, drawn
    neutral on every admin page; skipped and failed are WARNING and ERROR."""
    clinic = ClinicFactory(name="Green Dental")

    done = act(admin_client, "provision_number", [clinic], apply="1", area_code="512", friendly_name="")

    assert [(m.level_tag, str(m)) for m in done.context["messages"]] == [
        ("success", f"Green Dental: number {clinic.__class__.objects.get(pk=clinic.pk).twilio_number} is active.")
    ]
    page = done.content.decode()
    assert "ul.messagelist li.info" in page and "icon-unknown.svg" in page
    other_admin = admin_client.get(reverse("admin:clinics_appointment_changelist")).content.decode()
    assert "ul.messagelist li.info" in other_admin
