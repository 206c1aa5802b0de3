"""Twilio's registration rejection codes become sentences staff can act on, on the
registration record, in its history and on the clinic page: the documented codes their own
sentence, any other code (or a code met at a step it does not belong to) the generic one
with Twilio's error page."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from clinics import services as services_a2p
from clinics.models_a2p import A2PEvent, A2PRegistration
from telephony.a2p import polling, registration
from telephony.twilio.errors import A2P_REJECTION_SENTENCES
from tests.telephony.a2p.conftest import decide, review

pytestmark = pytest.mark.django_db


def _poll(clinic) -> A2PRegistration:
    return polling.registration_poll(clinic_id=clinic.id, pacer=polling.Pacer(0))


def _campaign_in_review(clinic, sandbox) -> A2PRegistration:
    """Run the registration (every review approved at once) until its campaign is submitted."""
    review(sandbox, mode="approve", after_seconds=0)
    services_a2p.a2p_registration_start(clinic_id=clinic.id)
    for _ in range(4):
        reg = _poll(clinic)
        if reg.campaign_sid:
            break
    review(sandbox, mode="manual")
    assert reg.campaign_status == "IN_PROGRESS", reg.error
    return reg


def _clinic_page(client, staff_user, clinic) -> str:
    client.force_login(staff_user)
    return client.get(f"/admin/clinics/clinic/{clinic.pk}/change/").content.decode()


@pytest.mark.parametrize(
    ("code", "what"),
    [
        (30909, '"How patients opt in"'),
        (30893, "sample texts do not match"),
        (30886, "campaign description"),
        (30991, "unverified brand"),
        (30994, "brand was still pending"),
        (21717, "brand is not registered or not approved"),
    ],
)
def test_a_rejected_campaign_says_what_to_fix_for_its_code(clinic, sandbox, a2p_enabled, client, staff_user, code, what):
    reg = _campaign_in_review(clinic, sandbox)

    decide(sandbox, reg.campaign_sid, "reject", code)
    reg = _poll(clinic)

    sentence = A2P_REJECTION_SENTENCES[code][1]
    assert (reg.campaign_status, reg.error_step, reg.error_code) == ("FAILED", "campaign", code)
    assert reg.error == f"{sentence} (Twilio error {code})"
    assert what in reg.error and "Edit and resubmit" in reg.error
    assert "docs/api/errors" not in reg.error  # not the generic sentence
    event = A2PEvent.objects.filter(clinic=clinic, step="campaign", status="FAILED").get()
    assert (event.detail, event.error_code) == (reg.error, code)
    page = _clinic_page(client, staff_user, clinic)
    assert f"Fix what is wrong, then Edit and resubmit: {escape(reg.error)}" in page


def test_a_campaign_refused_at_creation_with_21717_says_to_wait_for_the_brand(clinic, sandbox, a2p_enabled):
    """Twilio refuses the campaign's create (400, 21717) when its brand is not approved."""
    review(sandbox, mode="approve", after_seconds=0)
    services_a2p.a2p_registration_start(clinic_id=clinic.id)
    sandbox.fault(
        path=r"^/v1/Services/MG[0-9a-f]{32}/Compliance/Usa2p$",
        status=400,
        code=21717,
        message="Brand Registration SID for US A2P Campaign Use Case is Not Registered or Not Valid",
    )
    for _ in range(4):
        reg = _poll(clinic)
        if reg.error:
            break

    assert (reg.error_step, reg.error_code, reg.campaign_sid) == ("campaign", 21717, "")
    assert reg.error.startswith(A2P_REJECTION_SENTENCES[21717][1])


def test_a_code_without_its_own_sentence_gets_the_generic_one_with_twilios_page(clinic, sandbox, a2p_enabled, client, staff_user):
    # 30923: Twilio's error page for it was not found when these sentences were written.
    reg = _campaign_in_review(clinic, sandbox)

    decide(sandbox, reg.campaign_sid, "reject", 30923)
    reg = _poll(clinic)

    assert reg.error_code == 30923
    assert reg.error == (
        "30923 Rejected in the sandbox review (Twilio error 30923). Fix the business profile, then Edit and resubmit. "
        "See https://www.twilio.com/docs/api/errors/30923"
    )
    assert escape(reg.error) in _clinic_page(client, staff_user, clinic)


def test_a_campaign_code_on_another_step_gets_the_generic_sentence(clinic, sandbox, a2p_enabled):
    """30909 is about a campaign's opt-in; on the business profile it would send staff to the wrong field."""
    review(sandbox, mode="reject", code=30909, after_seconds=0)
    services_a2p.a2p_registration_start(clinic_id=clinic.id)
    registration.registration_advance(clinic_id=clinic.id)

    reg = _poll(clinic)

    assert (reg.customer_profile_status, reg.error_code) == ("twilio-rejected", 30909)
    assert "How patients opt in" not in reg.error
    assert reg.error.endswith(
        "Fix the business profile, then Edit and resubmit. See https://www.twilio.com/docs/api/errors/30909"
    )
