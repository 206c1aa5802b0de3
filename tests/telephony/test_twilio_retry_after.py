"""TwilioError.retry_after: the wait Twilio asked for in a 429's or 503's Retry-After header,
read through the real SDK over HTTP from the sandbox, for fetches and list pages alike."""

from __future__ import annotations

from email.utils import formatdate
from types import SimpleNamespace

import pytest

from telephony import twilio
from telephony.twilio.http import retry_after_seconds


def _failure(call) -> twilio.TwilioError:
    with pytest.raises(twilio.TwilioError) as failed:
        call()
    return failed.value


def test_a_429_from_an_accounts_rate_limit_carries_its_retry_after(sandbox):
    sandbox._call("POST", "throttle", {"account_rate": 1, "retry_after": 3})
    twilio.account_fetch()

    error = _failure(twilio.account_fetch)

    assert (error.status, error.code, error.retry_after, error.retryable) == (429, 20429, 3.0, True)
    assert "try again in 3 seconds" in str(error)
    assert error.while_doing("checking the account").retry_after == 3.0  # kept when retold


def test_a_503_with_retry_after_is_retryable_and_carries_the_wait(sandbox):
    sandbox.fault(method="GET", path="IncomingPhoneNumbers", status=503, code=20503, message="Service unavailable", retry_after=5)

    error = _failure(twilio.incoming_numbers_list)  # a list page: the SDK's bare TwilioException

    assert (error.status, error.retry_after, error.retryable) == (503, 5.0, True)


def test_retry_after_is_none_on_other_failures_and_after_a_later_answer(sandbox):
    sandbox.fault(method="GET", path=r"/Accounts/AC[0-9a-f]+\.json", status=400, code=20001, message="Bad", retry_after=9)
    refused = _failure(twilio.account_fetch)
    assert (refused.retry_after, refused.retryable) == (None, False)

    sandbox.fault(method="GET", path=r"/Accounts/AC[0-9a-f]+\.json", status=429, code=20429, message="Slow down", retry_after=4)
    assert _failure(twilio.account_fetch).retry_after == 4.0
    sandbox.fault(method="GET", path=r"/Accounts/AC[0-9a-f]+\.json", status=429, code=20429, message="Slow down")
    without = _failure(twilio.account_fetch)
    assert (without.retry_after, without.retryable) == (None, True)  # the earlier 429's wait is not reused


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("999999", 86400.0), ("soon", None), ("", None)],
)
def test_retry_after_seconds_reads_delay_seconds(header, expected):
    assert retry_after_seconds(SimpleNamespace(headers={"Retry-After": header})) == expected


def test_retry_after_seconds_reads_an_http_date_from_now():
    import time

    in_a_minute = formatdate(time.time() + 60, usegmt=True)
    assert 55 <= retry_after_seconds(SimpleNamespace(headers={"Retry-After": in_a_minute})) <= 60
