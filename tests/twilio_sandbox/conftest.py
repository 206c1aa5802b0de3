"""Fixtures of the sandbox's own tests, which drive its server directly (no_sandbox)."""

import pytest

from tests.conftest import SandboxControl


@pytest.fixture
def control(sandbox_server) -> SandboxControl:
    """A fresh sandbox Twilio and this test's handle on its control API."""
    control = SandboxControl(sandbox_server.url)
    control.reset()
    return control
