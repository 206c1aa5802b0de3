"""The test call proves the AI agent answered: the "test inbound call" step is ticked by the
agent's stream-started callback, never by a call a fallback answered (issue 14)."""

import pytest
from django.conf import settings

from clinics.models import ChecklistItem, NumberState, OnboardingStep
from telephony.models import CallAnswer, CallLog
from tests.conftest import PUBLIC_BASE_URL
from tests.telephony.webhooks.twilio_requests import VOICE, active_clinic, call_params, signed_post, twiml

# embedded: the status writes go through the hot path's per-vendor SQL, SQLite's too (scripts/test).
pytestmark = [pytest.mark.django_db, pytest.mark.no_sandbox, pytest.mark.embedded]

STREAM_STATUS = "/twilio/stream-status"
AGENT = "wss://agent.example.com/stream"
CALL = "CA" + "c" * 32


def stream_event(event, *, call_sid=CALL, **extra):
    return {
        "AccountSid": settings.TWILIO_ACCOUNT_SID,
        "CallSid": call_sid,
        "StreamSid": "MZ" + "d" * 32,
        "StreamEvent": event,
        "Timestamp": "2026-12-02T17:00:00.000Z",
        **extra,
    }


def call_step_ticked(clinic):
    return ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.TEST_INBOUND_CALL).exists()


def test_the_agent_twiml_asks_twilio_for_the_streams_status(client, settings):
    settings.AI_AGENT_STREAM_URL = AGENT
    active_clinic()

    root = twiml(signed_post(client, VOICE, call_params(sid=CALL)))

    stream = root.find("Connect/Stream")
    assert stream.get("url") == AGENT
    assert stream.get("statusCallback") == PUBLIC_BASE_URL + STREAM_STATUS
    assert stream.get("statusCallbackMethod") == "POST"


def test_conversation_relay_reports_on_the_connect_action(client, settings):
    settings.AI_AGENT_STREAM_URL, settings.AI_AGENT_MODE = AGENT, "conversation_relay"
    active_clinic()

    root = twiml(signed_post(client, VOICE, call_params(sid=CALL)))

    connect = root.find("Connect")
    assert (connect.get("action"), connect.get("method")) == (PUBLIC_BASE_URL + STREAM_STATUS, "POST")
    assert connect.find("ConversationRelay").get("url") == AGENT


def test_a_call_the_office_line_answered_does_not_tick_the_step_and_says_why(client, settings):
    settings.AI_AGENT_STREAM_URL = ""
    clinic = active_clinic(office_phone="+15125550100")

    root = twiml(signed_post(client, VOICE, call_params(sid=CALL)))

    assert root.find("Dial").text == "+15125550100"
    assert not call_step_ticked(clinic)
    log = CallLog.objects.get(call_sid=CALL)
    assert log.answered_by == CallAnswer.OFFICE_LINE
    assert log.fallback_reason.startswith("no AI agent is configured yet")
    assert log.stream_started_at is None


def test_a_clinic_not_active_is_named_as_the_reason(client, settings):
    settings.AI_AGENT_STREAM_URL = AGENT
    clinic = active_clinic(office_phone="")
    clinic.number_state = NumberState.RELEASING
    clinic.save()

    signed_post(client, VOICE, call_params(sid=CALL))

    log = CallLog.objects.get(call_sid=CALL)
    assert (log.answered_by, log.fallback_reason) == (CallAnswer.MESSAGE, "the clinic's number is not active (it is releasing)")
    assert not call_step_ticked(clinic)


def test_the_step_ticks_only_when_the_agents_stream_started(client, settings):
    settings.AI_AGENT_STREAM_URL = AGENT
    clinic = active_clinic()

    signed_post(client, VOICE, call_params(sid=CALL))
    log = CallLog.objects.get(call_sid=CALL)
    assert (log.answered_by, log.fallback_reason) == (CallAnswer.AGENT, "")
    assert not call_step_ticked(clinic)  # handed to the agent is not yet answered by it

    assert signed_post(client, STREAM_STATUS, stream_event("stream-started")).status_code == 204

    item = ChecklistItem.objects.get(clinic=clinic, step=OnboardingStep.TEST_INBOUND_CALL)
    assert item.done_by is None and CALL in item.note
    log.refresh_from_db()
    assert (log.stream_status, log.stream_sid) == ("stream-started", "MZ" + "d" * 32)
    assert log.stream_started_at is not None


def test_stopped_and_error_are_recorded_forward_only(client):
    clinic = active_clinic()
    signed_post(client, VOICE, call_params(sid=CALL))

    signed_post(client, STREAM_STATUS, stream_event("stream-error", StreamError="Connection to wss://agent failed"))
    log = CallLog.objects.get(call_sid=CALL)
    assert (log.stream_status, log.stream_error, log.stream_started_at) == (
        "stream-error",
        "Connection to wss://agent failed",
        None,
    )
    assert not call_step_ticked(clinic)

    signed_post(client, STREAM_STATUS, stream_event("stream-stopped"))
    signed_post(client, STREAM_STATUS, stream_event("stream-started"))  # late: the status stays "stopped"
    signed_post(client, STREAM_STATUS, stream_event("stream-started"))  # repeated: harmless

    log.refresh_from_db()
    assert log.stream_status == "stream-stopped"
    assert log.stream_error == "Connection to wss://agent failed"
    assert log.stream_started_at is not None
    assert ChecklistItem.objects.filter(clinic=clinic, step=OnboardingStep.TEST_INBOUND_CALL).count() == 1


def test_a_stream_for_a_call_we_never_logged_is_kept_and_ticks_nothing(client):
    clinic = active_clinic()

    assert signed_post(client, STREAM_STATUS, stream_event("stream-started")).status_code == 204

    log = CallLog.objects.get(call_sid=CALL)
    assert log.clinic is None and log.stream_status == "stream-started"
    assert not call_step_ticked(clinic)


def test_another_clinics_call_does_not_tick_this_clinic(client, settings):
    settings.AI_AGENT_STREAM_URL = AGENT
    clinic = active_clinic()
    other = active_clinic(number="+17375550199")

    signed_post(client, VOICE, call_params(to="+17375550199", sid=CALL))
    signed_post(client, STREAM_STATUS, stream_event("stream-started"))

    assert call_step_ticked(other) and not call_step_ticked(clinic)


@pytest.mark.parametrize(("status", "ticked", "recorded"), [("ended", True, "stream-stopped"), ("failed", False, "stream-error")])
def test_a_conversation_relay_session_end_is_recorded(client, settings, status, ticked, recorded):
    settings.AI_AGENT_STREAM_URL, settings.AI_AGENT_MODE = AGENT, "conversation_relay"
    clinic = active_clinic()
    signed_post(client, VOICE, call_params(sid=CALL))
    action = {
        "AccountSid": settings.TWILIO_ACCOUNT_SID,
        "CallSid": CALL,
        "CallStatus": "in-progress",
        "SessionId": "VX" + "e" * 32,
        "SessionStatus": status,
        "SessionDuration": "12",
    }
    if status == "failed":
        action.update(ErrorCode="64101", ErrorMessage="WebSocket connection failed")

    response = signed_post(client, STREAM_STATUS, action)

    root = twiml(response)  # TwiML for the rest of the call: nothing, so it ends
    assert list(root) == []
    assert call_step_ticked(clinic) is ticked
    log = CallLog.objects.get(call_sid=CALL)
    assert log.stream_status == recorded
    assert log.stream_error == ("64101 WebSocket connection failed" if status == "failed" else "")


def test_unsigned_or_forged_stream_callbacks_are_refused_and_write_nothing(client):
    clinic = active_clinic()

    unsigned = client.post(STREAM_STATUS, stream_event("stream-started"))
    forged = client.post(STREAM_STATUS, stream_event("stream-started"), HTTP_X_TWILIO_SIGNATURE="bm90IGEgc2lnbmF0dXJl")
    wrong_token = signed_post(client, STREAM_STATUS, stream_event("stream-started"), token="another-accounts-token-000000000")

    assert [r.status_code for r in (unsigned, forged, wrong_token)] == [403, 403, 403]
    assert CallLog.objects.count() == 0 and not call_step_ticked(clinic)
    assert client.get(STREAM_STATUS).status_code == 405


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"CallSid": "not-a-sid", "StreamEvent": "stream-started"}, "CallSid"),
        ({"CallSid": CALL, "StreamEvent": "stream-paused"}, "StreamEvent must be one of"),
        ({"CallSid": CALL}, "Expected StreamEvent"),
    ],
)
def test_bad_stream_callbacks_get_a_sentence_and_change_nothing(client, params, message):
    response = signed_post(client, STREAM_STATUS, params)

    assert response.status_code == 400 and message in response.content.decode()
    assert CallLog.objects.count() == 0


def test_the_stream_status_path_is_a_webhook_path():
    from telephony.webhook_paths import STREAM_STATUS_PATH, WEBHOOK_PATHS

    assert STREAM_STATUS_PATH == STREAM_STATUS and STREAM_STATUS in WEBHOOK_PATHS
