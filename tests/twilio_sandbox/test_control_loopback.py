"""The sandbox's control API (faults, seeded numbers, the request log) answers loopback clients only."""

from __future__ import annotations

import io
import json
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from twilio_sandbox.app import SandboxApp

pytestmark = pytest.mark.no_sandbox


@pytest.fixture
def app(tmp_path) -> SandboxApp:
    return SandboxApp(str(tmp_path / "sandbox.sqlite3"))


def call(app: SandboxApp, method: str, path: str, remote_addr: str, payload: Any = None) -> tuple[int, Any]:
    """One request straight into the WSGI app, as from `remote_addr` (the server fills REMOTE_ADDR in)."""
    body = json.dumps(payload).encode() if payload is not None else b""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "REMOTE_ADDR": remote_addr,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    setup_testing_defaults(environ)
    status: list[str] = []
    chunks = app(environ, lambda s, headers: status.append(s))
    data = b"".join(chunks)
    return int(status[0].split()[0]), json.loads(data) if data else None


@pytest.mark.parametrize("remote_addr", ["192.0.2.10", "10.0.0.5", "2001:db8::1", "::ffff:192.0.2.10", "", "not-an-ip"])
def test_control_requests_from_elsewhere_are_refused_and_change_nothing(app, remote_addr):
    fault = {"method": "POST", "path": "IncomingPhoneNumbers.json", "mode": "error", "status": 500, "times": 1}
    numbers = {"numbers": [{"phone_number": "+15125550123"}]}

    answers = [
        call(app, "POST", "/__sandbox__/faults", remote_addr, fault),
        call(app, "POST", "/__sandbox__/numbers", remote_addr, numbers),
        call(app, "GET", "/__sandbox__/state", remote_addr),
        call(app, "GET", "/__sandbox__/requests", remote_addr),
        call(app, "POST", "/__sandbox__/reset", remote_addr, {}),
    ]

    assert [status for status, _ in answers] == [403] * 5
    assert answers[0][1] == {"error": "the sandbox's control API answers loopback clients only"}
    # Nothing was seeded and no fault is queued: the machine's own view is untouched.
    assert call(app, "GET", "/__sandbox__/state", "127.0.0.1")[1]["incoming_phone_numbers"] == []
    assert app.store.take_fault("POST", "/2010-04-01/Accounts/AC1/IncomingPhoneNumbers.json") is None


@pytest.mark.parametrize("remote_addr", ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"])
def test_control_requests_from_loopback_are_served(app, remote_addr):
    status, body = call(app, "POST", "/__sandbox__/numbers", remote_addr, {"numbers": [{"phone_number": "+15125550123"}]})

    assert status == 200 and len(body["sids"]) == 1
    assert [n["phone_number"] for n in call(app, "GET", "/__sandbox__/state", remote_addr)[1]["incoming_phone_numbers"]] == [
        "+15125550123"
    ]
