"""The form-body check the campaign contract relies on (tests/openapi.assert_form_matches_spec)
refuses what Twilio's spec refuses."""

from __future__ import annotations

from urllib.parse import urlencode

import jsonschema
import pytest

from tests.openapi import assert_form_matches_spec

PATH = "/v1/Services/MG" + "2c" * 16 + "/Compliance/Usa2p"
VALID = [
    ("BrandRegistrationSid", "BN" + "3d" * 16),
    ("Description", "Appointment confirmations and reminders for a dental clinic's patients."),
    ("MessageFlow", "Patients give their mobile number at the front desk and agree to texts."),
    ("MessageSamples", "Reminder: your cleaning is tomorrow at 9:00. Reply C to confirm."),
    ("MessageSamples", "Thanks, your appointment is confirmed. Reply STOP to opt out."),
    ("UsAppToPersonUsecase", "LOW_VOLUME"),
    ("HasEmbeddedLinks", "false"),
    ("HasEmbeddedPhone", "true"),
]


def test_a_body_as_the_sdk_sends_it_passes():
    assert_form_matches_spec(PATH, "POST", urlencode(VALID))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ([*VALID, ("Colour", "blue")], "a parameter the spec does not list"),
        ([pair for pair in VALID if pair[0] != "MessageFlow"], "a required parameter missing"),
        ([*VALID, ("Description", "A second description of the same campaign, sent twice.")], "a non-array twice"),
        ([(k, "yes" if k == "HasEmbeddedLinks" else v) for k, v in VALID], "a boolean that is not true/false"),
        ([(k, "BN123" if k == "BrandRegistrationSid" else v) for k, v in VALID], "a SID of the wrong shape"),
    ],
)
def test_what_the_spec_refuses_fails(body, why):
    with pytest.raises((AssertionError, jsonschema.ValidationError)):
        assert_form_matches_spec(PATH, "POST", urlencode(body))
