"""Bounded parallel fan-out over Twilio accounts: the one way fleet operations (the number
audit, usage, per-account sweeps) reach thousands of subaccounts.

`accounts_fan_out(jobs)` runs one job per account in a pool of FLEET_CONCURRENCY threads.
A job talks to Twilio only: the database stays in the calling thread, which reads before
and writes after (in batches), so the query count does not grow with the accounts a batch
holds. A job that meets a retryable TwilioError (429/20429, Twilio 5xx, no answer) is tried
again after the error's Retry-After when Twilio sent one
(https://www.twilio.com/docs/usage/rate-limits: "respect the Retry-After header"), else
after a short exponential backoff with jitter; after FLEET_ATTEMPTS tries its error is its
result, and every other account's job still runs. Progress is reported to the caller, in
the caller's thread, as jobs finish.

Two kinds of fleet work fit it besides the Twilio-only sweeps. A job may use the database
(`uses_database`: beat's A2P poll records each review as it comes), and then closes its
thread's connection when it ends. And a sweep may have a time budget (`keep_starting`):
no job starts once it says no, and the jobs left are reported as not started, for the
next run to take first. With a concurrency of 1 the jobs run in the caller's thread.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import connections

from telephony import twilio

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

# The backoff without a Retry-After: 0.5 s, 1 s, 2 s ... at most BACKOFF_MAX_SECONDS, full jitter.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
# A Retry-After longer than this is cut to it: a fan-out holds a worker, and beat runs the sweep again.
RETRY_AFTER_MAX_SECONDS = 60.0


@dataclass
class FanOut(Generic[K, T]):
    """What a fan-out got: each account's result or its last TwilioError, and how many
    retryable failures (429s among them) it met and waited out."""

    results: dict[K, T] = field(default_factory=dict)
    errors: dict[K, twilio.TwilioError] = field(default_factory=dict)
    not_started: list[K] = field(default_factory=list)
    retries: int = 0
    rate_limited: int = 0


def retry_wait_seconds(error: twilio.TwilioError, attempt: int) -> float:
    """How long to wait before try `attempt + 1`: the error's Retry-After if Twilio sent one,
    else exponential backoff with full jitter."""
    if error.retry_after is not None:
        return min(error.retry_after, RETRY_AFTER_MAX_SECONDS)
    return random.uniform(0, min(BACKOFF_FIRST_SECONDS * 2**attempt, BACKOFF_MAX_SECONDS))


def accounts_fan_out(
    jobs: Mapping[K, Callable[[], T]],
    *,
    concurrency: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    keep_starting: Callable[[], bool] | None = None,
    uses_database: bool = False,
) -> FanOut[K, T]:
    """Run each account's job, at most `concurrency` (FLEET_CONCURRENCY) at a time; see the
    module docstring. `on_progress(done, total)` is called in the caller's thread."""
    limit = max(1, int(concurrency or settings.FLEET_CONCURRENCY))
    attempts = max(1, int(settings.FLEET_ATTEMPTS))
    outcome: FanOut[K, T] = FanOut()
    in_pool = limit > 1
    _NOT_STARTED = object()

    def attempt_all(job: Callable[[], T]) -> tuple[T | None, twilio.TwilioError | None, int, int]:
        retries = limited = 0
        for attempt in range(attempts):
            try:
                return job(), None, retries, limited
            except twilio.TwilioError as exc:
                if not exc.retryable or attempt == attempts - 1:
                    return None, exc, retries, limited
                retries += 1
                limited += exc.status == 429 or exc.code == twilio.ERR_TOO_MANY_REQUESTS
                sleep(retry_wait_seconds(exc, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def run(job: Callable[[], T]) -> tuple[Any, twilio.TwilioError | None, int, int]:
        if keep_starting is not None and not keep_starting():
            return _NOT_STARTED, None, 0, 0
        try:
            return attempt_all(job)
        finally:
            if uses_database and in_pool:
                connections.close_all()  # this pool thread's own (Django's connections are per thread)

    def record(key: K, ran: tuple[Any, twilio.TwilioError | None, int, int]) -> None:
        result, error, retries, limited = ran
        outcome.retries += retries
        outcome.rate_limited += limited
        if result is _NOT_STARTED:
            outcome.not_started.append(key)
        elif error is not None:
            outcome.errors[key] = error
        else:
            outcome.results[key] = result

    total = len(jobs)
    if not total:
        return outcome
    if not in_pool:
        for done_count, (key, job) in enumerate(jobs.items(), start=1):
            record(key, run(job))
            if on_progress is not None:
                on_progress(done_count, total)
        return outcome
    with ThreadPoolExecutor(max_workers=min(limit, total), thread_name_prefix="fleet") as pool:
        pending: dict[Future, K] = {pool.submit(run, job): key for key, job in jobs.items()}
        done_count = 0
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                record(pending.pop(future), future.result())
                done_count += 1
            if on_progress is not None:
                on_progress(done_count, total)
    return outcome
