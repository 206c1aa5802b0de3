"""The A2P 10DLC pipeline against the sandbox Twilio (real SDK over HTTP): order, reviews,
idempotency under lost answers and retries, rejection and resubmission."""

from __future__ import annotations

import json

import pytest

from clinics import services as services_a2p
from clinics.models import ChecklistItem, OnboardingStep
from clinics.models_a2p import A2PEvent, A2PRegistration, BusinessProfile
from telephony.a2p import polling, registration, rules, texts
from telephony.twilio import TwilioError
from tests.telephony.a2p.conftest import EIN, PRIMARY_PROFILE, decide, review

pytestmark = pytest.mark.django_db


def _start(clinic) -> A2PRegistration:
    services_a2p.a2p_registration_start(clinic_id=clinic.id)
    return registration.registration_advance(clinic_id=clinic.id)


def _poll(clinic) -> A2PRegistration:
    return polling.registration_poll(clinic_id=clinic.id, pacer=polling.Pacer(0))


def _creates(sandbox, path: str) -> list[dict]:
    return [r for r in sandbox.api_requests("POST") if r["path"] == path and r["status"] == 201]


def test_the_pipeline_runs_step_by_step_through_each_review(clinic, sandbox, a2p_enabled, expected_webhooks):
    review(sandbox, mode="manual")
    reg = _start(clinic)
    assert reg.customer_profile_status == "pending-review"
    assert reg.trust_product_sid == ""  # waits for the profile's approval

    # The secondary profile carries the business, its representative, its address and our primary profile.
    [profile_create] = _creates(sandbox, "/v1/CustomerProfiles")
    assert profile_create["form"]["PolicySid"] == "RNdfbf3fae0e1107f8aded0e7cead80bf5"
    assigned = [
        r["form"]["ObjectSid"] for r in _creates(sandbox, f"/v1/CustomerProfiles/{reg.customer_profile_sid}/EntityAssignments")
    ]
    assert PRIMARY_PROFILE in assigned and len(assigned) == 4
    business = next(r for r in _creates(sandbox, "/v1/EndUsers") if r["form"]["Type"] == "customer_profile_business_information")
    assert json.loads(business["form"]["Attributes"])["business_registration_number"] == EIN

    decide(sandbox, reg.customer_profile_sid)
    reg = _poll(clinic)
    assert reg.customer_profile_status == "twilio-approved"
    assert reg.trust_product_status == "pending-review"
    assert ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.A2P_PROFILE_APPROVED).exists()

    decide(sandbox, reg.trust_product_sid)
    reg = _poll(clinic)
    assert reg.brand_status == "PENDING"
    [brand_create] = _creates(sandbox, "/v1/a2p/BrandRegistrations")
    assert brand_create["form"]["SkipAutomaticSecVet"] == "true"  # low-volume standard

    decide(sandbox, reg.brand_sid)
    reg = _poll(clinic)
    assert reg.brand_status == "APPROVED"
    assert ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.A2P_BRAND_REGISTERED).exists()
    [service_create] = _creates(sandbox, "/v1/Services")
    assert service_create["form"]["UseInboundWebhookOnNumber"] == "true"
    assert service_create["form"]["StatusCallback"] == expected_webhooks["status_callback"]
    [campaign_create] = _creates(sandbox, f"/v1/Services/{reg.messaging_service_sid}/Compliance/Usa2p")
    form = campaign_create["form"]
    assert form["HelpMessage"] == texts.help_text(clinic.name, clinic.office_phone)
    assert form["OptOutMessage"] == texts.TWILIO_OPT_OUT_TEXT
    assert reg.campaign_status == "IN_PROGRESS"
    assert reg.number_status == "added" and reg.number_sid == clinic.twilio_number_sid
    assert not reg.campaign_ready

    decide(sandbox, reg.campaign_sid)
    reg = _poll(clinic)
    assert reg.campaign_status == "VERIFIED"
    assert reg.campaign_ready
    assert ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.A2P_CAMPAIGN_APPROVED).exists()
    statuses = list(A2PEvent.objects.filter(clinic=clinic).order_by("id").values_list("step", "status"))
    assert ("brand", "APPROVED") in statuses and ("campaign", "VERIFIED") in statuses

    # Done: polling again asks Twilio nothing and creates nothing.
    before = len(sandbox.requests())
    assert services_a2p.a2p_registrations_pending() == []
    assert polling.registrations_poll() == 0
    assert len(sandbox.requests()) == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/CustomerProfiles",
        "/v1/EndUsers",
        "/v1/SupportingDocuments",
        "/v1/TrustProducts",
        "/v1/a2p/BrandRegistrations",
        "/v1/Services",
    ],
)
def test_a_lost_answer_and_a_retried_step_create_one_object(clinic, sandbox, a2p_enabled, path):
    review(sandbox, mode="approve", after_seconds=0)
    services_a2p.a2p_registration_start(clinic_id=clinic.id)
    # Twilio creates the object, then the connection drops before we read the answer.
    sandbox.fault(path=f"^{path}$", method="POST", mode="drop_after")
    lost = 0
    for _ in range(12):  # a bounded number of beat ticks / task retries
        try:
            reg = polling.registration_poll(clinic_id=clinic.id, pacer=polling.Pacer(0))
        except TwilioError as exc:
            assert exc.retryable
            lost += 1
            continue
        if reg.campaign_ready or reg.error:
            break
    assert lost == 1
    assert reg.campaign_ready, reg.error
    kinds = {
        "/v1/CustomerProfiles": 1,
        "/v1/TrustProducts": 1,
        "/v1/a2p/BrandRegistrations": 1,
        "/v1/Services": 1,
        "/v1/SupportingDocuments": 1,
        "/v1/EndUsers": 3,
    }
    state = sandbox._call("GET", "a2p-state")
    assert len(state["services"]) == kinds["/v1/Services"]
    counted = {"customer_profile": 0, "trust_product": 0, "brand": 0, "supporting_document": 0, "end_user": 0}
    for obj in state["objects"]:
        if obj["_sandbox"]["kind"] in counted:
            counted[obj["_sandbox"]["kind"]] += 1
    assert counted == {"customer_profile": 1, "trust_product": 1, "brand": 1, "supporting_document": 1, "end_user": 3}


def test_a_rejection_is_a_sentence_and_edit_and_resubmit_submits_again(clinic, sandbox, a2p_enabled):
    review(sandbox, mode="reject", code=30909, after_seconds=0)
    _start(clinic)
    reg = _poll(clinic)
    assert reg.customer_profile_status == "twilio-rejected"
    assert reg.error_code == 30909
    assert "Edit and resubmit" in reg.error and "30909" in reg.error
    assert EIN not in reg.error
    # Nothing moves until staff resubmit.
    assert _poll(clinic).customer_profile_status == "twilio-rejected"

    BusinessProfile.objects.filter(clinic=clinic).update(legal_name="Austin Smiles Dental, PLLC")
    review(sandbox, mode="manual")
    registration.registration_resubmit(clinic_id=clinic.id)
    reg = registration.registration_advance(clinic_id=clinic.id)
    assert reg.customer_profile_status == "pending-review"
    assert reg.error == ""
    updates = [r for r in sandbox.api_requests("POST") if r["path"].startswith("/v1/EndUsers/")]
    assert any("Austin Smiles Dental, PLLC" in r["form"].get("Attributes", "") for r in updates)
    assert len(_creates(sandbox, "/v1/CustomerProfiles")) == 1


def test_a_registration_whose_advance_the_broker_lost_is_advanced_by_beats_poll(
    clinic, sandbox, a2p_enabled, monkeypatch, django_capture_on_commit_callbacks
):
    """The advance task could not be sent (broker down): the registration is kept, and beat's
    registrations_poll, which advances every unfinished registration, carries it on."""
    from kombu.exceptions import OperationalError

    from telephony import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.a2p_registration_advance, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        registration.registration_start(clinic_id=clinic.id)
    assert A2PRegistration.objects.get(clinic=clinic).customer_profile_sid == ""

    assert polling.registrations_poll() == 1
    assert A2PRegistration.objects.get(clinic=clinic).customer_profile_sid.startswith("BU")


def test_registration_is_disabled_without_our_primary_profile(clinic, settings):
    settings.TWILIO_PRIMARY_CUSTOMER_PROFILE_SID = ""
    with pytest.raises(rules.RegistrationDisabled, match="not set up on this DentSignal yet"):
        registration.registration_start(clinic_id=clinic.id)
    assert not A2PRegistration.objects.exists()


def test_a_number_in_another_messaging_service_is_a_sentence(clinic, sandbox, a2p_enabled):
    sandbox._call("POST", "messaging-services", {"friendly_name": "Old service", "number_sids": [clinic.twilio_number_sid]})
    review(sandbox, mode="approve", after_seconds=0)
    _start(clinic)
    for _ in range(5):
        reg = _poll(clinic)
    assert reg.error_code == 21712
    assert "another Messaging Service" in reg.error


def _rejected_brand(clinic, sandbox, code: int) -> A2PRegistration:
    review(sandbox, mode="approve", after_seconds=0)
    reg = _start(clinic)
    for _ in range(3):
        reg = _poll(clinic)
        if reg.brand_sid:
            break
    review(sandbox, mode="manual")
    decide(sandbox, reg.brand_sid, "reject", code)
    reg = _poll(clinic)
    assert reg.brand_status == "FAILED" and reg.error_code == code
    return reg


def test_a_failed_brand_is_resubmitted_not_registered_twice(clinic, sandbox, a2p_enabled):
    reg = _rejected_brand(clinic, sandbox, 30793)
    assert "errors/30793" in reg.error

    review(sandbox, mode="approve", after_seconds=0)
    registration.registration_resubmit(clinic_id=clinic.id)
    reg = registration.registration_advance(clinic_id=clinic.id)
    assert reg.brand_status == "PENDING"
    reg = _poll(clinic)
    assert reg.brand_status == "APPROVED"
    assert len(_creates(sandbox, "/v1/a2p/BrandRegistrations")) == 1
    assert [r["status"] for r in sandbox.api_requests("POST", f"/v1/a2p/BrandRegistrations/{reg.brand_sid}")] == [202]


def test_edit_and_resubmit_of_a_failed_brand_sends_the_corrected_profile_before_the_brand(clinic, sandbox, a2p_enabled):
    """Twilio vets a brand on its bundles' data: resubmitting without correcting it there changes
    nothing (error 60723). Staff's corrections reach the EndUsers and the Address first."""
    _rejected_brand(clinic, sandbox, 30799)
    BusinessProfile.objects.filter(clinic=clinic).update(legal_name="Austin Smiles Dentistry PLLC", street="200 Lavaca St")
    before = len(sandbox.requests())
    registration.registration_resubmit(clinic_id=clinic.id)
    reg = registration.registration_advance(clinic_id=clinic.id)
    assert reg.brand_status == "PENDING"

    sent = [r for r in sandbox.requests()[before:] if r["method"] == "POST"]
    business = next(r for r in sent if r["path"].startswith("/v1/EndUsers/") and "business_name" in r["form"]["Attributes"])
    assert json.loads(business["form"]["Attributes"])["business_name"] == "Austin Smiles Dentistry PLLC"
    address = next(r for r in sent if "/Addresses/AD" in r["path"])
    assert (address["form"]["CustomerName"], address["form"]["Street"]) == ("Austin Smiles Dentistry PLLC", "200 Lavaca St")
    resubmitted = next(i for i, r in enumerate(sent) if r["path"] == f"/v1/a2p/BrandRegistrations/{reg.brand_sid}")
    assert sent.index(business) < resubmitted and sent.index(address) < resubmitted
    assert all(r["status"] < 300 for r in sent)
    assert len(_creates(sandbox, "/v1/a2p/BrandRegistrations")) == 1


def _rejected_campaign(clinic, sandbox) -> A2PRegistration:
    review(sandbox, mode="approve", after_seconds=0)
    reg = _start(clinic)
    for _ in range(4):
        reg = _poll(clinic)
        if reg.campaign_sid:
            break
    review(sandbox, mode="manual")
    decide(sandbox, reg.campaign_sid, "reject", 30909)
    reg = _poll(clinic)
    assert reg.campaign_status == "FAILED" and reg.error_code == 30909
    return reg


def test_a_rejected_campaign_is_deleted_and_registered_again_after_edit_and_resubmit(clinic, sandbox, a2p_enabled):
    """Twilio reviews a failed campaign only as a new one: delete it, create it again (issue 15: Edit and resubmit)."""
    rejected = _rejected_campaign(clinic, sandbox)
    reg = registration.registration_advance(clinic_id=clinic.id)
    assert len(_creates(sandbox, f"/v1/Services/{reg.messaging_service_sid}/Compliance/Usa2p")) == 1  # not before staff

    registration.registration_resubmit(clinic_id=clinic.id)
    reg = registration.registration_advance(clinic_id=clinic.id)

    service = reg.messaging_service_sid
    deletes = [r for r in sandbox.api_requests("DELETE") if r["path"].endswith(f"/Compliance/Usa2p/{rejected.campaign_sid}")]
    assert [r["status"] for r in deletes] == [204]
    assert len(_creates(sandbox, f"/v1/Services/{service}/Compliance/Usa2p")) == 2
    assert reg.campaign_sid not in ("", rejected.campaign_sid) and reg.campaign_status == "IN_PROGRESS" and not reg.error
    decide(sandbox, reg.campaign_sid)
    assert _poll(clinic).campaign_ready
    statuses = list(A2PEvent.objects.filter(clinic=clinic, step="campaign").values_list("status", flat=True))
    assert "recreating" in statuses and "deleted" in statuses


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["DELETE", "POST"])
def test_a_lost_answer_while_recreating_a_campaign_makes_exactly_one_new_one(clinic, sandbox, a2p_enabled, settings, method):
    rejected = _rejected_campaign(clinic, sandbox)
    service = rejected.messaging_service_sid
    path = f"/v1/Services/{service}/Compliance/Usa2p" + (f"/{rejected.campaign_sid}" if method == "DELETE" else "")
    settings.TWILIO_HTTP_TIMEOUT = 1.0
    sandbox.fault(path=path, method=method, mode="delay_after", delay=2)
    services_a2p.a2p_resubmit_request(clinic_id=clinic.id)  # the change only: this test runs the task's work itself

    with pytest.raises(TwilioError):
        registration.registration_advance(clinic_id=clinic.id)  # Twilio acted, the answer was lost
    reg = registration.registration_advance(clinic_id=clinic.id)  # the task's retry

    assert len(_creates(sandbox, f"/v1/Services/{service}/Compliance/Usa2p")) == 2  # the first and ONE new
    campaigns = sandbox._call("GET", "a2p-state")["objects"]
    assert [c["sid"] for c in campaigns if c["sid"].startswith("QE")] == [reg.campaign_sid]
    assert reg.campaign_status == "IN_PROGRESS" and not reg.error


def _end_user_attributes(sandbox) -> list[dict]:
    """The Attributes of every EndUser created or updated, in order."""
    sent = sandbox.api_requests("POST", "/v1/EndUsers")
    return [json.loads(r["form"]["Attributes"]) for r in sent if "Attributes" in r["form"]]


@pytest.mark.parametrize(
    ("business_type", "industry", "company_type"),
    [
        ("Limited Liability Corporation", "HEALTHCARE", "private"),
        ("Non-profit Corporation", "NOT_FOR_PROFIT", "non_profit"),
    ],
)
def test_a_clinic_registers_with_the_industry_and_company_type_twilio_asks_of_its_kind(
    clinic, sandbox, a2p_enabled, business_type, industry, company_type
):
    """Twilio's "Registration for Government and Nonprofit Agencies" (ISV): a Non-profit
    Corporation registers with business_industry NOT_FOR_PROFIT and company_type non_profit."""
    BusinessProfile.objects.filter(clinic=clinic).update(business_type=business_type)
    review(sandbox, mode="approve", after_seconds=0)
    reg = _start(clinic)
    for _ in range(2):
        reg = _poll(clinic)
    assert reg.trust_product_sid
    attributes = _end_user_attributes(sandbox)
    business = next(a for a in attributes if "business_name" in a)
    assert (business["business_type"], business["business_industry"]) == (business_type, industry)
    assert next(a for a in attributes if "company_type" in a)["company_type"] == company_type
