"""Fixtures for A2P 10DLC registration: a clinic with a number and a complete business profile,
one in its own subaccount; and Trust Hub's status callbacks as Twilio signs them."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from twilio.request_validator import RequestValidator

from clinics.models import Clinic, NumberState
from clinics.models_a2p import A2PRegistration, BusinessProfile
from telephony import twilio_service
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import ClinicFactory
from twilio_sandbox import SANDBOX_ACCOUNT_SID

PRIMARY_PROFILE = "BU" + "0a" * 16
EIN = "12-3456789"
A2P_STATUS = "/twilio/a2p-status"
CALLBACK_URL = PUBLIC_BASE_URL + A2P_STATUS


@pytest.fixture
def a2p_enabled(settings: Any) -> str:
    settings.TWILIO_PRIMARY_CUSTOMER_PROFILE_SID = PRIMARY_PROFILE
    return PRIMARY_PROFILE


def business_profile_data() -> dict[str, str]:
    """A complete, valid business profile as staff would enter it."""
    return {
        "legal_name": "Austin Smiles Dental PLLC",
        "ein": EIN,
        "business_type": "Limited Liability Corporation",
        "street": "100 Congress Ave",
        "city": "Austin",
        "region": "TX",
        "postal_code": "78701",
        "website": "https://austinsmiles.example.com",
        "rep_first_name": "Dana",
        "rep_last_name": "Lopez",
        "rep_title": "Office manager",
        "rep_position": "GM",
        "rep_email": "dana@austinsmiles.example.com",
        "rep_phone": "+15125550188",
        "use_case": "LOW_VOLUME",
        "sample_message_1": (
            "Austin Smiles: reminder of your appointment on Tue Dec 8 at 9:00 AM. Reply C to confirm, R to reschedule."
        ),
        "sample_message_2": "Thanks, Austin Smiles got your message and will get back to you.",
        "opt_in_description": (
            "Patients give their mobile number on the new-patient form at the front desk or on the website and tick "
            "a box agreeing to appointment texts."
        ),
    }


@pytest.fixture
def clinic(sandbox: Any) -> Clinic:
    """A clinic with an active number (seeded in the sandbox) and its business profile."""
    [sid] = sandbox.seed_numbers([{"phone_number": "+15125550142"}])
    clinic = ClinicFactory(
        name="Austin Smiles", twilio_number="+15125550142", twilio_number_sid=sid, number_state=NumberState.ACTIVE
    )
    BusinessProfile.objects.create(clinic=clinic, **business_profile_data())
    return clinic


def review(sandbox: Any, **payload: Any) -> None:
    """Set how the sandbox decides submitted bundles, brands and campaigns."""
    sandbox._call("POST", "a2p-review", payload)


def registered(clinic: Clinic, sandbox: Any) -> A2PRegistration:
    """Run the clinic's whole registration with the sandbox approving at once."""
    from telephony.a2p import polling, registration

    review(sandbox, mode="approve", after_seconds=0)
    registration.registration_start(clinic_id=clinic.id)
    for _ in range(6):
        reg = polling.registration_poll(clinic_id=clinic.id, pacer=polling.Pacer(0))
        if reg.campaign_ready:
            return reg
    raise AssertionError(reg.error)


def decide(sandbox: Any, sid: str, outcome: str = "approve", code: int | None = None) -> None:
    """Decide one submitted object now."""
    sandbox._call("POST", "a2p-decide", {"sid": sid, "outcome": outcome, "code": code})


@pytest.fixture
def sub_clinic(sandbox) -> Clinic:
    """A clinic provisioned the normal way: its own subaccount, its number bought in it."""
    clinic = ClinicFactory(name="Round Rock Dental")
    assert twilio_service.provision_clinic_number(clinic.id, "512")["success"] is True
    clinic.refresh_from_db()
    assert clinic.twilio_account_sid and clinic.twilio_account_sid != SANDBOX_ACCOUNT_SID
    BusinessProfile.objects.create(clinic=clinic, **business_profile_data())
    return clinic


def signed_status_callback(client, form: dict[str, str], *, token: str = "") -> Any:
    """POST `form` to the callback as Twilio does: signed over the public URL with the account's token."""
    signature = RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(CALLBACK_URL, form)
    return client.post(A2P_STATUS, form, HTTP_X_TWILIO_SIGNATURE=signature)
