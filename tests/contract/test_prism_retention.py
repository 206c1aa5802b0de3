"""Contract: the retention run's Twilio requests (a text's body redacted with an empty Body, a call
record deleted) are ones Twilio's API v2010 description allows (Prism answers 422 otherwise)."""

from __future__ import annotations

import pytest

from telephony import twilio
from tests.contract.prism import ACCOUNT

pytestmark = [pytest.mark.contract, pytest.mark.no_sandbox]

SUBACCOUNT = "AC" + "5b" * 16


@pytest.fixture(autouse=True)
def twilio_is_prism(prism, settings):
    settings.TWILIO_API_BASE_URL = prism
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = "contract-test-token"


def test_message_body_redaction_with_an_empty_body_in_a_subaccount():
    assert twilio.message_body_redact(sid="SM" + "a" * 32, account_sid=SUBACCOUNT) == ""


def test_call_record_delete():
    assert twilio.call_record_delete(sid="CA" + "a" * 32) is True
