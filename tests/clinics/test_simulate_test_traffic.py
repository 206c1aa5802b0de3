"""The sandbox's "Simulate test call / SMS" button: signed traffic through our real webhook
views, ticking the checklist only as honestly as Twilio's own callbacks would."""

import base64
import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.urls import reverse

from clinics.models import ChecklistItem, NumberState, OnboardingStep
from telephony.models import CallAnswer, CallLog, MessageLog
from tests.factories import ClinicFactory
from tests.permissions import staff_client

pytestmark = pytest.mark.django_db
NUMBER = "+15125550188"
# RFC 6455, section 1.3: the GUID the server appends to the client's key.
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@pytest.fixture
def clinic():
    return ClinicFactory(
        name="Simulated Dental",
        office_phone="+15125550100",
        twilio_number=NUMBER,
        twilio_number_sid="PN" + "5" * 32,
        number_state=NumberState.ACTIVE,
    )


@pytest.fixture
def onboarding(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


class _Agent(BaseHTTPRequestHandler):
    """Accepts the WebSocket opening handshake (HTTP 101), as an AI agent endpoint does."""

    def do_GET(self) -> None:
        accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + WEBSOCKET_GUID).encode()).digest())  # noqa: S324 - RFC 6455
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def agent_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Agent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{server.server_address[1]}/agent"
    server.shutdown()
    server.server_close()


@pytest.fixture
def dead_agent_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"ws://127.0.0.1:{port}/agent"  # nothing listens there


def simulate(client, clinic):
    return client.post(reverse("admin:clinics_clinic_simulate", args=[clinic.pk]), follow=True)


def page(client, clinic):
    return client.get(reverse("admin:clinics_clinic_change", args=[clinic.pk])).content.decode()


def ticked(clinic, step):
    return ChecklistItem.objects.filter(clinic=clinic, step=step).exists()


def test_without_an_agent_the_call_step_stays_open_and_the_page_says_why(onboarding, clinic, settings):
    settings.AI_AGENT_STREAM_URL = ""

    response = simulate(onboarding, clinic)

    # Issue 22: a call that reached the office line was shown as a green success.
    said = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert said[0] == (
        "warning",
        "Not yet: the AI agent did not answer the test call, because it went to the office line: no AI agent is "
        "configured yet (tell the DentSignal operator: the doctor check says what to set).",
    )
    assert said[1][0] == "success" and said[1][1].startswith("The test SMS (HELP) reached DentSignal and was answered: ")
    assert not ticked(clinic, OnboardingStep.TEST_INBOUND_CALL)
    assert ticked(clinic, OnboardingStep.TEST_INBOUND_SMS)  # the SMS really reached our webhook
    call = CallLog.objects.get(clinic=clinic)
    assert (call.answered_by, call.to_number) == (CallAnswer.OFFICE_LINE, NUMBER)
    assert MessageLog.objects.get(clinic=clinic).body == "HELP"
    html = page(onboarding, clinic)
    assert "reached the office line, not the agent: no AI agent is configured yet" in html
    assert f"{reverse('admin:telephony_calllog_changelist')}?q={call.call_sid}" in html


def test_with_an_agent_that_answers_the_call_step_ticks(onboarding, clinic, settings, agent_url):
    settings.AI_AGENT_STREAM_URL = agent_url

    response = simulate(onboarding, clinic)

    said = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert said[0] == ("success", "The AI agent answered the test call: it accepted the stream.")
    item = ChecklistItem.objects.get(clinic=clinic, step=OnboardingStep.TEST_INBOUND_CALL)
    call = CallLog.objects.get(clinic=clinic)
    assert call.call_sid in item.note and call.stream_status == "stream-started"
    assert "The AI agent answered a test call" in page(onboarding, clinic)


def test_with_an_agent_that_does_not_answer_the_stream_error_is_shown(onboarding, clinic, settings, dead_agent_url):
    settings.AI_AGENT_STREAM_URL = dead_agent_url

    response = simulate(onboarding, clinic)

    level, first = next((m.level_tag, str(m)) for m in response.context["messages"])
    assert level == "warning"
    assert first.startswith("Not yet: the AI agent did not answer the test call: could not connect to 127.0.0.1")
    assert not ticked(clinic, OnboardingStep.TEST_INBOUND_CALL)
    call = CallLog.objects.get(clinic=clinic)
    assert call.stream_status == "stream-error" and "could not connect to 127.0.0.1" in call.stream_error
    assert "handed to the AI agent, whose stream failed: could not connect" in page(onboarding, clinic)


def test_each_simulation_is_a_new_call(onboarding, clinic, settings):
    settings.AI_AGENT_STREAM_URL = ""

    simulate(onboarding, clinic)
    simulate(onboarding, clinic)

    assert CallLog.objects.filter(clinic=clinic).count() == 2
    assert MessageLog.objects.filter(clinic=clinic).count() == 2


def test_the_button_is_there_only_with_the_sandbox_and_the_permission(onboarding, clinic, settings, django_user_model):
    clerk = staff_client(django_user_model, "clerk", ["clinics.view_clinic", "clinics.change_clinic"])

    assert 'id="simulate-button"' in page(onboarding, clinic)
    assert 'id="simulate-button"' not in page(clerk, clinic)
    assert clerk.post(reverse("admin:clinics_clinic_simulate", args=[clinic.pk])).status_code == 403

    settings.TWILIO_SANDBOX = False
    assert 'id="simulate-button"' not in page(onboarding, clinic)
    response = onboarding.post(reverse("admin:clinics_clinic_simulate", args=[clinic.pk]))
    assert response.status_code == 404
    assert CallLog.objects.count() == 0 and MessageLog.objects.count() == 0


def test_a_clinic_without_a_number_gets_a_sentence(onboarding, settings):
    bare = ClinicFactory(name="Numberless Dental")

    response = simulate(onboarding, bare)

    assert any("has no number to call yet" in str(m) for m in response.context["messages"])
    assert 'id="simulate-button"' not in page(onboarding, bare)
    assert CallLog.objects.count() == 0
