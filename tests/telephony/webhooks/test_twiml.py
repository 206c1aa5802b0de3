"""The hot path's hand-written TwiML is byte for byte what the SDK's builders produce, and every
TwiML answer is well-formed XML whatever the data holds."""

import datetime as dt
import itertools
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Connect, VoiceResponse

from clinics.models import Appointment, Clinic, NumberState, Patient
from telephony.webhooks import twiml
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import ClinicFactory

# Everything XML escapes, line breaks (escaped only in attributes), non-ASCII, emptiness.
AWKWARD = [
    "Austin Dental",
    "",
    'O\'Brien & Sons <Dental> "Smile"',
    "a\r\nb\tc\nd",
    "Zoë's Zahnarztpraxis – 歯科 😀",
    "&amp; already escaped &#10;",
    "]]> <![CDATA[",
]


def sdk_connect_agent(mode: str, url: str, parameters: dict, status_callback: str = "") -> str:
    response = VoiceResponse()
    if mode == "conversation_relay":
        connect = Connect(action=status_callback, method="POST") if status_callback else Connect()
        noun = connect.conversation_relay(url=url)
    else:
        connect = Connect()
        callback = {"status_callback": status_callback, "status_callback_method": "POST"} if status_callback else {}
        noun = connect.stream(url=url, **callback)
    for name, value in parameters.items():
        noun.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


@pytest.mark.parametrize("mode", ["stream", "conversation_relay"])
@pytest.mark.parametrize("value", AWKWARD)
def test_agent_connect_matches_the_sdk(mode, value):
    parameters = {"clinic_id": "42", "clinic_name": value, "caller": "+15125550123", "call_sid": "CA" + "a" * 32}
    url = "wss://agent.example.com/stream?a=1&b=" + value

    assert twiml.connect_agent(mode=mode, url=url, parameters=parameters) == sdk_connect_agent(mode, url, parameters)


@pytest.mark.parametrize("mode", ["stream", "conversation_relay"])
@pytest.mark.parametrize("value", AWKWARD)
def test_agent_connect_with_a_status_callback_matches_the_sdk(mode, value):
    parameters = {"clinic_id": "42", "clinic_name": value}
    url, callback = "wss://agent.example.com/stream", "https://api.example.com/twilio/stream-status?x=1&y=" + value

    built = twiml.connect_agent(mode=mode, url=url, parameters=parameters, status_callback=callback)

    assert built == sdk_connect_agent(mode, url, parameters, callback)
    root = ET.fromstring(built)
    if mode == "stream":
        stream = root.find("Connect/Stream")
        assert (stream.get("statusCallback"), stream.get("statusCallbackMethod")) == (twiml.xml_safe(callback), "POST")
    else:
        connect = root.find("Connect")
        assert (connect.get("action"), connect.get("method")) == (twiml.xml_safe(callback), "POST")
    empty = twiml.connect_agent(mode=mode, url=url, parameters={}, status_callback=callback)
    assert empty == sdk_connect_agent(mode, url, {}, callback)


@pytest.mark.parametrize("mode", ["stream", "conversation_relay"])
def test_agent_connect_without_parameters_matches_the_sdk(mode):
    url = "wss://agent.example.com/stream"
    assert twiml.connect_agent(mode=mode, url=url, parameters={}) == sdk_connect_agent(mode, url, {})


@pytest.mark.parametrize("name, value", list(itertools.product(AWKWARD[:4], AWKWARD)))
def test_parameter_names_and_values_are_escaped_as_the_sdk_escapes_them(name, value):
    url = "wss://agent.example.com/stream"
    parameters = {name: value}
    assert twiml.connect_agent(mode="stream", url=url, parameters=parameters) == sdk_connect_agent("stream", url, parameters)


@pytest.mark.parametrize("text", AWKWARD)
def test_message_reply_matches_the_sdk(text):
    response = MessagingResponse()
    if text:
        response.message(text)
    assert twiml.message_reply(text) == str(response)


def test_an_unknown_agent_mode_stops_the_app_with_a_sentence():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dentsignal.settings", "AI_AGENT_MODE": "websocket"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=Path(__file__).resolve().parents[3],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "AI_AGENT_MODE must be stream or conversation_relay, not 'websocket'." in result.stderr


# ------------------------------------------------------------------- always well-formed

C0_CONTROLS = "".join(map(chr, range(0x20)))
# Every C0 control (tab, LF and CR included: XML allows those three), DEL, a lone
# surrogate and the two non-characters, inside a clinic's name.
HOSTILE_NAME = "Smile" + C0_CONTROLS + "\x7f\ud800\ufffe\uffff" + "Dental"
# What XML 1.0 keeps of it: tab, LF, CR and DEL are allowed characters.
KEPT_NAME = "Smile\t\n\r\x7fDental"
# ...as a parser reads it back from character data: XML turns CR (and CRLF) into LF.
KEPT_TEXT = KEPT_NAME.replace("\r", "\n")


def test_xml_safe_drops_exactly_what_xml_forbids():
    forbidden = [chr(c) for c in range(0x20) if c not in (0x9, 0xA, 0xD)] + ["\ud800", "\udfff", "\ufffe", "\uffff"]
    allowed = ["\t", "\n", "\r", " ", "\x7f", "\x85", "\ud7ff", "\ue000", "\ufffd", "\U00010000", "\U0010ffff", "é", "😀"]

    assert twiml.xml_safe("".join(forbidden)) == ""
    assert twiml.xml_safe("".join(allowed)) == "".join(allowed)
    assert twiml.xml_safe(HOSTILE_NAME) == KEPT_NAME


@pytest.mark.parametrize("mode", ["stream", "conversation_relay"])
def test_agent_connect_with_forbidden_characters_parses_and_keeps_the_rest(mode):
    parameters = {"clinic_name": HOSTILE_NAME, "caller": "+1512\x00555\x1f0123"}

    root = ET.fromstring(twiml.connect_agent(mode=mode, url="wss://a.example.com/s?x=\x0b1", parameters=parameters))

    noun = root.find(f"Connect/{twiml.AGENT_NOUNS[mode]}")
    assert noun.get("url") == "wss://a.example.com/s?x=1"
    values = {p.get("name"): p.get("value") for p in noun.findall("Parameter")}
    assert values == {"clinic_name": KEPT_NAME, "caller": "+15125550123"}


def test_message_reply_with_forbidden_characters_parses():
    root = ET.fromstring(twiml.message_reply(f"Thanks, {HOSTILE_NAME} got it."))

    assert root.find("Message").text == f"Thanks, {KEPT_TEXT} got it."


# The same through the webhooks, for a clinic whose stored name holds every C0 control
# (saved before names were validated, or written by a script).

CLINIC_NUMBER, PATIENT = "+15125550142", "+15125550999"


def signed_post(client, path, params):
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def parsed(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    return ET.fromstring(response.content)  # raises ParseError on ill-formed XML


@pytest.fixture
def hostile_clinic(db):
    # A database cannot store a lone surrogate (not UTF-8), nor PostgreSQL a NUL: the rest of
    # HOSTILE_NAME is what a stored name can hold.
    unstorable = "\ud800" + ("\x00" if connection.vendor == "postgresql" else "")
    return ClinicFactory(
        name=HOSTILE_NAME.translate({ord(c): None for c in unstorable}),
        office_phone="",
        twilio_number=CLINIC_NUMBER,
        twilio_number_sid="PN" + "4" * 32,
        number_state=NumberState.ACTIVE,
    )


def call(client):
    return signed_post(client, "/inbound/voice", {"CallSid": "CA" + "a" * 32, "From": PATIENT, "To": CLINIC_NUMBER})


@pytest.mark.embedded  # what a stored name can hold differs per database vendor
@pytest.mark.no_sandbox
def test_voice_agent_answer_is_well_formed(client, settings, hostile_clinic):
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"

    root = parsed(call(client))

    values = {p.get("name"): p.get("value") for p in root.iter("Parameter")}
    assert values["clinic_name"] == KEPT_NAME


@pytest.mark.embedded  # what a stored name can hold differs per database vendor
@pytest.mark.no_sandbox
@pytest.mark.parametrize("agent_url", ["", "wss://agent.example.com/stream"])
def test_voice_fallback_answer_is_well_formed(client, settings, hostile_clinic, agent_url):
    settings.AI_AGENT_STREAM_URL = agent_url
    if agent_url:  # the agent only takes live clinics: this one is on its way out
        Clinic.objects.filter(pk=hostile_clinic.pk).update(number_state=NumberState.RELEASING)

    root = parsed(call(client))

    (say,) = list(root)
    assert say.tag == "Say" and KEPT_TEXT in say.text


@pytest.mark.embedded  # what a stored name can hold differs per database vendor
@pytest.mark.no_sandbox
def test_voice_fallback_dial_is_well_formed(client, settings, hostile_clinic):
    settings.AI_AGENT_STREAM_URL = ""
    Clinic.objects.filter(pk=hostile_clinic.pk).update(office_phone="+15125550100")

    root = parsed(call(client))

    (dial,) = list(root)
    assert dial.tag == "Dial" and dial.text == "+15125550100" and dial.get("callerId") == CLINIC_NUMBER


@pytest.mark.embedded  # what a stored name can hold differs per database vendor
@pytest.mark.no_sandbox
@pytest.mark.parametrize("body", ["HELP", "Hello?", "C"])
def test_sms_answers_are_well_formed(client, hostile_clinic, body):
    patient = Patient.objects.create(clinic=hostile_clinic, name="Pat", phone=PATIENT)
    if body == "C":
        Appointment.objects.create(clinic=hostile_clinic, patient=patient, starts_at=timezone.now() + dt.timedelta(days=1))

    response = signed_post(
        client, "/api/sms/inbound", {"MessageSid": "SM" + "c" * 32, "From": PATIENT, "To": CLINIC_NUMBER, "Body": body}
    )

    text = parsed(response).find("Message").text
    assert KEPT_TEXT in text
