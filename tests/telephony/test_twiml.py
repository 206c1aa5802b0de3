"""The hot path's hand-written TwiML is byte for byte what the SDK's builders produce."""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Connect, VoiceResponse

from telephony import twiml

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


def sdk_connect_agent(mode: str, url: str, parameters: dict) -> str:
    response, connect = VoiceResponse(), Connect()
    noun = connect.conversation_relay(url=url) if mode == "conversation_relay" else connect.stream(url=url)
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
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "AI_AGENT_MODE must be stream or conversation_relay, not 'websocket'." in result.stderr
