"""The sandbox calls a Trust Hub bundle's StatusCallback when its review is decided, signed
as Twilio signs (with the bundle's account's auth token), from its review timer too; it
calls loopback hosts only, and brands and campaigns (no StatusCallback at Twilio) never."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator

from tests.twilio_sandbox.trust_hub import control_post, profile_submit
from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

pytestmark = pytest.mark.no_sandbox
PROFILE_POLICY = "RNdfbf3fae0e1107f8aded0e7cead80bf5"


class _Receiver:
    """A loopback HTTP server standing in for the app: keeps what it receives, answers 204."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                received.append({"path": self.path, "form": dict(parse_qsl(body)), "headers": dict(self.headers)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/twilio/a2p-status"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    receiver = _Receiver()
    yield receiver
    receiver.httpd.shutdown()


def _callbacks(control, bundle_sid: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """What the sandbox's callback log says about this bundle's callbacks (waits for the first)."""
    deadline = time.monotonic() + timeout
    while True:
        logged = [c for c in control._call("GET", "callbacks")["callbacks"] if c["form"]["BundleSid"] == bundle_sid]
        if logged or time.monotonic() > deadline:
            return logged
        time.sleep(0.05)


def test_a_decided_bundle_calls_back_signed_with_its_accounts_token(api, control, receiver):
    control_post(control, "a2p-review", {"mode": "manual"})
    created = api(
        "POST",
        "/v1/CustomerProfiles",
        data={"FriendlyName": "p", "Email": "a@example.com", "PolicySid": PROFILE_POLICY, "StatusCallback": receiver.url},
        expect=201,
    )
    assert created["status_callback"] == receiver.url
    sid = profile_submit(api, "CustomerProfiles", PROFILE_POLICY, "customer_profile_business_information", with_address=True)
    # The StatusCallback can also be given (or changed) when the bundle is updated, e.g. submitted.
    api("POST", f"/v1/CustomerProfiles/{sid}", data={"StatusCallback": receiver.url}, expect=200)

    control_post(control, "a2p-decide", {"sid": sid, "outcome": "reject", "code": 30893})

    [callback] = receiver.wait(1)
    assert callback["path"] == "/twilio/a2p-status"
    assert callback["form"] == {"AccountSid": SANDBOX_ACCOUNT_SID, "BundleSid": sid, "Status": "twilio-rejected"}
    signature = callback["headers"]["X-Twilio-Signature"]
    assert RequestValidator(SANDBOX_AUTH_TOKEN).validate(receiver.url, callback["form"], signature)
    assert not RequestValidator("another-token").validate(receiver.url, callback["form"], signature)
    assert [c["status"] for c in _callbacks(control, sid)] == [204]


def test_the_review_timer_decides_and_calls_back_without_anybody_reading_the_bundle(api, control, receiver):
    control_post(control, "a2p-review", {"mode": "manual"})
    sid = profile_submit(api, "CustomerProfiles", PROFILE_POLICY, "customer_profile_business_information", with_address=True)
    api("POST", f"/v1/CustomerProfiles/{sid}", data={"StatusCallback": receiver.url}, expect=200)
    requests_before = len(control.requests())
    control_post(control, "a2p-review", {"mode": "approve", "after_seconds": 0})

    [callback] = receiver.wait(1)

    assert callback["form"]["Status"] == "twilio-approved"
    assert len(control.requests()) == requests_before  # decided by the timer, not by a read
    time.sleep(1)  # the timer's later ticks do not decide (nor call back) the same review again
    assert len(receiver.received) == 1


def test_a_callback_to_another_host_than_loopback_is_not_sent(api, control):
    control_post(control, "a2p-review", {"mode": "manual"})
    sid = profile_submit(api, "CustomerProfiles", PROFILE_POLICY, "customer_profile_business_information", with_address=True)
    api(
        "POST",
        f"/v1/CustomerProfiles/{sid}",
        data={"StatusCallback": "https://dentsignal.example.com/twilio/a2p-status"},
        expect=200,
    )

    control_post(control, "a2p-decide", {"sid": sid, "outcome": "approve"})

    [logged] = _callbacks(control, sid)
    assert logged["status"] is None
    assert logged["error"] == "not sent: the sandbox calls back loopback hosts only, not 'dentsignal.example.com'"
