"""Every staff power is a Django permission: refused without it (nothing sent to Twilio), granted by the group."""

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinics import services
from clinics.models import Appointment, ChecklistItem, Clinic, NumberEvent, NumberState, OnboardingStep, Patient
from telephony.models import ApiToken, AuditRun
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import ClinicFactory
from tests.permissions import onboarding_staff_group, staff_client

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = reverse("admin:clinics_clinic_changelist")
API = "/api/admin/provision-number"

# What README "Staff permissions" promises the group holds.
ONBOARDING_STAFF = {
    "clinics.add_clinic",
    "clinics.change_clinic",
    "clinics.view_clinic",
    "clinics.view_numberevent",
    "clinics.provision_number",
    "clinics.release_number",
    "clinics.update_number_webhooks",
    "clinics.simulate_test_traffic",
    "clinics.untick_checklist_step",  # issue 16: untick with a reason (clinics 0008)
    "clinics.suspend_subaccount",
    "clinics.close_subaccount",
    "clinics.move_to_subaccount",
    # No patients, appointments, message bodies or call records (issue 24: telephony 0013).
    "telephony.view_auditrun",
    "telephony.run_number_audit",
    "telephony.adopt_number",
    # A2P 10DLC registration (issue 15): the business profile, Start registration, Edit and resubmit.
    "clinics.view_businessprofile",
    "clinics.add_businessprofile",
    "clinics.change_businessprofile",
    "clinics.start_a2p_registration",
    "clinics.view_a2pregistration",
    "clinics.view_a2pevent",
    # Keeping the clinic's own number (issue 23): a port-in or a hosted SMS order.
    "clinics.keep_existing_number",
}
# A clerk may edit clinics and appointments but holds none of the powers that reach Twilio.
CLERK = ["clinics.view_clinic", "clinics.change_clinic", "clinics.view_appointment", "clinics.change_appointment"]


@pytest.fixture
def bare(django_user_model):
    """Staff (can log in to the admin) with no permission at all."""
    return staff_client(django_user_model, "bare")


@pytest.fixture
def clerk(django_user_model):
    return staff_client(django_user_model, "clerk", CLERK)


@pytest.fixture
def onboarding(staff_user):
    """A member of the Onboarding staff group (the conftest's staff_user)."""
    client = Client()
    client.force_login(staff_user)
    return client


def holding(sandbox, name="Holding Dental", number="+15125550177"):
    """A clinic that owns a number at (sandbox) Twilio, set up without any REST request."""
    clinic = ClinicFactory(name=name)
    spec = {"phone_number": number, "friendly_name": name, "voice_url": "https://old.example.net/inbound/voice"}
    (sid,) = sandbox.seed_numbers([spec])
    Clinic.objects.filter(pk=clinic.pk).update(twilio_number=number, twilio_number_sid=sid, number_state=NumberState.ACTIVE)
    clinic.refresh_from_db()
    return clinic


def state():
    """What a refused request must leave as it was."""
    return (
        list(Clinic.objects.values_list("id", "number_state", "twilio_number", "pending_number").order_by("id")),
        NumberEvent.objects.count(),
        ChecklistItem.objects.count(),
        AuditRun.objects.count(),
        list(Appointment.objects.values_list("id", "reminder_sent_at").order_by("id")),
    )


@pytest.mark.django_db  # rolls back: needs no real commit (tests/conftest.py checks it)
def test_the_onboarding_staff_group_holds_the_documented_permissions():
    group = onboarding_staff_group()

    held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}

    assert held == ONBOARDING_STAFF


# ------------------------------------------------------------------ admin API


def test_api_refuses_a_staff_token_without_the_permission_and_names_it(client, django_user_model, sandbox):
    user = django_user_model.objects.create_user(username="ops", password="pw-ops-123456", is_staff=True)
    raw = ApiToken.issue(user=user)[1]
    clinic = ClinicFactory()
    before = state()

    posted = client.post(
        API, {"clinic_id": clinic.id, "area_code": "512"}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    status = client.get(f"/api/admin/clinics/{clinic.id}/number", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert posted.status_code == 403 and "clinics.provision_number" in posted.json()["error"]
    assert status.status_code == 403 and "clinics.view_clinic" in status.json()["error"]
    assert state() == before and sandbox.requests() == []


def test_api_refuses_a_staff_session_without_the_permission(bare, sandbox):
    clinic = ClinicFactory()
    before = state()

    response = bare.post(API, {"clinic_id": clinic.id, "area_code": "512"}, content_type="application/json")

    assert response.status_code == 403 and response["Content-Type"] == "application/json"
    assert "Onboarding staff" in response.json()["error"]
    assert state() == before and sandbox.requests() == []


def test_api_provisions_for_onboarding_staff(onboarding, sandbox):
    clinic = ClinicFactory()

    response = onboarding.post(API, {"clinic_id": clinic.id, "area_code": "512"}, content_type="application/json")

    assert response.status_code == 202 and response.json()["state"] == NumberState.ACTIVE
    assert onboarding.get(response["Location"]).status_code == 200
    assert len(sandbox.owned_numbers()) == 1


# ------------------------------------------------------------------ admin actions


@pytest.fixture
def targets(sandbox):
    """One clinic per number action, in the state where the action would act."""
    failed = ClinicFactory(name="Failed Dental", number_state=NumberState.FAILED, requested_area_code="512")
    return {
        "provision_number": (ClinicFactory(name="Fresh Dental"), {"apply": "1", "area_code": "512"}),
        "retry_provisioning": (failed, {}),
        "release_number": (holding(sandbox), {"apply": "1"}),
        "update_webhooks": (holding(sandbox, "Drift Dental", "+15125550178"), {}),
    }


@pytest.mark.parametrize("action", ["provision_number", "retry_provisioning", "release_number", "update_webhooks"])
def test_number_actions_are_neither_offered_nor_run_without_their_permission(clerk, targets, sandbox, action):
    clinic, extra = targets[action]
    before = state()

    offered = dict(clerk.get(CHANGELIST).context["action_form"].fields["action"].choices)
    response = clerk.post(CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [clinic.pk], **extra}, follow=True)

    assert action not in offered and "mark_listing_updated" in offered
    assert response.status_code == 200
    assert any("No action selected" in str(m) for m in response.context["messages"])
    assert state() == before and sandbox.requests() == []


@pytest.mark.parametrize(
    "action", ["provision_number", "retry_provisioning", "release_number", "update_webhooks", "mark_listing_updated"]
)
def test_staff_without_any_permission_cannot_use_the_clinic_list(bare, targets, sandbox, action):
    clinic, extra = targets.get(action, targets["release_number"])
    before = state()

    response = bare.post(CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [clinic.pk], **extra})

    assert response.status_code == 403
    assert state() == before and sandbox.requests() == []


def test_number_actions_run_for_onboarding_staff(onboarding, targets, sandbox):
    fresh, extra = targets["provision_number"]
    drifted, _ = targets["update_webhooks"]

    onboarding.post(CHANGELIST, {"action": "provision_number", ACTION_CHECKBOX_NAME: [fresh.pk], **extra})
    onboarding.post(CHANGELIST, {"action": "update_webhooks", ACTION_CHECKBOX_NAME: [drifted.pk]})

    fresh.refresh_from_db()
    assert fresh.number_state == NumberState.ACTIVE
    voice = {n["sid"]: n["voice_url"] for n in sandbox.owned_numbers()}
    assert voice[drifted.twilio_number_sid] == f"{PUBLIC_BASE_URL}/inbound/voice"


@pytest.fixture
def appointment(sandbox):
    clinic = holding(sandbox, "Reminder Dental", "+15125550179")
    patient = Patient.objects.create(clinic=clinic, name="Pat", phone="+15125550999")
    return Appointment.objects.create(clinic=clinic, patient=patient, starts_at=timezone.now() + dt.timedelta(days=1))


def test_reminders_need_their_own_permission(clerk, django_user_model, appointment, sandbox):
    sender = staff_client(django_user_model, "sender", ["clinics.view_appointment", "clinics.send_appointment_reminder"])
    url = reverse("admin:clinics_appointment_changelist")
    data = {"action": "send_reminders", ACTION_CHECKBOX_NAME: [appointment.pk]}
    before = state()

    refused = clerk.post(url, data, follow=True)

    assert any("No action selected" in str(m) for m in refused.context["messages"])
    assert state() == before and sandbox.requests() == []

    sender.post(url, data)

    (sent,) = sandbox.api_requests("POST", "Messages.json")
    assert sent["form"]["To"] == "+15125550999"


# ------------------------------------------------------------------ custom clinic views


@pytest.mark.parametrize(
    ("view", "method", "data"),
    [
        ("provision", "get", {}),
        ("provision", "post", {"search": "1", "area_code": "512"}),
        ("provision", "post", {"apply": "1", "area_code": "512"}),
        ("release", "get", {}),
        ("release", "post", {"apply": "1"}),
        ("simulate", "post", {}),
    ],
)
@pytest.mark.parametrize("who", ["bare", "clerk"])
def test_custom_number_views_refuse_without_the_permission(request, sandbox, who, view, method, data):
    user_client = request.getfixturevalue(who)
    clinic = holding(sandbox) if view == "release" else ClinicFactory()
    before = state()

    response = getattr(user_client, method)(reverse(f"admin:clinics_clinic_{view}", args=[clinic.pk]), data)

    assert response.status_code == 403
    assert state() == before and sandbox.requests() == []


def test_listing_done_view_needs_change_permission(bare, clerk, sandbox):
    clinic = holding(sandbox)
    url = reverse("admin:clinics_clinic_listing_done", args=[clinic.pk])
    # Issue 16: the listing step waits for the test call and SMS (clinics.models.STEP_REQUIRES).
    for step in (OnboardingStep.TEST_INBOUND_CALL, OnboardingStep.TEST_INBOUND_SMS):
        services.clinic_checklist_tick(clinic_id=clinic.id, step=step)

    assert bare.post(url).status_code == 403
    assert not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.UPDATE_LISTING).exists()

    clerk.post(url)
    assert ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.UPDATE_LISTING).exists()


def test_clinic_page_buttons_follow_the_permissions(clerk, onboarding, sandbox):
    fresh, owned = ClinicFactory(), holding(sandbox)
    for step in (OnboardingStep.TEST_INBOUND_CALL, OnboardingStep.TEST_INBOUND_SMS):  # what the listing waits for
        services.clinic_checklist_tick(clinic_id=owned.id, step=step)

    def buttons(client):
        pages = [client.get(reverse("admin:clinics_clinic_change", args=[c.pk])).content for c in (fresh, owned)]
        return {b for b in ("provision-button", "release-button", "listing-done-button") if any(b.encode() in p for p in pages)}

    assert buttons(clerk) == {"listing-done-button"}
    assert buttons(onboarding) == {"provision-button", "release-button", "listing-done-button"}


def test_release_view_releases_for_onboarding_staff(onboarding, sandbox):
    clinic = holding(sandbox)

    onboarding.post(reverse("admin:clinics_clinic_release", args=[clinic.pk]), {"apply": "1"})

    clinic.refresh_from_db()
    assert clinic.number_state == NumberState.RELEASED and sandbox.owned_numbers() == []


# ------------------------------------------------------------------ Number audit pages


@pytest.fixture
def audited(admin_client, sandbox):
    """A finished audit with a webhook finding and an adoptable orphan (run by a superuser)."""
    holding(sandbox, "Drift Dental")
    lost = ClinicFactory(name="Lost Dental")
    (orphan_sid,) = sandbox.seed_numbers([{"phone_number": "+15125550190", "friendly_name": f"Lost Dental (clinic #{lost.id})"}])
    admin_client.post(reverse("admin:telephony_audit_run"))
    assert AuditRun.objects.get().status == AuditRun.Status.DONE
    return lost, orphan_sid


@pytest.mark.parametrize(
    ("view", "method"),
    [("auditrun_changelist", "get"), ("audit_run", "post"), ("audit_fix", "post"), ("audit_adopt", "post")],
)
@pytest.mark.parametrize("who", ["bare", "clerk"])
def test_audit_pages_refuse_without_the_permission(request, audited, sandbox, who, view, method):
    user_client = request.getfixturevalue(who)
    _, orphan_sid = audited
    before, requests_before = state(), sandbox.requests()

    response = getattr(user_client, method)(reverse(f"admin:telephony_{view}"), {"sid": orphan_sid} if method == "post" else {})

    assert response.status_code == 403
    assert state() == before and sandbox.requests() == requests_before


def test_audit_page_shows_only_the_buttons_the_user_may_press(django_user_model, audited, onboarding):
    viewer = staff_client(django_user_model, "viewer", ["telephony.view_auditrun"])
    url = reverse("admin:telephony_auditrun_changelist")

    seen = viewer.get(url).content.decode()
    full = onboarding.get(url).content.decode()

    assert "Voice URL is" in seen and "Adopt for Lost Dental" in full
    for button in ('value="Run audit now"', 'value="Fix webhooks"', 'value="Fix all webhooks', 'value="Adopt for Lost'):
        assert button not in seen and button in full


def test_audit_run_fix_and_adopt_for_onboarding_staff(onboarding, audited, sandbox, settings):
    lost, orphan_sid = audited
    # A configuration the audit accepts, so that "All good" is about the numbers only.
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"
    settings.TWILIO_SANDBOX = False

    onboarding.post(reverse("admin:telephony_audit_fix"), {"sid": ""})
    onboarding.post(reverse("admin:telephony_audit_adopt"), {"sid": orphan_sid})
    page = onboarding.post(reverse("admin:telephony_audit_run"), follow=True)

    assert "All good" in page.content.decode()
    lost.refresh_from_db()
    assert lost.twilio_number_sid == orphan_sid
    assert AuditRun.objects.first().requested_by.username == "staff"
