"""Issue 23, the forward path at the webhooks: a call Twilio reports as forwarded from the
clinic's published line (ForwardedFrom, sent when the caller's carrier passes it on) ticks
"Calls to the published number reach the agent"; and with forwarding on, neither the
primary voice webhook's no-agent fallback nor the voice fallback webhook rings the
published line (a no-answer forward would send the call straight back)."""

import pytest

from clinics import services
from clinics.models import ChecklistItem, OnboardingPath, OnboardingStep
from telephony.models import CallAnswer, CallLog
from telephony.webhooks import fallbacks
from tests.telephony.webhooks.twilio_requests import VOICE, active_clinic, call_params, signed_post, twiml

pytestmark = pytest.mark.django_db

PUBLISHED = "+15125557000"
VOICE_FALLBACK = "/inbound/voice/fallback"


def forwarding_clinic(**kwargs):
    clinic = active_clinic(name="Lake Dental", office_phone=PUBLISHED, **kwargs)
    services.clinic_checklist_tick(clinic_id=clinic.id, step=OnboardingStep.SAVE_NUMBER)
    services.clinic_onboarding_path_set(clinic_id=clinic.id, path=OnboardingPath.FORWARD, published_number=PUBLISHED, actor=None)
    return clinic


def forwarded(step_done: bool, clinic) -> bool:
    return ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.PUBLISHED_LINE).exists() is step_done


@pytest.mark.parametrize("as_sent", [PUBLISHED, "5125557000", "+1 (512) 555-7000"])
def test_a_call_forwarded_from_the_published_number_ticks_the_step(client, as_sent):
    clinic = forwarding_clinic()

    twiml(signed_post(client, VOICE, {**call_params(), "ForwardedFrom": as_sent}))

    item = ChecklistItem.objects.get(clinic=clinic, step=OnboardingStep.PUBLISHED_LINE)
    assert item.done_by is None and "forwarded from (512) 555-7000" in item.note


@pytest.mark.parametrize("params", [{}, {"ForwardedFrom": "+15125559999"}, {"ForwardedFrom": "not a number"}])
def test_no_evidence_no_tick(client, params):
    clinic = forwarding_clinic()

    twiml(signed_post(client, VOICE, {**call_params(), **params}))

    assert forwarded(False, clinic)


def test_a_new_number_clinic_is_not_ticked_by_a_forwarded_call(client):
    clinic = active_clinic(office_phone=PUBLISHED)
    services.clinic_checklist_tick(clinic_id=clinic.id, step=OnboardingStep.SAVE_NUMBER)

    twiml(signed_post(client, VOICE, {**call_params(), "ForwardedFrom": PUBLISHED}))

    assert not ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.PUBLISHED_LINE).exists()


@pytest.mark.django_db(transaction=True)  # real transactions, as in production: no test savepoints counted
def test_once_ticked_a_forwarded_call_stays_within_the_voice_budget(client, settings, django_assert_max_num_queries):
    settings.AI_AGENT_STREAM_URL = "wss://agent.dentsignal.example.com/stream"  # the usual path: the agent answers
    forwarding_clinic()
    twiml(signed_post(client, VOICE, {**call_params(sid="CA" + "1" * 32), "ForwardedFrom": PUBLISHED}))
    services.clinic_checklist_tick(clinic_id=CallLog.objects.get().clinic_id, step=OnboardingStep.TEST_INBOUND_CALL)

    with django_assert_max_num_queries(2):
        twiml(signed_post(client, VOICE, {**call_params(sid="CA" + "2" * 32), "ForwardedFrom": PUBLISHED}))


def test_the_no_agent_fallback_plays_the_message_instead_of_ringing_the_forwarded_line(client, settings):
    settings.AI_AGENT_STREAM_URL = ""
    clinic = forwarding_clinic()
    services.clinic_checklist_tick(clinic_id=clinic.id, step=OnboardingStep.TEST_INBOUND_CALL)  # log notes only the loop now

    root = twiml(signed_post(client, VOICE, call_params()))

    assert root.find("Dial") is None and "Thank you for calling Lake Dental" in root.findtext("Say")
    log = CallLog.objects.get()
    assert log.answered_by == CallAnswer.MESSAGE and "forwards its calls here" in log.fallback_reason


def test_without_forwarding_the_same_office_line_is_rung(client, settings):
    settings.AI_AGENT_STREAM_URL = ""
    active_clinic(office_phone=PUBLISHED)

    root = twiml(signed_post(client, VOICE, call_params()))

    assert root.findtext("Dial") == PUBLISHED
    assert CallLog.objects.get().answered_by == CallAnswer.OFFICE_LINE


@pytest.mark.django_db(transaction=True)  # the office-line cache follows clinics on commit
def test_the_voice_fallback_plays_the_message_instead_of_ringing_the_forwarded_line(client, database_down, caplog):
    forwarding_clinic()

    with database_down:
        root = twiml(signed_post(client, VOICE_FALLBACK, call_params()))

    assert root.find("Dial") is None and "Thank you for calling Lake Dental" in root.findtext("Say")
    assert fallbacks.FORWARD_LOOP_REASON in caplog.text
