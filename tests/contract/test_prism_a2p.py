"""Contract: every A2P 10DLC call the project makes, in Twilio's ISV order, sent to Prism
serving Twilio's own twilio_trusthub_v1.json, twilio_messaging_v1.json and
twilio_api_v2010.json (Addresses, Messages). Prism answers 422 to any request whose
path, query or body the spec does not allow; the adapter raises that as a TwilioError,
so the sequence completing is the proof."""

from __future__ import annotations

import re

import pytest
import requests

from clinics.models_a2p import BusinessProfile
from telephony import twilio, webhook_urls
from telephony.a2p import steps
from tests.contract.prism import ACCOUNT, PHONE_SID, log_path
from tests.factories import ClinicFactory
from tests.openapi import assert_form_matches_spec, request_schema
from tests.telephony.a2p.conftest import business_profile_data

pytestmark = [pytest.mark.contract, pytest.mark.no_sandbox, pytest.mark.django_db]
PRIMARY = "BU" + "0a" * 16
BUNDLE = "BU" + "1b" * 16
SERVICE = "MG" + "2c" * 16
BRAND = "BN" + "3d" * 16


@pytest.fixture
def prisms(prism, prism_messaging, prism_trusthub) -> tuple[str, str, str]:
    return prism, prism_messaging, prism_trusthub


@pytest.fixture(autouse=True)
def twilio_is_prism(prisms, settings):
    settings.TWILIO_API_BASE_URL, settings.TWILIO_MESSAGING_API_BASE_URL, settings.TWILIO_TRUSTHUB_API_BASE_URL = prisms
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = "contract-test-token"
    settings.TWILIO_PRIMARY_CUSTOMER_PROFILE_SID = PRIMARY
    settings.API_BASE_URL = "https://dentsignal.example.com"


def test_the_whole_isv_registration_sequence_is_accepted_by_twilios_specs(monkeypatch):
    clinic = ClinicFactory(name="Contract Dental", twilio_number="+15125550100", twilio_number_sid=PHONE_SID)
    profile = BusinessProfile.objects.create(clinic=clinic, **business_profile_data())
    a = {"account_sid": ACCOUNT}

    # 1. Secondary customer profile.
    twilio.trust_bundles_find(**a, kind="customer_profiles", friendly_name="DentSignal clinic #1 secondary customer profile")
    twilio.trust_bundle_create(
        **a,
        kind="customer_profiles",
        friendly_name="DentSignal clinic #1 secondary customer profile",
        email="compliance@dentsignal.example.com",
        policy_sid=twilio.POLICY_SECONDARY_CUSTOMER_PROFILE,
        status_callback=webhook_urls.a2p_status_url(),  # Trust Hub's StatusCallback: a uri the spec allows
    )
    twilio.end_users_find(**a, friendly_name="x")
    twilio.end_user_create(
        **a,
        friendly_name="DentSignal clinic #1 business information",
        object_type="customer_profile_business_information",
        attributes=steps._business_attributes(profile),
    )
    twilio.end_user_update(**a, sid="IT" + "4e" * 16, attributes=steps._representative_attributes(profile))
    twilio.addresses_find(**a, friendly_name="DentSignal clinic #1 address")
    twilio.address_create(
        **a, friendly_name="a", customer_name=profile.legal_name, street="1 Main", city="Austin", region="TX", postal_code="78701"
    )
    # Edit and resubmit brings the address up to date.
    address = {"customer_name": profile.legal_name, "street": "2 Oak", "city": "Austin", "region": "TX", "postal_code": "78702"}
    twilio.address_update(**a, sid="AD" + "5f" * 16, **address)
    twilio.supporting_documents_find(**a, friendly_name="d")
    twilio.supporting_document_create(
        **a, friendly_name="d", object_type="customer_profile_address", attributes={"address_sids": "AD" + "5f" * 16}
    )
    for kind, policy in (
        ("customer_profiles", twilio.POLICY_SECONDARY_CUSTOMER_PROFILE),
        ("trust_products", twilio.POLICY_A2P_MESSAGING_PROFILE),
    ):
        twilio.trust_bundle_assigned(**a, kind=kind, sid=BUNDLE)
        twilio.trust_bundle_assign(**a, kind=kind, sid=BUNDLE, object_sid=PRIMARY)
        twilio.trust_bundle_evaluate(**a, kind=kind, sid=BUNDLE, policy_sid=policy)
        twilio.trust_bundle_submit(**a, kind=kind, sid=BUNDLE, status_callback=webhook_urls.a2p_status_url())
        twilio.trust_bundle_fetch(**a, kind=kind, sid=BUNDLE)
    # 2. A2P trust product.
    twilio.trust_bundle_create(
        **a,
        kind="trust_products",
        friendly_name="t",
        email="compliance@dentsignal.example.com",
        policy_sid=twilio.POLICY_A2P_MESSAGING_PROFILE,
        status_callback=webhook_urls.a2p_status_url(),
    )
    twilio.trust_bundles_find(**a, kind="trust_products", friendly_name="t")
    # 3. Brand.
    twilio.brand_registrations_find(**a, a2p_profile_sid=BUNDLE)
    twilio.brand_registration_create(**a, customer_profile_sid=BUNDLE, a2p_profile_sid=BUNDLE)
    twilio.brand_registration_fetch(**a, sid=BRAND)
    # 4. Messaging Service, campaign, number.
    twilio.messaging_services_find(**a, friendly_name="DentSignal clinic #1 messaging")
    twilio.messaging_service_create(**a, friendly_name="m", status_callback="https://dentsignal.example.com/twilio/status")
    twilio.campaigns_list(**a, service_sid=SERVICE)
    _campaign_create_is_accepted_but_for_prisms_array_parsing(clinic, profile, monkeypatch)
    twilio.campaign_fetch(**a, service_sid=SERVICE, sid="QE" + "6a" * 16)
    twilio.campaign_delete(**a, service_sid=SERVICE, sid="QE" + "6a" * 16)  # Edit and resubmit of a rejected campaign
    twilio.messaging_service_numbers(**a, service_sid=SERVICE)
    twilio.messaging_service_number_add(**a, service_sid=SERVICE, phone_sid=PHONE_SID)
    # 5. Texts through the Messaging Service.
    twilio.message_send_via_service(
        **a, service_sid=SERVICE, to_number="+15125550999", body="Reply C to confirm", status_callback="https://x.example.com/s"
    )


CAMPAIGN_PATH = f"/v1/Services/{SERVICE}/Compliance/Usa2p"


def _campaign_create_is_accepted_but_for_prisms_array_parsing(clinic, profile, monkeypatch) -> None:
    """The campaign's array parameters go as repeated keys (MessageSamples=a&MessageSamples=b), which
    is OpenAPI's default for form bodies (style form, explode true) and what Twilio's SDK sends; Prism
    5.16 (the newest) keeps only the last value of a repeated key (`splitUriParams` in prism-http) and
    calls it "not an array" (stoplightio/prism#2473). So the body as sent on the wire is validated
    against the spec's request schema here instead (every parameter known and typed, arrays as
    arrays), and Prism's answer may only object to those array parameters."""
    sent: list[str] = []
    send = requests.Session.send

    def recording_send(session, request, **kwargs):
        if request.method == "POST" and request.path_url == CAMPAIGN_PATH:
            sent.append(request.body if isinstance(request.body, str) else request.body.decode())
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)
    log = log_path("messaging")
    before = len(log.read_text().splitlines())
    try:
        twilio.campaign_create(account_sid=ACCOUNT, service_sid=SERVICE, brand_sid=BRAND, **steps.campaign_texts(clinic, profile))
    except twilio.TwilioError as exc:
        assert exc.status == 422, exc
    (body,) = sent
    assert_form_matches_spec(CAMPAIGN_PATH, "POST", body)
    assert body.count("MessageSamples=") >= 2, body  # Twilio: "min two and max five"
    arrays = {name for name, kind in _request_properties(CAMPAIGN_PATH).items() if kind == "array"}
    complaints = [line for line in log.read_text().splitlines()[before:] if "[VALIDATOR]" in line and "error" in line]
    objections = {re.sub(r".*Request body property (\w+) must be array.*", r"\1", line) for line in complaints}
    assert objections <= arrays, complaints


def _request_properties(path: str) -> dict[str, str]:
    """The form parameters of the spec's POST `path` and their types."""
    return {name: prop.get("type", "") for name, prop in request_schema(path, "POST")["properties"].items()}


def test_the_specs_check_the_status_callback_we_give_the_bundles():
    """Prism checks StatusCallback against Trust Hub's spec (a uri): what we send passes, a
    value that is not a URL is refused, so the sequence above really covered the parameter."""
    for kind, policy in (
        ("customer_profiles", twilio.POLICY_SECONDARY_CUSTOMER_PROFILE),
        ("trust_products", twilio.POLICY_A2P_MESSAGING_PROFILE),
    ):
        bundle = {"account_sid": ACCOUNT, "kind": kind, "friendly_name": "p", "email": "c@example.com", "policy_sid": policy}
        twilio.trust_bundle_create(**bundle, status_callback=webhook_urls.a2p_status_url())
        with pytest.raises(twilio.TwilioError) as refused:
            twilio.trust_bundle_create(**bundle, status_callback="not a url")
        assert refused.value.status == 422
        with pytest.raises(twilio.TwilioError) as refused_on_submit:
            twilio.trust_bundle_submit(account_sid=ACCOUNT, kind=kind, sid=BUNDLE, status_callback="not a url")
        assert refused_on_submit.value.status == 422


def test_the_number_step_after_a_rebuy_is_accepted_by_twilios_specs():
    """A re-bought number joining the clinic's service, the replaced one taken out: the number
    step's calls (list the pool, add, remove) through the real workflow, to Prism."""
    from clinics import services as clinic_services
    from clinics.models_a2p import A2PRegistration
    from telephony.a2p import registration

    new_sid = "PN" + "cd" * 16
    clinic = ClinicFactory(name="Contract Dental", twilio_number="+15125550101", twilio_number_sid=new_sid)
    BusinessProfile.objects.create(clinic=clinic, **business_profile_data())
    approved = {
        "customer_profile_status": "twilio-approved",
        "trust_product_status": "twilio-approved",
        "brand_status": "APPROVED",
        "messaging_service_status": "created",
        "campaign_status": "VERIFIED",
    }
    A2PRegistration.objects.create(
        clinic=clinic, messaging_service_sid=SERVICE, number_sid=PHONE_SID, number_status="added", **approved
    )
    assert clinic_services.a2p_number_changed(clinic_id=clinic.id)

    reg = registration.registration_advance(clinic_id=clinic.id)

    assert (reg.error, reg.number_sid, reg.number_status) == ("", new_sid, "added")
    # The removal of a replaced number still in the pool, as the number step sends it.
    twilio.messaging_service_number_remove(account_sid=ACCOUNT, service_sid=SERVICE, phone_sid=PHONE_SID)
