"""Fixtures of the sandbox's own tests, which drive its server directly (no_sandbox)."""

import pytest
import requests

from tests.conftest import SandboxControl
from tests.openapi import assert_matches_spec
from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

AUTH = (SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)


@pytest.fixture
def control(sandbox_server) -> SandboxControl:
    """A fresh sandbox Twilio and this test's handle on its control API."""
    control = SandboxControl(sandbox_server.url)
    control.reset()
    return control


@pytest.fixture
def api(sandbox_server, control):
    """Raw HTTP to the sandbox, each successful answer checked against Twilio's spec."""

    def call(method: str, path: str, *, expect: int, data=None, params=None):
        response = requests.request(method, sandbox_server.url + path, auth=AUTH, data=data, params=params, timeout=10)
        assert response.status_code == expect, response.text
        if expect < 300:
            assert_matches_spec(path, method, expect, response.json())
        return response.json()

    return call
