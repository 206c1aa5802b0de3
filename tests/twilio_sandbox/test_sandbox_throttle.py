"""The sandbox's latency and per-account limits (twilio_sandbox/throttle.py): a request beyond
an account's limit is Twilio's 429 / 20429 with Retry-After and changes nothing; other accounts
and concurrent requests are served side by side; the knob is set from the control API and the
environment."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from twilio_sandbox.throttle import TOO_MANY_REQUESTS, Limits, Throttle

MAIN = (SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
ACCOUNTS = "/2010-04-01/Accounts"
pytestmark = pytest.mark.no_sandbox


def _at_once(calls):
    """Run the zero-argument `calls` in threads started together; their results in order."""
    results: list = [None] * len(calls)

    def run(i, call):
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


@pytest.mark.timing  # the two purchases must overlap within the latency
def test_beyond_an_accounts_concurrency_the_answer_is_twilios_429_and_nothing_changes(sandbox_server, control):
    url = sandbox_server.url
    sub = requests.post(f"{url}{ACCOUNTS}.json", auth=MAIN, data={"FriendlyName": "Clinic 2"}, timeout=10).json()["sid"]
    control._call("POST", "throttle", {"latency_ms": 400, "account_concurrency": 1, "retry_after": 7})

    def buy(number):
        return lambda: requests.post(
            f"{url}{ACCOUNTS}/{SANDBOX_ACCOUNT_SID}/IncomingPhoneNumbers.json",
            auth=MAIN,
            data={"PhoneNumber": number},
            timeout=10,
        )

    other_account = lambda: requests.get(f"{url}{ACCOUNTS}/{sub}.json", auth=MAIN, timeout=10)  # noqa: E731
    first, second, other = _at_once([buy("+15125550101"), buy("+15125550102"), other_account])

    answers = sorted([first, second], key=lambda r: r.status_code)
    assert [r.status_code for r in answers] == [201, 429]
    refused = answers[1]
    assert refused.headers["Retry-After"] == "7"
    assert refused.json() == {
        "code": 20429,
        "message": TOO_MANY_REQUESTS,
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }
    assert other.status_code == 200  # another account's limit is its own
    owned = [n["phone_number"] for n in control._call("GET", "state")["incoming_phone_numbers"]]
    assert owned == [answers[0].json()["phone_number"]]  # the refused purchase bought nothing
    state = control._call("GET", "throttle")
    # the subaccount's creation, the two purchases and the other account's fetch
    assert (state["requests"], state["refused"], state["peak_account_concurrency"]) == (4, 1, 1)
    assert state["peak_concurrency"] == 2


@pytest.mark.timing
def test_latency_delays_every_answer_but_requests_wait_side_by_side(sandbox_server, control):
    control._call("POST", "throttle", {"latency_ms": 200})
    fetch = lambda: requests.get(f"{sandbox_server.url}{ACCOUNTS}/{SANDBOX_ACCOUNT_SID}.json", auth=MAIN, timeout=10)  # noqa: E731

    started = time.monotonic()
    answers = _at_once([fetch] * 6)
    took = time.monotonic() - started

    assert [a.status_code for a in answers] == [200] * 6
    assert 0.2 <= took < 0.6  # six answers in about one latency, not six
    assert control._call("GET", "throttle")["peak_concurrency"] >= 2


def test_a_reset_returns_to_no_delay_and_no_limit_and_a_bad_value_changes_nothing(control):
    control._call("POST", "throttle", {"latency_ms": 150, "account_concurrency": 4})
    bad = requests.post(f"{control.url}/__sandbox__/throttle", json={"account_rate": "fast"}, timeout=10)
    assert bad.status_code == 400 and "account_rate must be a number" in bad.json()["error"]
    assert control._call("GET", "throttle")["account_rate"] == 0

    control.reset()

    state = control._call("GET", "throttle")
    assert (state["latency_ms"], state["account_concurrency"], state["account_rate"], state["requests"]) == (0, 0, 0, 0)


def test_an_accounts_rate_limit_counts_a_sliding_second():
    now = [100.0]
    throttle = Throttle(Limits(account_rate=2), clock=lambda: now[0])
    for _ in range(2):
        throttle.enter("AC1")
        throttle.leave("AC1")
    with pytest.raises(Exception, match="Too many requests") as refused:
        throttle.enter("AC1")
    assert refused.value.status == 429 and refused.value.code == 20429
    throttle.enter("AC2")  # another account: its own second

    now[0] += 1.01
    throttle.enter("AC1")  # the window slid on
    assert throttle.state()["refused"] == 1


def test_the_environment_sets_the_limits_the_server_starts_with():
    limits = Limits.from_environment(
        {
            "TWILIO_SANDBOX_LATENCY_MS": "150",
            "TWILIO_SANDBOX_ACCOUNT_CONCURRENCY": "10",
            "TWILIO_SANDBOX_ACCOUNT_RATE": "1",
            "TWILIO_SANDBOX_RETRY_AFTER": "2",
        }
    )
    assert limits == Limits(latency_ms=150.0, account_concurrency=10, account_rate=1.0, retry_after=2)
    assert Limits.from_environment({}) == Limits()  # fast by default
    with pytest.raises(ValueError, match="latency_ms must be 0 or more"):
        Limits.from_environment({"TWILIO_SANDBOX_LATENCY_MS": "-1"})
