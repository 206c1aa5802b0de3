"""Issue 23, path 4: text-enabling the clinic's existing line (hosted SMS) against the sandbox
Twilio, through the real SDK: the setting that keeps it off, the eligibility check, one
order per number, its statuses with the next action, completion, the audit, the permission."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils.html import escape, strip_tags

from clinics import services
from clinics.models import BusinessProfile, Clinic, HostedOrder, NumberEvent, NumberState, OnboardingPath, OnboardingStep
from clinics.phone import phone_format_national
from telephony import task_names, twilio
from telephony.models import CallLog
from telephony.numbers import audit, hosted, provisioning, release
from telephony.webhooks import hot_path
from tests.factories import ClinicFactory
from tests.telephony.a2p.conftest import business_profile_data
from tests.telephony.webhooks.twilio_requests import SMS, VOICE, call_params, signed_post
from twilio_sandbox import SANDBOX_ACCOUNT_SID

pytestmark = pytest.mark.django_db

PUBLISHED = "+15125557000"
SMS_URL = "/api/sms/inbound"


@pytest.fixture
def hosted_on(settings: Any) -> None:
    settings.TWILIO_HOSTED_SMS_ENABLED = True


@pytest.fixture
def clinic(sandbox: Any, hosted_on: None) -> Clinic:
    """A clinic on the text-enable path with its business profile (the signer and the address)."""
    clinic = ClinicFactory(name="Lake Dental")
    BusinessProfile.objects.create(clinic=clinic, **business_profile_data())
    services.clinic_onboarding_path_set(
        clinic_id=clinic.id, path=OnboardingPath.TEXT_ENABLE, published_number=PUBLISHED, actor=None
    )
    return clinic


@pytest.fixture(name="start")
def start_fixture(django_capture_on_commit_callbacks: Any) -> Any:
    """Start the clinic's order as the click does, its place task run (eagerly) after commit."""

    def run(clinic: Clinic) -> HostedOrder:
        with django_capture_on_commit_callbacks(execute=True):
            order = hosted.hosted_order_start(clinic_id=clinic.id, actor=None)
        order.refresh_from_db()
        return order

    return run


def move(sandbox: Any, order: HostedOrder, status: str, reason: str = "") -> None:
    sandbox._call("POST", "hosted-order-status", {"sid": order.sid, "status": status, "failure_reason": reason})


def page(client: Any, clinic: Clinic) -> str:
    return client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()


def start_url(clinic: Clinic) -> str:
    return reverse("admin:clinics_clinic_text_enable", args=[clinic.pk])


def test_with_hosted_sms_off_the_path_is_refused_with_a_sentence_naming_no_setting(admin_client, sandbox):
    clinic = ClinicFactory()
    url = reverse("admin:clinics_clinic_onboarding_path", args=[clinic.pk])

    response = admin_client.post(url, {"path": "text_enable", "published_number": PUBLISHED})

    body = response.content.decode()
    assert escape("Text-enabling the existing line is not available yet") in body and "TWILIO_" not in body
    clinic.refresh_from_db()
    assert clinic.onboarding_path == OnboardingPath.NEW_NUMBER
    with pytest.raises(services.ClinicInputError, match="not available yet") as refused:
        hosted.hosted_order_start(clinic_id=clinic.id, actor=None)
    assert "TWILIO_" not in str(refused.value)
    assert not sandbox.api_requests(path_contains="HostedNumber")


def test_an_ineligible_number_is_said_in_words_and_orders_nothing(clinic, sandbox):
    sandbox.seed_numbers([{"phone_number": PUBLISHED}])  # already at Twilio for voice

    with pytest.raises(services.ClinicInputError) as refused:
        hosted.hosted_order_start(clinic_id=clinic.id, actor=None)

    assert "cannot text-enable this number (already in twilio)" in str(refused.value)
    assert "ALREADY_IN_TWILIO" not in str(refused.value)
    assert not HostedOrder.objects.exists()
    assert not sandbox.api_requests("POST", "/v2/HostedNumber/Orders")


def test_the_order_goes_in_the_clinics_subaccount_with_our_sms_webhooks(clinic, sandbox, expected_webhooks, start):
    order = start(clinic)

    clinic.refresh_from_db()
    assert order.sid.startswith("HR") and order.status == "twilio-processing"
    [_eligibility] = sandbox.api_requests("POST", "/v1/HostedNumber/Eligibility")
    [create] = sandbox.api_requests("POST", "/v2/HostedNumber/Orders")
    form = create["form"]
    assert clinic.twilio_account_sid and form["AccountSid"] == clinic.twilio_account_sid != SANDBOX_ACCOUNT_SID
    assert form["PhoneNumber"] == PUBLISHED and form["FriendlyName"].endswith(f"(clinic #{clinic.pk})")
    assert form["SmsUrl"] == expected_webhooks["sms"] and form["SmsUrl"].endswith(SMS_URL)
    assert form["SmsFallbackUrl"].endswith("/api/sms/inbound/fallback")
    assert (form["Email"], form["ContactPhoneNumber"]) == ("dana@austinsmiles.example.com", "+15125550188")
    assert form["AddressSid"].startswith("AD")


def test_a_double_click_or_a_retried_task_makes_one_order(clinic, sandbox, start):
    first = start(clinic)
    again = start(clinic)
    hosted.hosted_order_place(clinic_id=clinic.id)

    assert again.pk == first.pk
    assert len(sandbox.api_requests("POST", "/v2/HostedNumber/Orders")) == 1


def test_a_lost_answer_is_found_again_by_number_and_name_instead_of_ordering_twice(
    clinic, sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the place task is lost...
        hosted.hosted_order_start(clinic_id=clinic.id, actor=None)
    order = HostedOrder.objects.get(clinic=clinic)
    # ... after Twilio made the order (its answer never came back).
    made = twilio.hosted_order_create(
        account_sid=SANDBOX_ACCOUNT_SID,
        phone_number=PUBLISHED,
        friendly_name=order.friendly_name,
        contact_phone_number="+15125550188",
        contact_title="Office manager",
        email="dana@austinsmiles.example.com",
        address_sid="AD" + "0" * 32,
        sms_url="https://x.example/api/sms/inbound",
        sms_fallback_url="https://x.example/api/sms/inbound/fallback",
    )

    placed = hosted.hosted_order_place(clinic_id=clinic.id)

    assert placed.sid == made.sid
    assert len(sandbox.api_requests("POST", "/v2/HostedNumber/Orders")) == 1


def test_statuses_are_followed_with_the_next_action_and_completion_makes_the_number_the_clinics(
    clinic, sandbox, admin_client, start
):
    order = start(clinic)
    body = page(admin_client, clinic)
    # While Twilio works on the order, the next action is the forwarding target's.
    assert "with Twilio, being processed" in body
    assert "Provision a number (button above): the number (512) 555-7000 will forward its calls to." in body

    move(sandbox, order, "pending-loa")
    assert hosted.hosted_orders_poll() == 1
    order.refresh_from_db()
    body = page(admin_client, clinic)
    assert order.signing_document_sid.startswith("PX") and order.signing_document_sid in body
    assert "Sign the authorization: Twilio e-mailed it to dana@austinsmiles.example.com" in body
    section = body.split("id='onboarding-path'")[1].split("operator-detail")[0]
    assert "pending-loa" not in strip_tags(section)  # the status in words; Twilio's token in the history only

    move(sandbox, order, "action-required", "The signer's name does not match the carrier's record")
    hosted.hosted_orders_poll()
    assert "Twilio needs action on the texting order" in page(admin_client, clinic)
    [finding] = [f for f in audit.number_audit().findings if f.code == "hosted_order_action_required"]
    assert finding.clinic_id == clinic.id and "does not match" in finding.message

    move(sandbox, order, "completed")
    hosted.hosted_orders_poll()

    clinic.refresh_from_db()
    order.refresh_from_db()
    assert clinic.twilio_number == PUBLISHED and clinic.twilio_number_sid and clinic.number_state == NumberState.ACTIVE
    assert order.completed_at is not None
    done = set(clinic.checklist_items.values_list("step", flat=True))
    assert {OnboardingStep.BUY_NUMBER, OnboardingStep.SAVE_NUMBER, OnboardingStep.SAVE_SID} <= done
    assert not [f for f in audit.number_audit().findings if f.sid == clinic.twilio_number_sid]  # SMS only, as expected
    details = list(NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.HOSTED_ORDER).values_list("detail", flat=True))
    assert any("(Twilio: completed)" in d for d in details)
    assert hosted.hosted_orders_poll() == 0  # followed no more
    assert "&lt;p id=" not in page(admin_client, clinic)  # the completed order's standing is HTML, not escaped text


def test_completion_calls_the_number_change_hook(clinic, sandbox, monkeypatch, start):
    called = []
    monkeypatch.setattr(hosted, "clinic_number_changed", lambda *, clinic_id: called.append(clinic_id))
    order = start(clinic)
    move(sandbox, order, "completed")

    hosted.hosted_order_poll(clinic_id=clinic.id)
    hosted.hosted_order_poll(clinic_id=clinic.id)

    assert called == [clinic.id, clinic.id]
    assert Clinic.objects.get(pk=clinic.id).twilio_number == PUBLISHED


def test_starting_an_order_takes_the_onboarding_staff_permission(
    client, django_user_model, clinic, sandbox, django_capture_on_commit_callbacks
):
    user = django_user_model.objects.create_user(username="clerk", password="pw-clerk-1234", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_clinic", "change_clinic"]))
    client.force_login(user)
    assert "text-enable-button" not in page(client, clinic)
    assert client.post(start_url(clinic)).status_code == 403
    assert not HostedOrder.objects.exists()

    user.user_permissions.add(Permission.objects.get(codename="keep_existing_number"))
    assert "text-enable-button" in page(client, clinic)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(start_url(clinic), follow=True)

    assert "texting for the published number is ordered" in response.content.decode()
    assert HostedOrder.objects.get(clinic=clinic).sid


def test_the_path_cannot_change_while_the_order_stands(clinic, sandbox, start):
    start(clinic)
    with pytest.raises(services.ClinicInputError, match="ordered at Twilio"):
        services.clinic_onboarding_path_set(clinic_id=clinic.id, path=OnboardingPath.NEW_NUMBER, actor=None)


def test_the_place_and_poll_tasks_are_named():
    assert {task_names.HOSTED_ORDER_PLACE, task_names.HOSTED_ORDERS_POLL} <= task_names.all_task_names()


def cancel_url(clinic: Clinic) -> str:
    return reverse("admin:clinics_clinic_text_enable_cancel", args=[clinic.pk])


def test_cancelling_the_order_takes_the_permission_a_confirmation_and_twilios_received_status(
    client, django_user_model, clinic, sandbox, start
):
    order = start(clinic)
    user = django_user_model.objects.create_user(username="clerk", password="pw-clerk-1234", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_clinic", "change_clinic"]))
    client.force_login(user)
    move(sandbox, order, "received")
    client.post(reverse("admin:clinics_clinic_text_enable_check", args=[clinic.pk]))
    assert "text-enable-cancel-button" not in page(client, clinic)
    assert client.get(cancel_url(clinic)).status_code == 403
    assert client.post(cancel_url(clinic), {"apply": "1"}).status_code == 403

    user.user_permissions.add(Permission.objects.get(codename="keep_existing_number"))
    assert "text-enable-cancel-button" in page(client, clinic)
    confirm = client.get(cancel_url(clinic)).content.decode()
    assert "confirm-text-enable-cancel" in confirm and "(512) 555-7000" in confirm
    assert HostedOrder.objects.filter(clinic=clinic).exists()  # the confirmation page changes nothing

    done = strip_tags(client.post(cancel_url(clinic), {"apply": "1"}, follow=True).content.decode())
    assert "the texting order for (512) 555-7000 was cancelled at Twilio." in done
    assert not HostedOrder.objects.filter(clinic=clinic).exists()
    assert sandbox.api_requests("DELETE", f"/v2/HostedNumber/Orders/{order.sid}")[0]["status"] == 204
    event = NumberEvent.objects.filter(clinic=clinic, kind=NumberEvent.Kind.HOSTED_ORDER).order_by("-id").first()
    assert "cancelled at Twilio" in event.detail and event.actor == user
    # The path may change again, and a new order may be placed.
    services.clinic_onboarding_path_set(clinic_id=clinic.id, path=OnboardingPath.NEW_NUMBER, actor=None)


def test_an_order_past_received_is_not_cancelled_and_says_why(admin_client, clinic, sandbox, start):
    order = start(clinic)
    move(sandbox, order, "pending-loa")
    admin_client.post(reverse("admin:clinics_clinic_text_enable_check", args=[clinic.pk]))
    assert "text-enable-cancel-button" not in page(admin_client, clinic)
    assert "confirm-text-enable-cancel" not in admin_client.get(cancel_url(clinic)).content.decode()
    said = strip_tags(admin_client.post(cancel_url(clinic), {"apply": "1"}, follow=True).content.decode())
    assert "only while it has just been received" in said and "waiting for the authorization to be signed" in said
    assert "HR" not in said.split("only while")[0][-200:]
    assert HostedOrder.objects.get(clinic=clinic).status == "pending-loa"
    assert sandbox.api_requests("DELETE", f"/v2/HostedNumber/Orders/{order.sid}") == []


def test_a_stale_received_status_is_fetched_again_when_twilio_refuses(clinic, sandbox, start):
    order = start(clinic)
    move(sandbox, order, "received")
    hosted.hosted_order_poll(clinic_id=clinic.id)
    move(sandbox, order, "pending-loa")  # moved on at Twilio since our last look
    with pytest.raises(services.ClinicInputError, match="waiting for the authorization to be signed"):
        hosted.hosted_order_cancel(clinic_id=clinic.id, actor=None)
    assert HostedOrder.objects.get(clinic=clinic).status == "pending-loa"


def test_text_enabled_and_forwarded_the_clinic_goes_live_with_both_numbers_known_and_released(
    clinic, sandbox, admin_client, start, django_capture_on_commit_callbacks
):
    """The combined path: the forwarding target bought as today (a double click buys one), the
    forward proven by ForwardedFrom, the texting order completed: the published number texts,
    the bought one stays the voice number; calls to it reach the clinic, the audit knows both,
    the SMS test is asked again of the published number, and a release releases both."""
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")
    with pytest.raises(services.ClinicNumberError):  # the double click: the clinic holds its number
        provisioning.clinic_number_provision_request(clinic_id=clinic.id, area_code="512")
    clinic.refresh_from_db()
    target, target_sid = clinic.twilio_number, clinic.twilio_number_sid
    assert target and len(sandbox.owned_numbers()) == 1
    body = strip_tags(page(admin_client, clinic))
    assert f"forward its calls to {phone_format_national(target)}" in body

    order = start(clinic)  # the Twilio number held is the forwarding target: the order goes ahead
    assert order.sid
    signed_post(admin_client, VOICE, {**call_params(to=target), "ForwardedFrom": PUBLISHED})
    step = clinic.checklist_items.get(step=OnboardingStep.PUBLISHED_LINE)
    assert "a call forwarded from (512) 555-7000" in step.note
    services.clinic_checklist_tick(clinic_id=clinic.id, step=OnboardingStep.TEST_INBOUND_SMS)

    move(sandbox, order, "completed")
    hosted.hosted_order_poll(clinic_id=clinic.id)
    clinic.refresh_from_db()
    assert (clinic.twilio_number, clinic.voice_number, clinic.voice_number_sid) == (PUBLISHED, target, target_sid)
    done = set(clinic.checklist_items.values_list("step", flat=True))
    assert OnboardingStep.TEST_INBOUND_SMS not in done and OnboardingStep.PUBLISHED_LINE in done
    assert "Test an inbound SMS" in strip_tags(page(admin_client, clinic))

    second_call = {**call_params(to=target, sid="CA" + "b" * 32)}
    answered = signed_post(admin_client, VOICE, second_call)
    assert answered.status_code == 200
    assert CallLog.objects.get(call_sid=second_call["CallSid"]).clinic_id == clinic.id
    route = hot_path.clinic_route_get(to_number=target)
    assert route is not None and route.forwarded_line == PUBLISHED  # no loop: the fallback never rings the line
    sms = {"MessageSid": "SM" + "c" * 32, "From": "+15125550999", "To": PUBLISHED, "Body": "hi"}
    assert signed_post(admin_client, SMS, {**sms, "AccountSid": clinic.twilio_account_sid}).status_code == 200

    findings = [f for f in audit.number_audit().findings if f.sid in (target_sid, clinic.twilio_number_sid)]
    assert findings == []

    with django_capture_on_commit_callbacks(execute=True):
        release.clinic_number_release_request(clinic_id=clinic.id)
    clinic.refresh_from_db()
    assert (clinic.twilio_number_sid, clinic.voice_number_sid) == (None, None)
    assert sandbox.owned_numbers() == []
