"""A2P 10DLC registration inside the clinic's own subaccount (issue 15 with issue 14's subaccounts).

Trust Hub and Messaging URLs name no account: Twilio scopes them by the credentials, so
acting in a subaccount means authenticating as it with its own auth token (Twilio,
"Subaccounts": "use the subaccount's Account SID and Auth Token"). The sandbox keeps the
objects per account and records who authenticated each request (`auth`).
"""

from __future__ import annotations

import pytest

from clinics.models import Clinic
from clinics.models_a2p import A2PRegistration
from telephony.a2p import polling, registration, rules
from telephony.a2p import texting as messaging
from telephony.models import MessageLog
from tests.telephony.a2p.conftest import PRIMARY_PROFILE, review
from twilio_sandbox import SANDBOX_ACCOUNT_SID

pytestmark = pytest.mark.django_db

A2P_PATHS = ("/v1/CustomerProfiles", "/v1/TrustProducts", "/v1/EndUsers", "/v1/SupportingDocuments", "/v1/a2p/", "/v1/Services")


def _registered(clinic: Clinic) -> A2PRegistration:
    """Run the whole registration with the sandbox approving at once."""
    registration.registration_start(clinic_id=clinic.id)
    reg = A2PRegistration.objects.get(clinic=clinic)
    for _ in range(6):
        reg = polling.registration_poll(clinic_id=clinic.id, pacer=polling.Pacer(0))
        if reg.campaign_ready:
            return reg
    raise AssertionError(reg.error)


def _a2p_requests(sandbox) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"].startswith(A2P_PATHS) or "/Addresses" in r["path"]]


def test_a_clinic_with_a_subaccount_registers_authenticated_as_it(sub_clinic, sandbox, a2p_enabled, expected_webhooks):
    review(sandbox, mode="approve", after_seconds=0)
    sandbox._call("DELETE", "requests")
    sub = sub_clinic.twilio_account_sid

    reg = _registered(sub_clinic)

    requests = _a2p_requests(sandbox)
    assert requests, "no Trust Hub / Messaging request was made"
    # Every Trust Hub and Messaging request (and the Address) acted as the subaccount, with its own token:
    # the sandbox answers 20003 to a wrong token, so these statuses prove the token was the subaccount's.
    assert {r["auth"] for r in requests} == {sub}
    assert all(r["status"] < 400 for r in requests), [(r["path"], r["status"]) for r in requests if r["status"] >= 400]
    assert next(r for r in requests if "/Addresses" in r["path"])["path"].startswith(f"/2010-04-01/Accounts/{sub}/")
    # The secondary profile still names OUR (main account's) primary customer profile.
    assigned = [
        r["form"]["ObjectSid"]
        for r in requests
        if r["path"] == f"/v1/CustomerProfiles/{reg.customer_profile_sid}/EntityAssignments" and r["method"] == "POST"
    ]
    assert PRIMARY_PROFILE in assigned

    # The objects live in the subaccount; its number is in the subaccount's Messaging Service.
    state = sandbox._call("GET", "a2p-state")
    mine = {o["sid"]: o for o in state["objects"]}
    for sid in (reg.customer_profile_sid, reg.trust_product_sid, reg.brand_sid, reg.campaign_sid):
        assert mine[sid]["account_sid"] == sub
    (service,) = [s for s in state["services"] if s["sid"] == reg.messaging_service_sid]
    assert service["account_sid"] == sub
    assert service["_sandbox"]["number_sids"] == [sub_clinic.twilio_number_sid]
    (number,) = sandbox.owned_numbers()
    assert number["account_sid"] == sub
    assert reg.number_sid == sub_clinic.twilio_number_sid


def test_the_main_accounts_credentials_do_not_see_a_subaccounts_objects(sub_clinic, sandbox, a2p_enabled):
    """Twilio scopes Trust Hub by credentials: the objects are the subaccount's, not the main account's."""
    review(sandbox, mode="approve", after_seconds=0)
    reg = _registered(sub_clinic)

    from telephony import twilio

    assert (
        twilio.trust_bundles_find(
            account_sid=SANDBOX_ACCOUNT_SID,
            kind="customer_profiles",
            friendly_name=rules.friendly_name(sub_clinic, "secondary customer profile"),
        )
        == []
    )
    with pytest.raises(twilio.TwilioError) as main_fetch:
        twilio.trust_bundle_fetch(account_sid=SANDBOX_ACCOUNT_SID, kind="customer_profiles", sid=reg.customer_profile_sid)
    assert main_fetch.value.status == 404
    sub, token = rules.registration_account(sub_clinic)
    assert (
        twilio.trust_bundle_fetch(
            account_sid=sub, auth_token=token, kind="customer_profiles", sid=reg.customer_profile_sid
        ).status
        == "twilio-approved"
    )
    # A wrong token for the subaccount is refused (20003), as Twilio does.
    with pytest.raises(twilio.TwilioError) as wrong:
        twilio.trust_bundle_fetch(account_sid=sub, auth_token="0" * 32, kind="customer_profiles", sid=reg.customer_profile_sid)
    assert wrong.value.status == 401


def test_a_retry_after_a_lost_answer_finds_the_subaccounts_profile_instead_of_creating_another(
    sub_clinic, sandbox, a2p_enabled, settings
):
    review(sandbox, mode="manual")
    settings.TWILIO_HTTP_TIMEOUT = 1.0
    sandbox.fault(path="/v1/CustomerProfiles", mode="delay_after", delay=2)
    from clinics import services as services_a2p
    from telephony.twilio import TwilioError

    services_a2p.a2p_registration_start(clinic_id=sub_clinic.id)
    with pytest.raises(TwilioError):
        registration.registration_advance(clinic_id=sub_clinic.id)
    reg = registration.registration_advance(clinic_id=sub_clinic.id)

    creates = [r for r in sandbox.api_requests("POST") if r["path"] == "/v1/CustomerProfiles"]
    assert len(creates) == 1 and creates[0]["auth"] == sub_clinic.twilio_account_sid
    assert reg.customer_profile_status == "pending-review"


def test_reminders_go_through_the_subaccounts_messaging_service(sub_clinic, sandbox, a2p_enabled):
    import datetime as dt

    from django.utils import timezone

    from clinics.models import Appointment, Patient

    review(sandbox, mode="approve", after_seconds=0)
    reg = _registered(sub_clinic)
    patient = Patient.objects.create(clinic=sub_clinic, name="Pat", phone="+15125550999")
    appointment = Appointment.objects.create(clinic=sub_clinic, patient=patient, starts_at=timezone.now() + dt.timedelta(days=1))

    sent = messaging.reminder_send(appointment_id=appointment.id)

    assert sent.message is not None
    (request,) = sandbox.api_requests("POST", "Messages.json")
    assert request["path"] == f"/2010-04-01/Accounts/{sub_clinic.twilio_account_sid}/Messages.json"
    assert request["form"]["MessagingServiceSid"] == reg.messaging_service_sid
    assert MessageLog.objects.get(message_sid=sent.message.sid).from_number == sub_clinic.twilio_number
