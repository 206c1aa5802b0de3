"""The bounded fan-out over accounts (telephony/fleet.py): at most FLEET_CONCURRENCY jobs at
once, a retryable TwilioError tried again after Twilio's Retry-After (else a short backoff),
a final error kept for its account while the others run, progress reported in order."""

from __future__ import annotations

import threading
import time

import pytest

from telephony import fleet, twilio


def rate_limited(retry_after: float | None = None) -> twilio.TwilioError:
    error = twilio.TwilioError(doing="listing numbers", status=429, code=20429)
    error.retry_after = retry_after  # what the adapter reads from Twilio's Retry-After header
    return error


def test_no_more_jobs_run_at_once_than_the_setting_allows(settings):
    settings.FLEET_CONCURRENCY = 3
    lock, running, peak = threading.Lock(), [0], [0]

    def job() -> str:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return "ok"

    progress: list[tuple[int, int]] = []
    outcome = fleet.accounts_fan_out({f"AC{i}": job for i in range(12)}, on_progress=lambda d, t: progress.append((d, t)))

    assert outcome.results == {f"AC{i}": "ok" for i in range(12)} and not outcome.errors
    assert peak[0] == 3
    assert progress[-1] == (12, 12) and [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_a_429_is_waited_out_for_its_retry_after_then_tried_again(settings):
    settings.FLEET_CONCURRENCY = 2
    calls = {"AC1": 0}
    waits: list[float] = []

    def limited_once() -> int:
        calls["AC1"] += 1
        if calls["AC1"] == 1:
            raise rate_limited(retry_after=7)
        return 5

    outcome = fleet.accounts_fan_out({"AC1": limited_once, "AC2": lambda: 6}, sleep=waits.append)

    assert outcome.results == {"AC1": 5, "AC2": 6}
    assert waits == [7.0] and outcome.retries == 1 and outcome.rate_limited == 1


def test_without_retry_after_a_short_backoff_and_a_final_error_stays_with_its_account(settings):
    settings.FLEET_ATTEMPTS = 3
    waits: list[float] = []

    def always_500() -> None:
        raise twilio.TwilioError(doing="listing numbers", status=500, code=20500)

    def refused() -> None:
        raise twilio.TwilioError(doing="listing numbers", status=403, code=20003)

    outcome = fleet.accounts_fan_out({"AC1": always_500, "AC2": refused, "AC3": lambda: "fine"}, sleep=waits.append)

    assert outcome.results == {"AC3": "fine"}
    assert outcome.errors["AC1"].status == 500 and outcome.errors["AC2"].code == 20003
    assert len(waits) == 2 and all(0 <= w <= fleet.BACKOFF_MAX_SECONDS for w in waits)  # the 403 is not retried


@pytest.mark.parametrize("retry_after", [120])
def test_a_long_retry_after_is_cut_to_the_cap(retry_after):
    assert fleet.retry_wait_seconds(rate_limited(retry_after), 0) == fleet.RETRY_AFTER_MAX_SECONDS


def test_no_job_starts_once_the_budget_says_no_and_the_rest_are_reported_not_started():
    started: list[str] = []

    def job(key: str):
        return lambda: started.append(key) or key

    outcome = fleet.accounts_fan_out(
        {f"AC{i}": job(f"AC{i}") for i in range(5)}, concurrency=1, keep_starting=lambda: len(started) < 2
    )

    assert outcome.results == {"AC0": "AC0", "AC1": "AC1"}
    assert outcome.not_started == ["AC2", "AC3", "AC4"] and not outcome.errors


def test_one_at_a_time_runs_in_the_callers_thread_and_a_pool_closes_its_database_connections(monkeypatch):
    threads: set[str] = set()
    closed: list[str] = []
    monkeypatch.setattr(fleet.connections, "close_all", lambda: closed.append(threading.current_thread().name))

    def job() -> None:
        threads.add(threading.current_thread().name)

    fleet.accounts_fan_out({"AC1": job, "AC2": job}, concurrency=1, uses_database=True)
    assert threads == {threading.current_thread().name} and closed == []

    threads.clear()
    fleet.accounts_fan_out({"AC1": job, "AC2": job, "AC3": job}, concurrency=2, uses_database=True)
    assert threading.current_thread().name not in threads
    assert len(closed) == 3 and all(name.startswith("fleet") for name in closed)
