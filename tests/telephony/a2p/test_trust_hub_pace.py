"""The A2P poll keeps Trust Hub's pace (about one request per second per account): its requests
are spaced by settings.A2P_TRUST_HUB_PACE_SECONDS. The test settings make that 0 so that no
other test sleeps for it; this one sets it and measures the spacing of what was sent."""

from __future__ import annotations

import time

import pytest
import requests

from clinics import services as services_a2p
from clinics.models import NumberState
from clinics.models_a2p import BusinessProfile
from telephony.a2p import polling, registration
from tests.factories import ClinicFactory
from tests.telephony.a2p.conftest import business_profile_data, review

pytestmark = pytest.mark.django_db

PACE = 0.5


def test_beats_poll_spaces_its_trust_hub_requests_by_the_pace(sandbox, a2p_enabled, settings, monkeypatch):
    review(sandbox, mode="manual")  # both customer profiles stay in review
    for name, number in (("Paced Dental", "+15125550142"), ("Patient Dental", "+15125550143")):
        [sid] = sandbox.seed_numbers([{"phone_number": number}])
        clinic = ClinicFactory(name=name, twilio_number=number, twilio_number_sid=sid, number_state=NumberState.ACTIVE)
        BusinessProfile.objects.create(clinic=clinic, **business_profile_data())
        services_a2p.a2p_registration_start(clinic_id=clinic.id)
        assert registration.registration_advance(clinic_id=clinic.id).customer_profile_status == "pending-review"
    settings.A2P_TRUST_HUB_PACE_SECONDS = PACE
    fetched_at: list[float] = []
    send = requests.Session.send

    def recording_send(session, request, **kwargs):
        if request.method == "GET" and request.path_url.startswith("/v1/CustomerProfiles/"):
            fetched_at.append(time.monotonic())
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)

    assert polling.registrations_poll() == 2

    assert len(fetched_at) == 2
    # The pace counts from the end of the wait before the first request, a few milliseconds
    # before it was sent; unpaced, the two are a few milliseconds apart.
    assert fetched_at[1] - fetched_at[0] >= PACE - 0.05
