"""The sandbox's latency and per-account limits: a Twilio that answers in 150 ms and says 429.

Twilio answers every request after some network and processing time (typically 100-300 ms),
and refuses requests beyond an account's limits with HTTP 429, error 20429 and a Retry-After
header (Twilio's OpenAPI descriptions, e.g. `twilio_knowledge_v2.json`
components.responses.TooManyRequests: "Too many requests. Please retry according to the
Retry-After response header."; https://www.twilio.com/docs/errors/20429). This module lets the
sandbox do the same, so fleet-wide operations can be measured against a realistic Twilio:

- `latency_ms`: every REST request (not the control API) is answered after this delay;
- `account_concurrency`: at most this many requests of one account in flight at once;
- `account_rate`: at most this many requests of one account per second (a sliding second);
- `retry_after`: the seconds the 429 asks to wait (Retry-After's delay-seconds form).

Beyond a limit the request is answered 429 / 20429 (after the same latency) and changes
nothing. An account is the one in a v2010 path (/2010-04-01/Accounts/{AccountSid}/...), else
the one whose credentials were sent (Trust Hub and Messaging act in that account).

Defaults are 0 (no delay, no limit), so tests stay fast; the environment sets others when the
server starts (TWILIO_SANDBOX_LATENCY_MS, TWILIO_SANDBOX_ACCOUNT_CONCURRENCY,
TWILIO_SANDBOX_ACCOUNT_RATE, TWILIO_SANDBOX_RETRY_AFTER), and the control API changes them
at run time (POST /__sandbox__/throttle; GET reads them with the counters; a reset returns to
the environment's values). The counters (requests, 429s, peak concurrency overall and in one
account) are the benchmarks' measure of what a run asked of Twilio. They live in the server
process, as the limits do: one sandbox server serves the app, its workers and the tests.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .responses import ApiError

# Twilio's own sentence for 20429 (its OpenAPI descriptions' example of TooManyRequests).
TOO_MANY_REQUESTS = "Too many requests. Please retry according to the Retry-After response header."
ENV = {
    "latency_ms": "TWILIO_SANDBOX_LATENCY_MS",
    "account_concurrency": "TWILIO_SANDBOX_ACCOUNT_CONCURRENCY",
    "account_rate": "TWILIO_SANDBOX_ACCOUNT_RATE",
    "retry_after": "TWILIO_SANDBOX_RETRY_AFTER",
}


@dataclass(frozen=True)
class Limits:
    """What the sandbox does to every REST request; 0 means no delay / no limit."""

    latency_ms: float = 0.0
    account_concurrency: int = 0
    account_rate: float = 0.0
    retry_after: int = 1

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: Limits | None = None) -> Limits:
        """`base` (the defaults) changed by `values` (keys as the fields); ValueError for a
        value that is not a number, or negative."""
        changes: dict[str, Any] = {}
        for field in fields(cls):
            raw = values.get(field.name)
            if raw is None or raw == "":
                continue
            kind = int if field.type in ("int", int) else float
            try:
                value = kind(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{field.name} must be a number, not {raw!r}") from None
            if value < 0:
                raise ValueError(f"{field.name} must be 0 or more, not {raw!r}")
            changes[field.name] = value
        return replace(base or cls(), **changes)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Limits:
        environ = os.environ if environ is None else environ
        return cls.from_mapping({name: environ.get(variable) for name, variable in ENV.items()})


class Throttle:
    """The limits in force and what they met; thread-safe (the server is threaded)."""

    def __init__(self, limits: Limits | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.defaults = limits or Limits.from_environment()
        self.limits = self.defaults
        self._clock = clock
        self._lock = threading.Lock()
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.in_flight: dict[str, int] = defaultdict(int)
        self.recent: dict[str, deque[float]] = defaultdict(deque)
        self.requests = self.refused = self.total_in_flight = self.peak = self.peak_account = 0

    def set(self, values: Mapping[str, Any]) -> Limits:
        """Change some limits (ValueError for a bad value: then nothing changes)."""
        limits = Limits.from_mapping(values, self.limits)
        with self._lock:
            self.limits = limits
        return limits

    def reset_counters(self) -> None:
        """The counters back to zero (the limits stay)."""
        with self._lock:
            self.requests = self.refused = self.peak_account = 0
            self.peak = self.total_in_flight

    def reset(self) -> None:
        """Back to the environment's limits, counters at zero."""
        with self._lock:
            self.limits = self.defaults
            self._reset_counters()

    def state(self) -> dict[str, Any]:
        """The limits and the counters, for the control API."""
        with self._lock:
            return {
                **asdict(self.limits),
                "requests": self.requests,
                "refused": self.refused,
                "peak_concurrency": self.peak,
                "peak_account_concurrency": self.peak_account,
            }

    def enter(self, account: str) -> None:
        """Count a request of `account` in; ApiError 429 (counted, not in flight) beyond a limit."""
        with self._lock:
            limits, now = self.limits, self._clock()
            self.requests += 1
            recent = self.recent[account]
            while recent and recent[0] <= now - 1.0:
                recent.popleft()
            over_concurrency = limits.account_concurrency and self.in_flight[account] >= limits.account_concurrency
            over_rate = limits.account_rate and len(recent) >= limits.account_rate
            if over_concurrency or over_rate:
                self.refused += 1
                raise ApiError(429, 20429, TOO_MANY_REQUESTS)
            if limits.account_rate:
                recent.append(now)
            self.in_flight[account] += 1
            self.total_in_flight += 1
            self.peak = max(self.peak, self.total_in_flight)
            self.peak_account = max(self.peak_account, self.in_flight[account])

    def leave(self, account: str) -> None:
        """Count a request of `account` (one `enter` let in) out."""
        with self._lock:
            if account not in self.in_flight:
                return  # let in before a reset
            self.in_flight[account] -= 1
            self.total_in_flight -= 1
            if not self.in_flight[account]:
                del self.in_flight[account]

    def delay(self) -> None:
        """Wait the latency (outside the lock: requests wait side by side, as at Twilio)."""
        if self.limits.latency_ms:
            time.sleep(self.limits.latency_ms / 1000)
