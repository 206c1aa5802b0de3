"""`manage.py telephony_doctor` on the sandbox Twilio: an error outside DEBUG, a warning in development."""

import json

import pytest

from tests.conftest import PUBLIC_BASE_URL
from tests.telephony.numbers.sandbox_numbers import doctor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def otherwise_healthy(settings, sandbox):
    """Everything else the doctor checks is fine, so the sandbox is its only finding."""
    settings.API_BASE_URL = PUBLIC_BASE_URL
    settings.AI_AGENT_STREAM_URL = "wss://agent.example.com/stream"
    settings.TWILIO_SANDBOX = True


def test_the_sandbox_outside_debug_is_an_error_exit_2(settings):
    settings.DEBUG = False

    code, out = doctor("--json")
    text_code, text = doctor()

    report = json.loads(out)
    assert code == 2 and report["exit_code"] == 2 and report["ok"] is False
    (finding,) = report["findings"]
    assert finding["code"] == "sandbox_twilio" and finding["severity"] == "error"
    assert "published in this project's repository" in finding["message"]
    assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in finding["fix"]
    assert text_code == 2
    assert "Errors (1)" in text and "TWILIO_SANDBOX=true with DEBUG off" in text and "1 error(s), 0 warning(s)." in text


def test_the_sandbox_in_development_is_a_warning_exit_1(settings):
    settings.DEBUG = True

    code, out = doctor("--json")

    report = json.loads(out)
    assert code == 1 and report["exit_code"] == 1
    assert [(f["code"], f["severity"]) for f in report["findings"]] == [("sandbox_twilio", "warning")]
